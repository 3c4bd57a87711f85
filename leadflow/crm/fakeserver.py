"""Local servers implementing the documented parts of the HubSpot and Salesforce APIs we use.

For tests (tests/crm_servers.py) and ``make crm-demo``; never for production. They enforce what
the vendors document for these endpoints: bearer auth, batch limits, field validation (unknown
property, invalid email, unknown owner, required fields), 429 with Retry-After on demand, and
upsert semantics (the same key always lands on the same record). docs/crm.md lists the parts
implemented, with links to the vendors' pages.

    python -m leadflow.crm.fakeserver hubspot --port 8765 --token demo-token
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HUBSPOT_PROPERTIES = {"email", "firstname", "lastname", "phone", "company", "jobtitle", "country",
                      "hubspot_owner_id", "hs_lead_status", "lifecyclestage", "leadflow_id",
                      "leadflow_score", "leadflow_grade", "leadflow_reasons", "leadflow_handoff_id",
                      "leadflow_sla_due"}
HUBSPOT_UNIQUE = {"email", "leadflow_id"}
TASK_PROPERTIES = {"hs_task_subject", "hs_task_body", "hs_timestamp", "hubspot_owner_id", "hs_task_status",
                   "hs_task_priority", "hs_task_type"}
TASK_ENUMS = {"hs_task_status": {"NOT_STARTED", "COMPLETED"}, "hs_task_priority": {"LOW", "MEDIUM", "HIGH"},
              "hs_task_type": {"TODO", "CALL", "EMAIL"}}
TASK_TO_CONTACT = 204      # HUBSPOT_DEFINED association type: task → contact
LEAD_FIELDS = {"FirstName", "LastName", "Email", "Phone", "Company", "Title", "Country", "OwnerId",
               "Status", "LeadSource", "HasOptedOutOfEmail", "DoNotCall", "Leadflow_Id__c",
               "Leadflow_Score__c", "Leadflow_Grade__c", "Leadflow_Reasons__c", "Leadflow_Handoff_Id__c"}
LEAD_EXTERNAL_IDS = {"Leadflow_Id__c"}


@dataclass
class State:
    """What the server holds and saw, for assertions (thread-safe through ``lock``)."""
    kind: str
    token: str
    owners: set[str] = field(default_factory=set)
    delay: float = 0.0                                  # seconds per request (to kill a push mid-way)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)   # CRM id -> fields
    keys: dict[str, str] = field(default_factory=dict)                 # upsert key -> CRM id
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)     # HubSpot task id -> properties, contacts
    created: int = 0
    updated: int = 0
    log: list[tuple[str, str, int, int]] = field(default_factory=list)  # method, path, records, status
    throttle_left: int = 0
    retry_after: str = "1"
    lock: threading.RLock = field(default_factory=threading.RLock)
    _seq: int = 0

    def throttle(self, n: int, retry_after: float | str = 1) -> None:
        """Answer the next ``n`` requests with 429 and this Retry-After."""
        with self.lock:
            self.throttle_left, self.retry_after = n, str(retry_after)

    def new_id(self) -> str:
        self._seq += 1
        return str(100000 + self._seq) if self.kind == "hubspot" else f"00Q{self._seq:015d}"


class _Handler(BaseHTTPRequestHandler):
    server: Any
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:   # quiet: tests read State.log instead
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if status == 204 else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        st: State = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if st.delay:
            time.sleep(st.delay)
        if self.headers.get("Authorization") != f"Bearer {st.token}":
            if st.kind == "hubspot":
                return self._log(method, 0, 401, {"status": "error", "category": "INVALID_AUTHENTICATION",
                                                  "message": "Authentication credentials not found."})
            return self._log(method, 0, 401, [{"message": "Session expired or invalid",
                                               "errorCode": "INVALID_SESSION_ID"}])
        with st.lock:
            if st.throttle_left > 0:
                st.throttle_left -= 1
                body = ({"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING",
                         "message": "You have reached your ten_secondly_rolling limit."}
                        if st.kind == "hubspot" else
                        [{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
                return self._log(method, 0, 429, body, {"Retry-After": st.retry_after})
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return self._log(method, 0, 400, {"status": "error", "category": "VALIDATION_ERROR",
                                              "message": "Invalid input JSON"})
        route = _hubspot if st.kind == "hubspot" else _salesforce
        with st.lock:
            status, out, count = route(st, method, self.path, body)
        self._log(method, count, status, out)

    def _log(self, method: str, count: int, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        st: State = self.server.state
        with st.lock:
            st.log.append((method, self.path, count, status))
        self._send(status, body, headers)

    def do_POST(self) -> None:  # noqa: N802 - http.server hook names
        self._handle("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")


# ------------------------------------------------------------------------------------- HubSpot
def _hs_error(msg: str, context: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"status": "error", "category": "VALIDATION_ERROR", "message": msg,
            "errors": [{"message": msg, "context": context or {}}]}


def _hs_props_invalid(st: State, props: Any) -> str | None:
    if not isinstance(props, dict):
        return "properties must be an object"
    unknown = sorted(set(props) - HUBSPOT_PROPERTIES)
    if unknown:
        return f"Property values were not valid: PROPERTY_DOESNT_EXIST {', '.join(unknown)}"
    if "email" in props and not EMAIL.match(str(props["email"])):
        return f"Property values were not valid: INVALID_EMAIL {props['email']}"
    owner = props.get("hubspot_owner_id")
    if owner not in (None, "") and st.owners and str(owner) not in st.owners:
        return f"Property values were not valid: INVALID_OWNER_ID {owner}"
    return None


def _task_invalid(st: State, i: Any) -> str | None:
    """Why one batch/create input is refused (HubSpot refuses the whole batch), or None."""
    props = i.get("properties") if isinstance(i, dict) else None
    if not isinstance(props, dict):
        return "properties must be an object"
    unknown = sorted(set(props) - TASK_PROPERTIES)
    if unknown:
        return f"Property values were not valid: PROPERTY_DOESNT_EXIST {', '.join(unknown)}"
    if not str(props.get("hs_timestamp") or "").strip():
        return "Property values were not valid: REQUIRED_PROPERTY hs_timestamp"
    for k, allowed in TASK_ENUMS.items():
        if k in props and props[k] not in allowed:
            return f"Property values were not valid: INVALID_OPTION {k}"
    owner = props.get("hubspot_owner_id")
    if owner not in (None, "") and st.owners and str(owner) not in st.owners:
        return f"Property values were not valid: INVALID_OWNER_ID {owner}"
    for a in i.get("associations") or []:
        types = a.get("types") or []
        if not types or any(t.get("associationCategory") != "HUBSPOT_DEFINED"
                            or t.get("associationTypeId") != TASK_TO_CONTACT for t in types):
            return "INVALID_ASSOCIATION_TYPE: expected HUBSPOT_DEFINED 204 (task to contact)"
        to = str((a.get("to") or {}).get("id") or "")
        if to not in st.records:
            return f"Association target not found: contact {to}"
    return None


def _tasks(st: State, path: str, body: Any) -> tuple[int, Any, int]:
    """``batch/create`` (no upsert key: every input is a new task), ``batch/archive`` and
    ``search`` by contact and property equality (how the push finds a task whose create answer
    was lost)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    if path.endswith("/search"):
        filters = [f for g in (body or {}).get("filterGroups") or [] for f in g.get("filters") or []]
        if not filters or any(f.get("operator") != "EQ" for f in filters):
            return 400, _hs_error("filters: only EQ filters are implemented here"), 0
        hits = [tid for tid, t in st.tasks.items()
                if all((str(f["value"]) in t["contacts"]) if f["propertyName"] == "associations.contact"
                       else str(t["properties"].get(f["propertyName"])) == str(f["value"]) for f in filters)]
        found = [{"id": tid, "properties": dict(st.tasks[tid]["properties"])} for tid in sorted(hits)]
        return 200, {"total": len(found), "results": found[:int((body or {}).get("limit") or 10)]}, 0
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not inputs:
        return 400, _hs_error("inputs: must not be empty"), 0
    if len(inputs) > 100:
        return 400, _hs_error(f"Batch input size {len(inputs)} exceeds the limit of 100"), len(inputs)
    if path.endswith("/archive"):   # 204 even for ids already archived or unknown
        for i in inputs:
            st.tasks.pop(str(i.get("id") if isinstance(i, dict) else ""), None)
        return 204, None, len(inputs)
    for i in inputs:
        bad = _task_invalid(st, i)
        if bad:
            trace = str(i.get("objectWriteTraceId") or "") if isinstance(i, dict) else ""
            return 400, _hs_error(bad, {"objectWriteTraceId": [trace]}), len(inputs)
    results: list[dict[str, Any]] = []
    for i in inputs:
        tid = st.new_id()
        st.tasks[tid] = {"properties": dict(i["properties"]),
                         "contacts": [str(a["to"]["id"]) for a in i.get("associations") or []]}
        results.append({"id": tid, "properties": dict(i["properties"]), "createdAt": now, "updatedAt": now,
                        "archived": False, "objectWriteTraceId": i.get("objectWriteTraceId")})
    return 201, {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}, len(inputs)


