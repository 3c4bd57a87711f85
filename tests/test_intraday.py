"""Speed to lead (leadflow.intraday) on SQLite and PostgreSQL: the intraday path lands a form
submission and queues and notifies its rep once; the daily run finds the person already queued;
an intraday and a daily run overlapping in two processes keep caps and one handoff per person;
opted-out hand-raisers are never notified; working hours; SLA from the request; outbox retries."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.handoff import enqueue
from leadflow.handoff import synthetic as syn
from leadflow.intraday import IntradayContext, alerts, receiver
from leadflow.intraday import run as run_intraday
from leadflow.store import db
from leadflow.store.schema import handoff_notifications, handoffs, people
from tests.test_orchestration import free_port
from tests.test_orchestration import smtp_server as _smtp_fixture  # noqa: F401 - fixture, used below

ROOT = Path(__file__).resolve().parents[1]
MON = datetime(2026, 11, 30, 10, 0)        # a Monday, 10:00 UTC
SAT = datetime(2026, 11, 28, 10, 0)        # a Saturday


def config(tmp_path: Path, smtp_port: int = 25, cap: int = 100, **stl: Any) -> dict[str, Any]:
    landing = tmp_path / "landing"
    s = {"enabled": True, "sources": ["web_forms", "form_touches"], "channels": ["email"],
         "working_hours": {"start_hour": 8, "end_hour": 18}}
    s.update(stl)
    return {
        "paths": {"data_dir": str(tmp_path / "data"), "reports_dir": str(tmp_path / "reports"),
                  "lists_dir": str(tmp_path / "lists")},
        "sources": [
            {"name": "web_forms", "owner": "web", "kind": "inbound_leads", "schedule": None,
             "record_id": "hash",
             "connector": {"type": "file", "path": str(landing / "forms"), "pattern": "form_*.jsonl",
                           "format": "jsonl", "min_age_seconds": 0, "dated_names": False},
             "mapping": {"submission_id": "source_record_id", "email": "email", "first_name": "first_name",
                         "last_name": "last_name", "company": "company", "job_title": "job_title",
                         "company_size": "company_size", "country": "country", "created_at": "created_at",
                         "opt_out": "opt_out"}},
            {"name": "form_touches", "owner": "web", "kind": "touches", "schedule": None,
             "record_source": "web_forms",
             "connector": {"type": "file", "path": str(landing / "touches"), "pattern": "touch_*.jsonl",
                           "format": "jsonl", "min_age_seconds": 0, "dated_names": False},
             "mapping": {"touch_id": "source_touch_id", "submission_id": "source_record_id",
                         "email": "email", "touch_type": "touch_type", "occurred_at": "occurred_at",
                         "url": "url"}},
        ],
        "qualification": {"min_grade": "B", "min_score": 70,
                          "hand_raiser_touches": ["demo_request", "contact_sales", "pricing_chat"]},
        "routing": {"reps": [
            {"id": "ann", "name": "Ann", "email": "ann@sales.test", "capacity_per_day": cap,
             "timezone": "Europe/Berlin"},
            {"id": "bob", "name": "Bob", "email": "bob@sales.test", "capacity_per_day": cap,
             "timezone": "Europe/Berlin"}],
            "sla": {"hand_raiser_hours": 4, "business_start_hour": 9, "business_end_hour": 17}},
        "delivery": {"smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "leadflow@test"}},
        "speed_to_lead": s,
    }


def ictx(make_ctx: Any, doc: dict[str, Any], engine: sa.Engine, at: datetime) -> IntradayContext:
    base = make_ctx(doc, engine, at.date(), job="speed_to_lead")
    return IntradayContext(base.settings, base.engine, at.date(), f"speed_to_lead:{at:%Y-%m-%dT%H:%M:%S}",
                           "speed_to_lead", at=at)


FORM = {"email": "dana@acme.test", "first_name": "Dana", "last_name": "Scully", "company": "Acme",
        "job_title": "VP Marketing", "company_size": 500, "country": "DE"}


@pytest.fixture
def smtp(_smtp_fixture: Any) -> Any:  # noqa: F811 - the imported fixture, by name
    """A local SMTP server (aiosmtpd) keeping every message (tests/test_orchestration.py)."""
    return _smtp_fixture


def text_of(msg: Any) -> str:
    return msg.get_payload(decode=True).decode("utf-8")


def rows(engine: sa.Engine, table: sa.Table) -> pd.DataFrame:
    return db.read_df(engine, sa.select(table))


# --------------------------------------------------------------------------- the whole path
def test_form_submission_is_queued_and_its_rep_told_once_and_the_daily_run_finds_it_queued(
        engine, make_ctx, tmp_path, smtp, caplog) -> None:
    doc = config(tmp_path, smtp.port)
    at = MON + timedelta(minutes=1)
    c = ictx(make_ctx, doc, engine, at)
    receiver.land(c.settings, FORM, "demo_request", at=MON)
    caplog.set_level("DEBUG", logger="leadflow")
    out = run_intraday(c)
    assert out["handed_off"] == 1 and out["sent"] == 1
    h = rows(engine, handoffs)
    assert len(h) == 1 and h.loc[0, "qualified_by"] == "hand_raiser" and h.loc[0, "owner_rep"] in ("ann", "bob")
    [msg] = smtp.messages
    body = text_of(msg)
    assert msg["To"] == f"{h.loc[0, 'owner_rep']}@sales.test"
    assert "Dana Scully" in body and "dana@acme.test" in body and "SLA" in body
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("leadflow"))
    assert ours and "Dana" not in ours and "dana@acme.test" not in ours     # no PII in our logs
    # a second pass (the sweep) and a retry of the same pass change nothing
    again = run_intraday(ictx(make_ctx, doc, engine, at + timedelta(minutes=5)))
    run_intraday(c)
    assert again["handed_off"] == 0 and len(smtp.messages) == 1
    assert len(rows(engine, handoffs)) == 1 and len(rows(engine, handoff_notifications)) == 1
    # the daily run of that day: the person is already queued, nothing handed off twice
    daily = make_ctx(doc, engine, at.date(), job="lead_handoff_daily")
    assert enqueue.queue(daily)["handed_off"] == 0
    assert len(rows(engine, handoffs)) == 1


def test_opted_out_hand_raiser_is_never_notified(engine, make_ctx, tmp_path, smtp) -> None:
    doc = config(tmp_path, smtp.port)
    _seed_hand_raiser(engine, MON - timedelta(minutes=2), pid=1, opt_out=True)
    _seed_hand_raiser(engine, MON - timedelta(minutes=2), pid=2)
    c = ictx(make_ctx, doc, engine, MON)
    out = enqueue.queue(c, [1, 2])                 # the intraday pass's queue step, then notify
    _as_intraday(c)
    assert out["handed_off"] == 1 and out["suppressed"] == 1
    assert alerts.enqueue(c) == 1 and alerts.send_due(c)["sent"] == 1
    assert set(rows(engine, handoffs)["person_id"]) == {2}
    assert [m["To"] for m in smtp.messages] == [f"{rows(engine, handoffs).loc[0, 'owner_rep']}@sales.test"]
    assert all("p1@example.test" not in text_of(m) for m in smtp.messages)


def test_opt_out_after_the_handoff_cancels_the_unsent_notification(engine, make_ctx, tmp_path,
                                                                   smtp) -> None:
    doc = config(tmp_path, smtp.port)
    _seed_hand_raiser(engine, SAT - timedelta(minutes=1))
    c = ictx(make_ctx, doc, engine, SAT)             # weekend: the notification is held
    _queue_and_enqueue(c)
    assert alerts.send_due(c)["sent"] == 0 and not smtp.messages
    with engine.begin() as conn:
        conn.execute(sa.update(people).values(opt_out=True))
    out = alerts.send_due(ictx(make_ctx, doc, engine, MON), at=MON)
    assert out == {"sent": 0, "failed": 0, "cancelled": 1} and not smtp.messages


# --------------------------------------------------------------------------- working hours, SLA
def _seed_hand_raiser(engine: sa.Engine, asked: datetime, pid: int = 1, opt_out: bool = False) -> None:
    with engine.begin() as conn:
        syn.add_people(conn, pd.DataFrame({"person_id": [pid], "first_name": "Dana", "country": "DE",
                                           "company_size": 500, "opt_out": opt_out}))
        syn.add_touches(conn, pd.DataFrame({"person_id": [pid], "touch_type": ["demo_request"],
                                            "occurred_at": [asked], "channel": ["organic"]}))


def _as_intraday(c: IntradayContext) -> None:
    """Handoffs written by enqueue.queue under the intraday run's id (as the intraday pass does)."""
    assert rows(c.engine, handoffs)["run_id"].str.startswith("speed_to_lead:").all()


