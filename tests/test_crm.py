"""CRM push (reverse ETL) against local HubSpot and Salesforce contract servers: first push creates,
re-push sends nothing, a killed push resumes exactly, 429 storms are ridden out, one invalid record
never blocks the rest, withdrawals are pushed, and CRM ids match outcomes back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.cli import main
from leadflow.crm import push
from leadflow.crm.http import CrmAuthError
from leadflow.handoff import queue
from leadflow.handoff import synthetic as syn
from leadflow.store import crm_outbox
from leadflow.store.schema import crm_outbox as t
from leadflow.store.schema import people
from tests.crm_servers import OWNERS, TOKEN, destination, serve
from tests.test_handoff_delivery import D, _config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(request: pytest.FixtureRequest):
    """A local server implementing the documented HubSpot / Salesforce contract (tests/crm_servers.py)."""
    yield from serve(request.param)


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_TEST_TOKEN", TOKEN)


def _seed(engine: sa.Engine, n: int) -> None:
    ids = list(range(1, n + 1))
    ppl = pd.DataFrame({"person_id": ids, "first_name": [f"First{i}" for i in ids],
                        "last_name": [f"Last{i}" for i in ids], "job_title": "VP Sales",
                        "company": [f"Co{i}" for i in ids], "company_size": 120, "country": "DE",
                        "phone_e164": [f"+4930{1000000 + i}" for i in ids],
                        "first_campaign_id": "cmp1", "first_channel": "webinar"})
    with engine.begin() as c:
        syn.add_people(c, ppl)
        syn.add_scores(c, pd.DataFrame({"person_id": ids, "score": [80.0 + i % 10 for i in ids], "grade": "A",
                                        "reasons": [["Requested a demo 2 days ago", "VP decision maker",
                                                     "Mid-market company"]] * n}), D)


def _ctx(make_ctx, engine, tmp_path, srv, job: str = "test", **dest: Any):
    doc = _config(tmp_path)
    doc["crm"] = {"destinations": [destination(srv, **dest)]}
    return make_ctx(doc, engine, D, job=job)


def _outbox(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as c:
        return pd.DataFrame(c.execute(sa.select(t).order_by(t.c.crm_outbox_id)).mappings().all())


def _ready(make_ctx, engine, tmp_path, srv, n: int = 12, **dest: Any):
    _seed(engine, n)
    ctx = _ctx(make_ctx, engine, tmp_path, srv, **dest)
    queue(ctx)
    return ctx


def test_first_push_creates_and_repush_sends_nothing(engine, make_ctx, tmp_path, crm) -> None:
    ctx = _ready(make_ctx, engine, tmp_path, crm, n=12, batch_size=5)
    out = push(ctx)
    st = crm.state
    assert out["pushed"] == 12 and out["created"] == 12 and out["rejected"] == 0 and "warnings" not in out
    assert st.created == 12 and st.updated == 0 and len(st.records) == 12
    assert max(n for _, _, n, _ in st.log) <= 5               # batches never exceed batch_size
    ob = _outbox(engine)
    assert (ob["status"] == "pushed").all() and ob["crm_id"].notna().all() and ob["created_in_crm"].all()
    assert set(ob["crm_id"]) == set(st.records)
    # every field reached the CRM: owner mapped, score, grade and the reasons
    rec = next(iter(st.records.values()))
    if st.kind == "hubspot":
        assert rec["hubspot_owner_id"] in ("9001", "9002") and rec["leadflow_grade"] == "A"
        assert rec["leadflow_reasons"].startswith("Requested a demo 2 days ago; VP decision maker")
        assert rec["leadflow_sla_due"].endswith("Z") and isinstance(rec["leadflow_score"], str)
    else:
        assert rec["OwnerId"].startswith("005") and rec["Leadflow_Grade__c"] == "A"
        assert rec["Leadflow_Id__c"].startswith("lf-") and isinstance(rec["Leadflow_Score__c"], (int, float))
    # re-run, retry (another job id) and a Clear in Airflow: nothing new is sent
    requests = len(st.log)
    again = push(ctx)
    retry = push(_ctx(make_ctx, engine, tmp_path, crm, job="retry", batch_size=5))
    assert again["pushed"] == 0 and retry["pushed"] == 0 and again["enqueued"] == 0
    assert len(st.log) == requests and st.created == 12


def test_same_key_updates_the_same_record(engine, make_ctx, tmp_path, crm) -> None:
    """Upsert semantics: if the outbox were lost and everything re-sent, no second record appears."""
    ctx = _ready(make_ctx, engine, tmp_path, crm, n=6)
    push(ctx)
    first = _outbox(engine).set_index("handoff_id")["crm_id"]
    with engine.begin() as c:
        c.execute(sa.delete(t))
    out = push(ctx)
    assert out["pushed"] == 6 and out["created"] == 0
    assert crm.state.created == 6 and crm.state.updated == 6 and len(crm.state.records) == 6
    assert _outbox(engine).set_index("handoff_id")["crm_id"].equals(first)


def test_killed_push_resumes_exactly(engine, make_ctx, tmp_path, crm) -> None:
    """kill -9 in the middle of a push; the next run pushes exactly the rest, nothing twice."""
    n = 30
    ctx = _ready(make_ctx, engine, tmp_path, crm, n=n, batch_size=3, max_concurrency=1,
                 claim_lease_seconds=1)
    crm.state.delay = 0.25
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEADFLOW_CONFIG": str(ctx.settings.config_path),
           "LEADFLOW_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    proc = subprocess.Popen([sys.executable, "-m", "leadflow", "crm", "push", "--date", D.isoformat()],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = int((_outbox(engine).get("status", pd.Series(dtype=object)) == "pushed").sum())
        if done >= 9:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = _outbox(engine)
    pushed_before = int((before["status"] == "pushed").sum())
    assert 9 <= pushed_before < n, "the push was not killed mid-way"
    assert set(before["status"]) <= {"pushed", "sending", "pending"}
    crm.state.delay = 0.0
    time.sleep(1.1)                                  # the killed run's claim lease runs out
    out = push(ctx)
    assert out["pushed"] == n - pushed_before        # exactly the rest
    after = _outbox(engine)
    assert (after["status"] == "pushed").all() and after["crm_id"].nunique() == n
    st = crm.state
    assert st.created == n and len(st.records) == n  # no CRM record twice
    # the rows pushed before the kill were not sent again
    again_keys = st.updated                          # only the in-flight batch may be re-sent (as updates)
    assert again_keys <= 3


def test_429_storm_is_ridden_out(engine, make_ctx, tmp_path, crm) -> None:
    ctx = _ready(make_ctx, engine, tmp_path, crm, n=20, batch_size=5, max_concurrency=2, max_retries=8)
    crm.state.throttle(6, 1)
    t0 = time.monotonic()
    out = push(ctx)
    assert out["pushed"] == 20 and out["failed"] == 0
    assert out["destinations"][f"{crm.state.kind}_local"]["throttled"] == 6
    assert time.monotonic() - t0 >= 1.0              # Retry-After was honoured, not hammered
    assert sum(1 for *_, s in crm.state.log if s == 429) == 6
    assert crm.state.created == 20


def test_retry_budget_spent_leaves_rows_for_the_next_run(engine, make_ctx, tmp_path, crm) -> None:
    ctx = _ready(make_ctx, engine, tmp_path, crm, n=4, retry_budget_seconds=1)
    crm.state.throttle(1000, 5)
    out = push(ctx)
    assert out["failed"] == 4 and out["pushed"] == 0
    assert "retry budget" in out["warnings"][0] and TOKEN not in out["warnings"][0]
    assert set(_outbox(engine)["status"]) == {"failed"}
    crm.state.throttle(0)
    assert push(ctx)["pushed"] == 4 and crm.state.created == 4


def test_one_invalid_record_is_reported_without_blocking_the_rest(engine, make_ctx, tmp_path, crm,
                                                                 capsys, monkeypatch) -> None:
    _seed(engine, 10)
    with engine.begin() as c:   # HubSpot refuses the address, Salesforce the missing LastName
        c.execute(people.update().where(people.c.person_id == 4)
                  .values(email_norm="broken@@example..test", last_name=None))
    ctx = _ctx(make_ctx, engine, tmp_path, crm, batch_size=10)
    queue(ctx)
    from leadflow.monitor import run_step
    out = run_step(ctx, "push_crm", push)
    assert out["pushed"] == 9 and out["rejected"] == 1
    assert crm.state.created == 9
    ob = _outbox(engine).set_index("person_id")
    assert ob.loc[4, "status"] == "rejected"
    err = ob.loc[4, "error"]
    assert ("INVALID_EMAIL" in err) if crm.state.kind == "hubspot" else ("REQUIRED_FIELD_MISSING" in err)
    assert "broken@@" not in err                     # the CRM echoes the value: scrubbed
    assert "1 record(s) rejected" in out["warnings"][0]
    # a re-run does not retry a rejected record (the CRM would say no again)
    assert push(ctx)["pushed"] == 0
    monkeypatch.setenv("LEADFLOW_CONFIG", str(ctx.settings.config_path))
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["crm", "status"]) == 0
    shown = capsys.readouterr().out
    assert "rejected" in shown and ("INVALID_EMAIL" in shown or "REQUIRED_FIELD_MISSING" in shown)
    assert main(["status"]) == 0
    assert "1 record(s) rejected" in capsys.readouterr().out


def test_withdrawals_are_pushed(engine, make_ctx, tmp_path, crm) -> None:
    ctx = _ready(make_ctx, engine, tmp_path, crm, n=6)
    push(ctx)
    ids = _outbox(engine).set_index("person_id")["crm_id"]
    with engine.begin() as c:   # 2 opts out; 3 is erased (address blanked): withdrawn by CRM id
        c.execute(people.update().where(people.c.person_id == 2).values(opt_out=True))
        c.execute(people.update().where(people.c.person_id == 3)
                  .values(erased_at=D, email_norm=None, first_name=None, last_name=None))
    out = push(ctx)
    assert out["withdrawn"] == 2 and out["pushed"] == 0
    st = crm.state
    for pid in (2, 3):
        rec = st.records[ids[pid]]
        if st.kind == "hubspot":
            assert rec["hubspot_owner_id"] == "" and rec["hs_lead_status"] == "UNQUALIFIED"
        else:
            assert rec["HasOptedOutOfEmail"] is True and rec["DoNotCall"] is True
    assert st.records[ids[1]].get("hs_lead_status", st.records[ids[1]].get("DoNotCall")) is None
    assert st.created == 6 and push(ctx)["withdrawn"] == 0          # once


def test_opt_out_before_the_push_is_never_sent(engine, make_ctx, tmp_path, crm) -> None:
    ctx = _ready(make_ctx, engine, tmp_path, crm, n=4)
    with engine.begin() as c:
        c.execute(people.update().where(people.c.person_id == 1).values(do_not_contact=True))
    out = push(ctx)
    assert out["pushed"] == 3 and crm.state.created == 3
    assert crm.state.created == 3 and 1 not in set(_outbox(engine)["person_id"])


def test_wrong_token_fails_once_without_showing_it(engine, make_ctx, tmp_path, crm, monkeypatch, caplog) -> None:
    ctx = _ready(make_ctx, engine, tmp_path, crm, n=6, batch_size=2, max_concurrency=1)
    monkeypatch.setenv("CRM_TEST_TOKEN", "wrong-token-123456")
    caplog.set_level("DEBUG")
    with pytest.raises(CrmAuthError) as e:
        push(ctx)
    assert "HTTP 401" in str(e.value) and "wrong-token" not in str(e.value)
    assert "wrong-token" not in caplog.text and TOKEN not in caplog.text
    assert len(crm.state.log) == 1                   # stops at the first refusal
    assert crm.state.created == 0
    monkeypatch.setenv("CRM_TEST_TOKEN", TOKEN)
    assert push(ctx)["pushed"] == 6


def test_servers_enforce_batch_limits_and_auth(crm) -> None:
    import requests
    kind = crm.state.kind
    h = {"Authorization": f"Bearer {TOKEN}"}
    if kind == "hubspot":
        body = {"inputs": [{"idProperty": "email", "id": f"p{i}@x.test", "properties": {}} for i in range(101)]}
        r = requests.post(crm.url + "/crm/v3/objects/contacts/batch/upsert", json=body, headers=h, timeout=5)
        r2 = requests.post(crm.url + "/crm/v3/objects/contacts/batch/upsert", json=body)
    else:
        body = {"allOrNone": False, "records": [{"attributes": {"type": "Lead"}, "Leadflow_Id__c": f"lf-{i}",
                                                 "LastName": "x", "Company": "y"} for i in range(201)]}
        path = "/services/data/v62.0/composite/sobjects/Lead/Leadflow_Id__c"
        r = requests.patch(crm.url + path, json=body, headers=h, timeout=5)
        r2 = requests.patch(crm.url + path, json=body)
    assert r.status_code == 400 and r2.status_code == 401
    assert crm.state.created == 0


def test_config_refuses_batches_above_the_vendor_limit() -> None:
    from leadflow import config as cfg
    from leadflow.errors import ConfigError
    with pytest.raises(ConfigError, match=r"crm.destinations\[0:hs\].batch_size"):
        cfg.parse({"crm": {"destinations": [{"name": "hs", "type": "hubspot", "base_url": "http://x",
                                             "batch_size": 101}]}})
    with pytest.raises(ConfigError, match="batch_size"):
        cfg.parse({"crm": {"destinations": [{"name": "sf", "type": "salesforce", "base_url": "http://x",
                                             "batch_size": 201}]}})


def test_lookup_maps_crm_ids_to_handoffs(engine, make_ctx, tmp_path, crm) -> None:
    ctx = _ready(make_ctx, engine, tmp_path, crm, n=5)
    push(ctx)
    ob = _outbox(engine)
    got = crm_outbox.lookup(engine, [*ob["crm_id"].tolist()[:3], "no-such-id", None])
    assert len(got) == 3
    assert got.set_index("crm_id")["handoff_id"].to_dict() == ob.set_index("crm_id")["handoff_id"].iloc[:3].to_dict()
    assert crm_outbox.lookup(engine, ["no-such-id"]).empty
    assert crm_outbox.lookup(engine, ob["crm_id"].tolist(), destination="other").empty


def test_rejected_records_raise_a_warning_alert(monkeypatch) -> None:
    from leadflow.orchestration import alerts, runner
    sent: list[Any] = []
    monkeypatch.setattr(alerts, "notify", lambda a, settings=None: sent.append(a) or {})
    ok = {"task": "push_crm:hs", "run_date": "2026-11-26", "counts": {"pushed": 9, "rejected": 0, "failed": 0}}
    assert not runner.alert_crm_problems(ok, {})
    bad = {**ok, "counts": {"pushed": 9, "rejected": 1, "failed": 0}}
    assert runner.alert_crm_problems(bad, {}) and len(sent) == 1
    assert sent[0].subject() == "[leadflow] WARNING lead_handoff_daily.push_crm:hs run 2026-11-26"
    assert "1 record(s) rejected" in sent[0].text()


def test_demo_server_command_and_cli(engine, make_ctx, tmp_path, monkeypatch, capsys) -> None:
    """What `make crm-demo` does: the documented server command, a push to a disabled destination
    named explicitly (the DAG skips it), `leadflow crm status`."""
    from tests.test_handoff_delivery import _free_port
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "leadflow.crm.fakeserver", "hubspot", "--port", str(port),
                             "--token", "demo-token"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert "contract server on" in proc.stdout.readline()
        _seed(engine, 6)
        doc = _config(tmp_path)
        doc["crm"] = {"destinations": [{"name": "hubspot_local", "type": "hubspot", "enabled": False,
                                        "base_url": f"http://127.0.0.1:{port}", "token_env": "HUBSPOT_TOKEN"}]}
        ctx = make_ctx(doc, engine, D)
        queue(ctx)
        assert push(ctx) == {"destinations": {}}                 # disabled: not pushed by the DAG
        monkeypatch.setenv("HUBSPOT_TOKEN", "demo-token")
        monkeypatch.setenv("LEADFLOW_CONFIG", str(ctx.settings.config_path))
        assert main(["crm", "push", "--destination", "hubspot_local", "--date", D.isoformat()]) == 0
        assert "hubspot_local: 6 pushed (6 created)" in capsys.readouterr().out
        assert main(["crm", "push", "--destination", "hubspot_local", "--date", D.isoformat()]) == 0
        assert "hubspot_local: 0 pushed" in capsys.readouterr().out
        assert main(["crm", "status"]) == 0
        assert "hubspot_local" in capsys.readouterr().out
        assert main(["crm", "push", "--destination", "nope"]) == 2
        assert "no CRM destination named 'nope'" in capsys.readouterr().err
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert "6 record(s), 6 created, 0 updated" in out


# ------------------------------------------------------------------ HubSpot owner tasks (opt-in)
TASKS_PATH = "/crm/v3/objects/tasks/batch/create"


@pytest.fixture
def hubspot():
    yield from serve("hubspot")


def _handoffs(engine: sa.Engine) -> pd.DataFrame:
    from leadflow.store.schema import handoffs
    with engine.connect() as c:
        return pd.DataFrame(c.execute(sa.select(handoffs.c.handoff_id, handoffs.c.owner_rep,
                                                handoffs.c.sla_due_at)).mappings().all()).set_index("handoff_id")


def test_owner_task_once_per_pushed_handoff(engine, make_ctx, tmp_path, hubspot) -> None:
    _seed(engine, 8)
    with engine.begin() as c:   # contact 8 is refused by HubSpot: no contact id, so no task either
        c.execute(people.update().where(people.c.person_id == 8).values(email_norm="broken@@example..test"))
    ctx = _ctx(make_ctx, engine, tmp_path, hubspot, batch_size=3,
               owner_task={"enabled": True, "subject": "Call {company}: grade {grade}"})
    queue(ctx)
    out = push(ctx)
    st = hubspot.state
    assert out["pushed"] == 7 and out["tasks"] == 7 and out["rejected"] == 1
    assert len(st.tasks) == 7 and max(n for _, p, n, _ in st.log if p == TASKS_PATH) <= 3
    assert 8 not in set(_outbox(engine).query("action == 'task'")["person_id"])
    ob = _outbox(engine)
    contacts = ob[ob["action"] == "upsert"].set_index("handoff_id")["crm_id"]
    tasks = ob[ob["action"] == "task"].set_index("handoff_id")
    assert (tasks["status"] == "pushed").all() and set(tasks["crm_id"]) == set(st.tasks)
    hs = _handoffs(engine)
    for hid, task_id in tasks["crm_id"].items():
        t_ = st.tasks[task_id]
        p = t_["properties"]
        assert t_["contacts"] == [contacts[hid]]                         # associated with its contact
        assert p["hubspot_owner_id"] == OWNERS[hs.loc[hid, "owner_rep"]]  # the contact's owner
        due = pd.Timestamp(hs.loc[hid, "sla_due_at"])
        assert int(p["hs_timestamp"]) == int(due.tz_localize("UTC").timestamp() * 1000)   # due at the SLA
        assert p["hs_task_status"] == "NOT_STARTED" and p["hs_task_priority"] == "HIGH"
        assert p["hs_task_subject"].startswith("Call Co") and p["hs_task_subject"].endswith("grade A")
        assert p["hs_task_body"].startswith("Requested a demo 2 days ago; VP decision maker")
        assert "@" not in p["hs_task_body"] and "+4930" not in p["hs_task_body"]
    # a re-run and a retry under another job id create no second task (and send nothing)
    sent = len(st.log)
    assert push(ctx)["tasks"] == 0
    assert push(_ctx(make_ctx, engine, tmp_path, hubspot, job="retry", owner_task={"enabled": True}))["tasks"] == 0
    assert len(st.tasks) == 7 and len(st.log) == sent


def test_owner_task_whose_answer_was_lost_is_found_not_made_twice(engine, make_ctx, tmp_path, hubspot) -> None:
    """A push killed after HubSpot created the tasks but before the ids were stored: the rows are
    taken again (lease over / failed) and each task is found by search instead of re-created."""
    ctx = _ready(make_ctx, engine, tmp_path, hubspot, n=5, owner_task={"enabled": True})
    push(ctx)
    made = _outbox(engine).query("action == 'task'").set_index("handoff_id")["crm_id"]
    with engine.begin() as c:
        c.execute(t.update().where(t.c.action == "task", t.c.handoff_id.in_(made.index[:3].tolist()))
                  .values(status="sending", crm_id=None, claimed_at=crm_outbox.now() - pd.Timedelta(hours=1)))
    out = push(ctx)
    assert out["tasks"] == 3 and len(hubspot.state.tasks) == 5
    assert not any(p == TASKS_PATH for _, p, _, _ in hubspot.state.log[-3:])
    assert _outbox(engine).query("action == 'task'").set_index("handoff_id")["crm_id"].equals(made)


def test_owner_task_is_off_by_default(engine, make_ctx, tmp_path, hubspot) -> None:
    ctx = _ready(make_ctx, engine, tmp_path, hubspot, n=4)
    out = push(ctx)
    assert out["pushed"] == 4 and out["tasks"] == 0 and "tasks_enqueued" not in out["destinations"]["hubspot_local"]
    assert hubspot.state.tasks == {} and not any("tasks" in p for _, p, _, _ in hubspot.state.log)
    assert set(_outbox(engine)["action"]) == {"upsert"}


def test_rejected_owner_task_is_recorded_without_blocking_the_others(engine, make_ctx, tmp_path, hubspot,
                                                                    caplog) -> None:
    ctx = _ready(make_ctx, engine, tmp_path, hubspot, n=6)
    push(ctx)                                    # contacts pushed before tasks were switched on
    ob = _outbox(engine).set_index("person_id")
    del hubspot.state.records[ob.loc[4, "crm_id"]]   # contact 4 deleted (or merged) in HubSpot since
    caplog.set_level("DEBUG")
    out = push(_ctx(make_ctx, engine, tmp_path, hubspot, owner_task={"enabled": True}))
    assert out["tasks"] == 5 and out["rejected"] == 1 and len(hubspot.state.tasks) == 5
    tasks = _outbox(engine).query("action == 'task'").set_index("person_id")
    assert tasks.loc[4, "status"] == "rejected" and "Association target not found" in tasks.loc[4, "error"]
    assert (tasks.drop(index=4)["status"] == "pushed").all()
    assert "1 record(s) rejected" in out["warnings"][0]
    assert "@" not in caplog.text and "First4" not in caplog.text
    assert push(ctx)["tasks"] == 0 and len(hubspot.state.tasks) == 5      # not retried


def test_hubspot_server_tasks_contract(hubspot) -> None:
    import requests
    h = {"Authorization": f"Bearer {TOKEN}"}
    url = hubspot.url + TASKS_PATH
    hubspot.state.records["100001"] = {"email": "a@x.test"}

    def task(owner: str = "9001", to: str = "100001", type_id: int = 204) -> dict[str, Any]:
        return {"properties": {"hs_task_subject": "s", "hs_timestamp": "1764000000000", "hubspot_owner_id": owner,
                               "hs_task_status": "NOT_STARTED"}, "objectWriteTraceId": "x",
                "associations": [{"to": {"id": to}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                                "associationTypeId": type_id}]}]}
    assert requests.post(url, json={"inputs": [task()]}, timeout=5).status_code == 401
    assert requests.post(url, json={"inputs": [task()] * 101}, headers=h, timeout=5).status_code == 400
    for bad, why in ((task(owner="42"), "INVALID_OWNER_ID"), (task(to="999"), "Association target"),
                     (task(type_id=1), "INVALID_ASSOCIATION_TYPE")):
        r = requests.post(url, json={"inputs": [task(), bad]}, headers=h, timeout=5)
        assert r.status_code == 400 and why in r.json()["message"]
    assert hubspot.state.tasks == {}                # a refused batch creates nothing
    hubspot.state.throttle(1, 2)
    r = requests.post(url, json={"inputs": [task()]}, headers=h, timeout=5)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    r = requests.post(url, json={"inputs": [task(), task()]}, headers=h, timeout=5)
    assert r.status_code == 201 and len(hubspot.state.tasks) == 2      # no key: every input is a new task


def test_config_refuses_unknown_task_placeholders() -> None:
    from leadflow import config as cfg
    from leadflow.errors import ConfigError
    with pytest.raises(ConfigError, match=r"owner_task.subject.*\{salary\}"):
        cfg.parse({"crm": {"destinations": [{"name": "hs", "type": "hubspot", "base_url": "http://x",
                                             "owner_task": {"enabled": True, "subject": "Call {salary}"}}]}})


def test_withdrawn_handoff_has_its_owner_task_archived(engine, make_ctx, tmp_path, hubspot) -> None:
    ctx = _ready(make_ctx, engine, tmp_path, hubspot, n=4, owner_task={"enabled": True})
    push(ctx)
    tasks = _outbox(engine).query("action == 'task'").set_index("person_id")["crm_id"]
    with engine.begin() as c:
        c.execute(people.update().where(people.c.person_id == 2).values(opt_out=True))
    out = push(ctx)
    assert out["withdrawn"] == 1 and out["tasks"] == 0
    assert set(hubspot.state.tasks) == set(tasks.drop(index=2))      # only the opted-out lead's task is gone
    assert push(ctx)["withdrawn"] == 0 and len(hubspot.state.tasks) == 3