def _hubspot(st: State, method: str, path: str, body: Any) -> tuple[int, Any, int]:
    if method == "POST" and path in ("/crm/v3/objects/tasks/batch/create", "/crm/v3/objects/tasks/search",
                                     "/crm/v3/objects/tasks/batch/archive"):
        return _tasks(st, path, body)
    m = re.fullmatch(r"/crm/v3/objects/contacts/(\w+)", path.split("?")[0])
    if method == "GET" and m:
        rec = st.records.get(m.group(1))
        return (200, {"id": m.group(1), "properties": rec}, 0) if rec else (404, {"status": "error",
                                                                                 "category": "OBJECT_NOT_FOUND"}, 0)
    if method != "POST" or path not in ("/crm/v3/objects/contacts/batch/upsert",
                                        "/crm/v3/objects/contacts/batch/update"):
        return 404, {"status": "error", "message": f"no route {method} {path}"}, 0
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not inputs:
        return 400, _hs_error("inputs: must not be empty"), 0
    if len(inputs) > 100:
        return 400, _hs_error(f"Batch input size {len(inputs)} exceeds the limit of 100"), len(inputs)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    if path.endswith("/update"):
        results, errors = [], []
        for i in inputs:
            bad = _hs_props_invalid(st, i.get("properties"))
            if bad:
                return 400, _hs_error(bad, {"id": [str(i.get("id"))]}), len(inputs)
        for i in inputs:
            cid = str(i.get("id"))
            if cid not in st.records:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "message": "Object not found", "context": {"ids": [cid]}})
                continue
            st.records[cid].update(i["properties"])
            st.updated += 1
            results.append({"id": cid, "properties": dict(st.records[cid]), "updatedAt": now, "archived": False})
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
        if errors:
            out.update(errors=errors, numErrors=len(errors))
        return (207 if errors else 200), out, len(inputs)
    seen: set[str] = set()
    for i in inputs:   # the whole batch is validated first: one invalid input refuses the batch
        prop = i.get("idProperty")
        if prop not in HUBSPOT_UNIQUE:
            return 400, _hs_error(f"idProperty {prop!r} is not a unique property"), len(inputs)
        key = str(i.get("id", "")).strip().lower() if prop == "email" else str(i.get("id", ""))
        if not key:
            return 400, _hs_error("id: must not be empty"), len(inputs)
        if prop == "email" and not EMAIL.match(key):
            return 400, _hs_error(f"Property values were not valid: INVALID_EMAIL {key}", {"id": [key]}), len(inputs)
        if (prop, key) in seen:
            return 400, _hs_error("Duplicate IDs found in batch input", {"ids": [key]}), len(inputs)
        seen.add((prop, key))  # type: ignore[arg-type]
        bad = _hs_props_invalid(st, i.get("properties"))
        if bad:
            return 400, _hs_error(bad, {"id": [key]}), len(inputs)
    results = []
    for i in inputs:
        prop = i["idProperty"]
        key = str(i["id"]).strip().lower() if prop == "email" else str(i["id"])
        found = st.keys.get(f"{prop}:{key}")
        new = found is None
        cid = st.new_id() if found is None else found
        if new:
            st.keys[f"{prop}:{key}"] = cid
            st.records[cid] = {prop: key}
            st.created += 1
        else:
            st.updated += 1
        st.records[cid].update({k: v for k, v in i["properties"].items()})
        results.append({"id": cid, "properties": dict(st.records[cid]), "createdAt": now, "updatedAt": now,
                        "archived": False, "new": new})
    return 200, {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}, len(inputs)


