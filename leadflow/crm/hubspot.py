"""HubSpot CRM API v3: contacts upserted in batches of up to 100 by email or a unique property.

- upsert: ``POST /crm/v3/objects/contacts/batch/upsert`` with ``{"inputs": [{"idProperty", "id",
  "properties"}]}``; the results carry each contact's ``id`` and ``new`` (created or updated).
- withdraw: ``POST /crm/v3/objects/contacts/batch/update`` by the contact id stored at upsert
  (an erased person has no address left to upsert by), clearing ``hubspot_owner_id``.
- tasks (``owner_task``): ``POST /crm/v3/objects/tasks/batch/create``, each input associated
  with its contact (HUBSPOT_DEFINED type 204) and named by ``objectWriteTraceId``, which the
  results echo; tasks have no upsert key, so a task tried before is first looked up with
  ``POST /crm/v3/objects/tasks/search`` (contact, subject, due time) and only created if absent;
  a withdrawn handoff's task is archived (``POST /crm/v3/objects/tasks/batch/archive``).
- A batch refused as a whole for one invalid record (400 ``VALIDATION_ERROR``) is split until
  the invalid record stands alone; a 207 multi-status answer is read per record.
See docs/crm.md for the documented contract and what the local test server implements.
"""

from __future__ import annotations

from typing import Any

from leadflow.config import HubSpotDestination
from leadflow.crm.base import Outcome, Record, clean_error, split_on_rejection
from leadflow.crm.http import Api, CrmError

UPSERT = "/crm/v3/objects/contacts/batch/upsert"
UPDATE = "/crm/v3/objects/contacts/batch/update"
TASKS = "/crm/v3/objects/tasks/batch/create"
TASK_SEARCH = "/crm/v3/objects/tasks/search"
TASK_ARCHIVE = "/crm/v3/objects/tasks/batch/archive"
TASK_TO_CONTACT = 204     # HUBSPOT_DEFINED association type id: task → contact
OWNER_FIELD = "hubspot_owner_id"
DEFAULT_FIELDS = {"email": "email", "firstname": "first_name", "lastname": "last_name", "phone": "phone",
                  "company": "company", "jobtitle": "job_title", "country": "country",
                  "leadflow_score": "score", "leadflow_grade": "grade", "leadflow_reasons": "top_reasons",
                  "leadflow_handoff_id": "handoff_id", "leadflow_sla_due": "sla_due_at"}
DEFAULT_WITHDRAW = {"hs_lead_status": "UNQUALIFIED"}


def _norm(v: Any) -> str:
    return str(v).strip().casefold()


def _errors_by_key(body: dict[str, Any]) -> dict[str, str]:
    """207 answers: errors name the inputs they concern in ``context`` (ids or values)."""
    out: dict[str, str] = {}
    for e in body.get("errors") or []:
        msg = clean_error(f"{e.get('category', '')}: {e.get('message', '')}".strip(": "))
        for vals in (e.get("context") or {}).values():
            for v in vals if isinstance(vals, list) else [vals]:
                out[_norm(v)] = msg
    return out


def _is_validation(resp: Any) -> bool:
    try:
        return resp.status_code == 400 and resp.json().get("category") == "VALIDATION_ERROR"
    except (ValueError, AttributeError):
        return False


class HubSpot:
    def __init__(self, dest: HubSpotDestination, api: Api) -> None:
        self.dest, self.api = dest, api

    def _read(self, resp: Any, records: list[Record], key_of: Any) -> tuple[Any, list[Outcome] | None]:
        if resp.status_code == 400:
            return resp, None
        if resp.status_code not in (200, 201, 207):
            raise CrmError(f"crm.{self.dest.name}: HubSpot answered HTTP {resp.status_code}")
        body = resp.json()
        found = {_norm(key_of(r)): r for r in body.get("results") or []}
        errs = _errors_by_key(body)
        out = []
        for rec in records:
            res = found.get(_norm(rec.key))
            if res is not None:
                out.append(Outcome(True, str(res["id"]), bool(res.get("new")) if "new" in res else None))
            else:
                out.append(Outcome(False, error=errs.get(_norm(rec.key), "not in HubSpot's results")))
        return resp, out

    def upsert(self, records: list[Record]) -> list[Outcome]:
        prop = self.dest.id_property

        def send(batch: list[Record]) -> tuple[Any, list[Outcome] | None]:
            body = {"inputs": [{"idProperty": prop, "id": r.key, "properties": r.fields} for r in batch]}
            resp = self.api.request("POST", UPSERT, body)
            return self._read(resp, batch, lambda res: (res.get("properties") or {}).get(prop, res.get("id")))

        return split_on_rejection(send, records, _is_validation)

    def withdraw(self, records: list[Record]) -> list[Outcome]:
        def send(batch: list[Record]) -> tuple[Any, list[Outcome] | None]:
            body = {"inputs": [{"id": r.key, "properties": r.fields} for r in batch]}
            resp = self.api.request("POST", UPDATE, body)
            resp, out = self._read(resp, batch, lambda res: res.get("id"))
            return resp, [o if not o.ok else Outcome(True, o.crm_id, False) for o in out] if out else out

        return split_on_rejection(send, records, _is_validation)

    def create_tasks(self, records: list[Record]) -> list[Outcome]:
        """One new task per record (key: its trace id, ``to``: the contact id); never retried
        after an answer that may mean "done" (see Api.request)."""
        def send(batch: list[Record]) -> tuple[Any, list[Outcome] | None]:
            body = {"inputs": [{"objectWriteTraceId": r.key, "properties": r.fields,
                                "associations": [{"to": {"id": r.to}, "types": [
                                    {"associationCategory": "HUBSPOT_DEFINED",
                                     "associationTypeId": TASK_TO_CONTACT}]}]} for r in batch]}
            resp = self.api.request("POST", TASKS, body, idempotent=False)
            resp, out = self._read(resp, batch, lambda res: res.get("objectWriteTraceId"))
            return resp, [Outcome(True, o.crm_id, True) if o.ok else o for o in out] if out else out

        return split_on_rejection(send, records, _is_validation)

    def find_task(self, rec: Record) -> str | None:
        """The id of a task already created for this record (its create answer was lost), or None."""
        filters = [{"propertyName": "associations.contact", "operator": "EQ", "value": rec.to},
                   *({"propertyName": k, "operator": "EQ", "value": rec.fields[k]}
                     for k in ("hs_task_subject", "hs_timestamp", "hubspot_owner_id") if k in rec.fields)]
        resp = self.api.request("POST", TASK_SEARCH, {"filterGroups": [{"filters": filters}],
                                                     "properties": ["hs_task_subject"], "limit": 1})
        if resp.status_code != 200:
            raise CrmError(f"crm.{self.dest.name}: HubSpot task search answered HTTP {resp.status_code}")
        hits = resp.json().get("results") or []
        return str(hits[0]["id"]) if hits else None

    def archive_tasks(self, task_ids: list[str]) -> None:
        """Take the owner's tasks of withdrawn handoffs away (archiving twice is harmless)."""
        for j in range(0, len(task_ids), 100):
            resp = self.api.request("POST", TASK_ARCHIVE, {"inputs": [{"id": i} for i in task_ids[j:j + 100]]})
            if resp.status_code not in (200, 204):
                raise CrmError(f"crm.{self.dest.name}: HubSpot task archive answered HTTP {resp.status_code}")
