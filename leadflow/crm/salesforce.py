"""Salesforce REST API: Lead records upserted by an External ID field, up to 200 per request.

- upsert: ``PATCH /services/data/vXX.X/composite/sobjects/Lead/<ExternalIdField>`` with
  ``{"allOrNone": false, "records": [...]}``; the answer lists, in input order, each record's
  ``id``, ``success``, ``created`` and ``errors`` (so one invalid Lead never blocks the others).
- withdraw: ``PATCH /services/data/vXX.X/composite/sobjects`` updating by the Lead ``Id`` stored
  at upsert: owner set to ``default_owner_id`` (a queue) when given, ``HasOptedOutOfEmail`` and
  ``DoNotCall`` set.
See docs/crm.md for the documented contract and what the local test server implements.
"""

from __future__ import annotations

from typing import Any

from leadflow.config import SalesforceDestination
from leadflow.crm.base import Outcome, Record, clean_error, split_on_rejection
from leadflow.crm.http import Api, CrmError

OWNER_FIELD = "OwnerId"
DEFAULT_FIELDS = {"FirstName": "first_name", "LastName": "last_name", "Email": "email", "Phone": "phone",
                  "Company": "company", "Title": "job_title", "Country": "country",
                  "Leadflow_Score__c": "score", "Leadflow_Grade__c": "grade",
                  "Leadflow_Reasons__c": "top_reasons", "Leadflow_Handoff_Id__c": "handoff_id"}
DEFAULT_WITHDRAW = {"HasOptedOutOfEmail": True, "DoNotCall": True}


def _errors(res: dict[str, Any]) -> str:
    errs = res.get("errors") or []
    return clean_error("; ".join(f"{e.get('statusCode', '')}: {e.get('message', '')}"
                                 + (f" ({', '.join(e['fields'])})" if e.get("fields") else "")
                                 for e in errs) or "rejected")


class Salesforce:
    def __init__(self, dest: SalesforceDestination, api: Api) -> None:
        self.dest, self.api = dest, api
        self.prefix = f"/services/data/v{dest.api_version}"

    def _send(self, path: str, records: list[dict[str, Any]], batch: list[Record],
              created_default: bool | None) -> tuple[Any, list[Outcome] | None]:
        resp = self.api.request("PATCH", path, {"allOrNone": False, "records": records})
        if resp.status_code == 400:
            return resp, None
        if resp.status_code != 200:
            raise CrmError(f"crm.{self.dest.name}: Salesforce answered HTTP {resp.status_code}")
        body = resp.json()
        if not isinstance(body, list) or len(body) != len(batch):
            raise CrmError(f"crm.{self.dest.name}: Salesforce answered {len(body)} results for "
                           f"{len(batch)} records")
        return resp, [Outcome(True, str(r["id"]), bool(r.get("created", created_default)))
                      if r.get("success") else Outcome(False, str(r["id"]) if r.get("id") else None,
                                                       error=_errors(r))
                      for r in body]

    def upsert(self, records: list[Record]) -> list[Outcome]:
        ext = self.dest.external_id_field

        def send(batch: list[Record]) -> tuple[Any, list[Outcome] | None]:
            recs = [{"attributes": {"type": "Lead"}, **r.fields, ext: r.key} for r in batch]
            return self._send(f"{self.prefix}/composite/sobjects/Lead/{ext}", recs, batch, None)

        return split_on_rejection(send, records, lambda resp: False)

    def withdraw(self, records: list[Record]) -> list[Outcome]:
        def send(batch: list[Record]) -> tuple[Any, list[Outcome] | None]:
            recs = [{"attributes": {"type": "Lead"}, "id": r.key, **r.fields} for r in batch]
            return self._send(f"{self.prefix}/composite/sobjects", recs, batch, False)

        return split_on_rejection(send, records, lambda resp: False)