# ---------------------------------------------------------------------------------- Salesforce
def _sf_fail(code: str, msg: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"success": False, "errors": [{"statusCode": code, "message": msg, "fields": fields or []}]}


def _sf_check(st: State, rec: dict[str, Any], creating: bool) -> dict[str, Any] | None:
    if creating:
        missing = [f for f in ("LastName", "Company") if not rec.get(f)]
        if missing:
            return _sf_fail("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                            missing)
    if rec.get("Email") and not EMAIL.match(str(rec["Email"])):
        return _sf_fail("INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {rec['Email']}", ["Email"])
    owner = rec.get("OwnerId")
    if owner and st.owners and owner not in st.owners:
        return _sf_fail("INVALID_CROSS_REFERENCE_KEY", "Owner ID: owner cannot be blank", ["OwnerId"])
    return None


def _salesforce(st: State, method: str, path: str, body: Any) -> tuple[int, Any, int]:
    p = path.split("?")[0]
    m = re.fullmatch(r"/services/data/v\d+\.\d/sobjects/Lead/(\w+)", p)
    if method == "GET" and m:
        rec = st.records.get(m.group(1))
        return (200, {"Id": m.group(1), **rec}, 0) if rec else (404, [{"errorCode": "NOT_FOUND",
                                                                       "message": "not found"}], 0)
    m_up = re.fullmatch(r"/services/data/v\d+\.\d/composite/sobjects/Lead/(\w+)", p)
    m_upd = re.fullmatch(r"/services/data/v\d+\.\d/composite/sobjects", p)
    if method != "PATCH" or not (m_up or m_upd):
        return 404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], 0
    recs = body.get("records") if isinstance(body, dict) else None
    if not isinstance(recs, list) or not recs:
        return 400, [{"errorCode": "JSON_PARSER_ERROR", "message": "records: required"}], 0
    if len(recs) > 200:
        return 400, [{"errorCode": "EXCEEDED_ID_LIMIT", "message": "record limit reached. cannot submit more "
                      "than 200 records into this call"}], len(recs)
    ext = m_up.group(1) if m_up else None
    if ext is not None and ext not in LEAD_EXTERNAL_IDS:
        return 400, [{"errorCode": "NOT_FOUND", "message": f"Provided external ID field does not exist or is "
                      f"not accessible: {ext}"}], len(recs)
    for r in recs:
        if (r.get("attributes") or {}).get("type") != "Lead":
            return 400, [{"errorCode": "INVALID_TYPE", "message": "attributes.type must be Lead"}], len(recs)
        unknown = sorted(set(r) - LEAD_FIELDS - {"attributes", "id", "Id"})
        if unknown:
            return 400, [{"errorCode": "INVALID_FIELD",
                          "message": f"No such column '{unknown[0]}' on sobject of type Lead"}], len(recs)
    out = []
    for r in recs:
        fields = {k: v for k, v in r.items() if k not in ("attributes", "id", "Id")}
        if ext is not None:
            key = str(r.get(ext) or "")
            if not key:
                out.append(_sf_fail("MISSING_ARGUMENT", f"{ext} not specified", [ext]))
                continue
            cid = st.keys.get(key)
            bad = _sf_check(st, fields if cid is None else {**st.records[cid], **fields}, cid is None)
            if bad:
                out.append({"id": cid, **bad} if cid else bad)
                continue
            created = cid is None
            if cid is None:
                cid = st.new_id()
                st.keys[key] = cid
                st.records[cid] = {}
                st.created += 1
            else:
                st.updated += 1
            st.records[cid].update(fields)
            out.append({"id": cid, "success": True, "errors": [], "created": created})
        else:
            cid = str(r.get("id") or r.get("Id") or "")
            if cid not in st.records:
                out.append(_sf_fail("ENTITY_IS_DELETED", "entity is deleted"))
                continue
            bad = _sf_check(st, {**st.records[cid], **fields}, False)
            if bad:
                out.append({"id": cid, **bad})
                continue
            st.records[cid].update(fields)
            st.updated += 1
            out.append({"id": cid, "success": True, "errors": []})
    return 200, out, len(recs)


class FakeCrm:
    """A local CRM server on 127.0.0.1 in a background thread: ``with FakeCrm("hubspot") as s:``."""

    def __init__(self, kind: str, token: str = "test-token", port: int = 0, owners: set[str] | None = None,
                 delay: float = 0.0) -> None:
        self.state = State(kind, token, set(owners or ()), delay)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.state = self.state  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FakeCrm:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeCrm:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Local HubSpot/Salesforce contract server (tests and demo only).")
    ap.add_argument("kind", choices=["hubspot", "salesforce"])
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--token", default="demo-token")
    ap.add_argument("--owners", default="", help="comma-separated CRM user ids that exist (empty: any)")
    a = ap.parse_args(argv)
    srv = FakeCrm(a.kind, a.token, a.port, {o for o in a.owners.split(",") if o})

    def _stop(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)   # `kill PID` from make stops it cleanly
    print(f"local {a.kind} contract server on {srv.url} (Ctrl-C to stop)", flush=True)
    try:
        srv.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.httpd.server_close()
        st = srv.state
        print(f"{len(st.records)} record(s), {st.created} created, {st.updated} updated; "
              f"{len(st.tasks)} task(s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