def _queue_and_enqueue(c: IntradayContext) -> pd.DataFrame:
    enqueue.queue(c, [1])
    _as_intraday(c)
    alerts.enqueue(c)
    return rows(c.engine, handoff_notifications)


def test_outside_working_hours_the_message_waits_for_the_reps_opening(engine, make_ctx, tmp_path,
                                                                      smtp) -> None:
    doc = config(tmp_path, smtp.port)
    _seed_hand_raiser(engine, SAT - timedelta(minutes=2))
    c = ictx(make_ctx, doc, engine, SAT)
    n = _queue_and_enqueue(c)
    # Berlin opens Monday 08:00 local = 07:00 UTC
    assert pd.Timestamp(n.loc[0, "not_before"]) == pd.Timestamp(2026, 11, 30, 7, 0)
    assert alerts.send_due(c, at=SAT)["sent"] == 0 and not smtp.messages
    assert alerts.send_due(c, at=datetime(2026, 11, 30, 7, 0))["sent"] == 1
    assert len(smtp.messages) == 1


def test_outside_working_hours_the_on_call_rep_is_told_now(engine, make_ctx, tmp_path, smtp) -> None:
    doc = config(tmp_path, smtp.port,
                 working_hours={"start_hour": 8, "end_hour": 18, "outside": "on_call", "on_call_rep": "bob"})
    doc["routing"]["reps"][1]["timezone"] = "America/New_York"
    doc["routing"]["territories"] = [{"name": "EU", "countries": ["DE"], "reps": ["ann"]}]
    _seed_hand_raiser(engine, SAT - timedelta(minutes=2))
    c = ictx(make_ctx, doc, engine, SAT)
    n = _queue_and_enqueue(c)
    assert n.loc[0, "owner_rep"] == "ann" and n.loc[0, "recipient_rep"] == "bob"
    assert alerts.send_due(c)["sent"] == 1
    [msg] = smtp.messages
    assert msg["To"] == "bob@sales.test" and "on call for ann" in text_of(msg)


