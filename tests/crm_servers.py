"""Local HubSpot and Salesforce contract servers for the CRM push tests (started on 127.0.0.1).

The servers themselves live in ``leadflow.crm.fakeserver`` because ``make crm-demo`` starts
the same HubSpot server; this module gives tests a server per kind and a destination config.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from leadflow.crm.fakeserver import FakeCrm

TOKEN = "s3cr3t-t0ken-value"
OWNERS = {"ann": "9001", "bob": "9002"}
SF_OWNERS = {"ann": "005000000000001AAA", "bob": "005000000000002AAA"}


def serve(kind: str) -> Iterator[FakeCrm]:
    """A fresh local CRM server of this kind, knowing the test reps' owner ids (fixture body)."""
    owners = set((OWNERS if kind == "hubspot" else SF_OWNERS).values())
    with FakeCrm(kind, TOKEN, owners=owners) as srv:
        yield srv


def destination(srv: FakeCrm, **over: Any) -> dict[str, Any]:
    """A crm.destinations entry for the server (token from $CRM_TEST_TOKEN)."""
    kind = srv.state.kind
    d: dict[str, Any] = {"name": f"{kind}_local", "type": kind, "base_url": srv.url, "token_env": "CRM_TEST_TOKEN",
                         "owners": OWNERS if kind == "hubspot" else SF_OWNERS,
                         "backoff_seconds": 0.05, "retry_budget_seconds": 20}
    if kind == "hubspot":
        d["fields"] = {"leadflow_sla_due": "sla_due_at"}
    d.update(over)
    return d