def test_sla_clock_starts_at_the_prospects_request(engine, make_ctx, tmp_path) -> None:
    doc = config(tmp_path)
    asked = datetime(2026, 11, 30, 9, 0)            # 10:00 Berlin
    _seed_hand_raiser(engine, asked)
    c = ictx(make_ctx, doc, engine, asked + timedelta(minutes=50))
    n = _queue_and_enqueue(c)
    h = rows(engine, handoffs)
    # 4 business hours from the request (10:00 Berlin) -> 14:00 Berlin = 13:00 UTC, not 13:50
    assert pd.Timestamp(h.loc[0, "sla_due_at"]) == pd.Timestamp(2026, 11, 30, 13, 0)
    assert pd.Timestamp(n.loc[0, "requested_at"]) == pd.Timestamp(asked)
    text = alerts.brief_text(n.merge(alerts._leads(c, [int(h.loc[0, "handoff_id"])]), on="handoff_id"),
                             c.settings, c.as_of).iloc[0]
    assert "50 min ago" in text and "14:00" in text


# --------------------------------------------------------------------------- outbox
def test_notification_outbox_is_idempotent_under_retry(engine, make_ctx, tmp_path, smtp) -> None:
    good = config(tmp_path, smtp.port)
    bad = config(tmp_path, free_port())              # nothing listens: the send fails
    _seed_hand_raiser(engine, MON - timedelta(minutes=2))
    c = ictx(make_ctx, bad, engine, MON)
    _queue_and_enqueue(c)
    assert alerts.enqueue(c) == 0                    # a re-run adds no second row
    assert alerts.send_due(c) == {"sent": 0, "failed": 1, "cancelled": 0}
    n = rows(engine, handoff_notifications)
    assert n.loc[0, "status"] == "failed" and "SMTP 127.0.0.1" in n.loc[0, "error"]
    assert "dana" not in n.loc[0, "error"].lower()
    retry = ictx(make_ctx, good, engine, MON + timedelta(minutes=1))
    assert alerts.send_due(retry)["sent"] == 1
    assert alerts.send_due(retry)["sent"] == 0 and alerts.enqueue(retry) == 0
    assert len(smtp.messages) == 1
    n = rows(engine, handoff_notifications)
    assert n.loc[0, "status"] == "sent" and int(n.loc[0, "attempts"]) == 2


def test_a_claim_left_by_a_killed_sender_is_retried_only_after_the_lease(engine, make_ctx, tmp_path,
                                                                         smtp) -> None:
    doc = config(tmp_path, smtp.port, claim_lease_seconds=300)
    _seed_hand_raiser(engine, MON - timedelta(minutes=2))
    c = ictx(make_ctx, doc, engine, MON)
    _queue_and_enqueue(c)
    from leadflow.store import outbox
    assert len(outbox.claim_notifications(engine, MON, "killed", timedelta(seconds=300))) == 1
    assert alerts.send_due(c, at=MON + timedelta(seconds=60))["sent"] == 0       # still leased
    assert alerts.send_due(c, at=MON + timedelta(seconds=301))["sent"] == 1
    assert len(smtp.messages) == 1


# --------------------------------------------------------------------------- concurrency
CHILD = textwrap.dedent("""
    import sys
    from datetime import datetime
    from leadflow import config as cfg
    from leadflow.handoff import enqueue
    from leadflow.intraday import IntradayContext
    from leadflow.store import db
    from leadflow.store.schema import handoffs
    import sqlalchemy as sa
    settings = cfg.load(sys.argv[1])
    at = datetime.fromisoformat(sys.argv[2])
    eng = db.engine(settings.database_url)
    ids = [int(x) for x in sys.argv[3].split(",")]
    c = IntradayContext(settings, eng, at.date(), "speed_to_lead:child", "speed_to_lead", at=at)
    print(enqueue.queue(c, ids)["handed_off"])
""")


def _child(doc_path: Path, at: datetime, ids: list[int], url: str) -> subprocess.Popen[str]:
    import os
    env = dict(os.environ, LEADFLOW_DATABASE_URL=url, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", CHILD, str(doc_path), at.isoformat(),
                             ",".join(map(str, ids))], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _seed_overlap(engine: sa.Engine, day: date) -> None:
    """People 1-10 scored for the day (the daily run's), 11-20 hand-raisers (the intraday run's)."""
    ids = list(range(1, 21))
    with engine.begin() as conn:
        syn.add_people(conn, pd.DataFrame({"person_id": ids, "country": "DE", "company_size": 500}))
        syn.add_scores(conn, pd.DataFrame({"person_id": ids[:10], "score": 90.0, "grade": "A"}), day)


def _raise_hands(engine: sa.Engine, at: datetime) -> None:
    with engine.begin() as conn:
        syn.add_touches(conn, pd.DataFrame({"person_id": range(11, 21), "touch_type": "demo_request",
                                            "occurred_at": at, "channel": "organic"}))


def _check_invariants(engine: sa.Engine, cap: int) -> pd.DataFrame:
    h = rows(engine, handoffs)
    assert h.groupby(["person_id", "cycle"]).size().max() == 1          # nobody assigned twice
    per_rep = h[h["owner_rep"] != "unassigned"].groupby(["owner_rep", "run_date"]).size()
    assert per_rep.max() <= cap, per_rep.to_dict()                      # no rep over cap
    return h


def test_intraday_run_between_the_daily_runs_plan_and_write_keeps_caps(engine, make_ctx, tmp_path,
                                                                       monkeypatch) -> None:
    """Two processes: the daily queue plans, an intraday run (another process) hands off 10
    hand-raisers, then the daily run writes: it routes again under the lock, so no rep goes
    over cap and nobody is handed off twice."""
    cap, day = 5, MON.date()
    doc = config(tmp_path, cap=cap)
    _seed_overlap(engine, day)
    daily = make_ctx(doc, engine, day, job="lead_handoff_daily")
    url = engine.url.render_as_string(hide_password=False)
    real_plan = enqueue.plan

    def plan_then_intraday(ctx: Any, person_ids: Any = None) -> pd.DataFrame:
        df = real_plan(ctx, person_ids)
        _raise_hands(engine, MON)
        p = _child(tmp_path / "leadflow.yaml", MON + timedelta(minutes=1), list(range(11, 21)), url)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        assert int(out.split()[-1]) == 2 * cap       # the intraday run filled both reps
        return df

    monkeypatch.setattr(enqueue, "plan", plan_then_intraday)
    d = enqueue.queue(daily)
    h = _check_invariants(engine, cap)
    assert len(h) == 20 and d["handed_off"] == 10
    assert (h.loc[h["person_id"] <= 10, "owner_rep"] == "unassigned").all()   # caps full: fallback


def test_intraday_and_daily_runs_at_once_in_two_processes(engine, make_ctx, tmp_path) -> None:
    cap, day = 6, MON.date()
    doc = config(tmp_path, cap=cap)
    _seed_overlap(engine, day)
    _raise_hands(engine, MON)
    make_ctx(doc, engine, day)                        # writes the config file
    url = engine.url.render_as_string(hide_password=False)
    children = [_child(tmp_path / "leadflow.yaml", MON + timedelta(minutes=1), list(range(11, 21)), url)
                for _ in range(2)]
    daily = make_ctx(doc, engine, day, job="lead_handoff_daily")
    enqueue.queue(daily)
    for p in children:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
    h = _check_invariants(engine, cap)
    assert set(h["person_id"]) == set(range(1, 21))
