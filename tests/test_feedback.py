"""Feedback: CRM outcomes matched to handoffs, quarantined with reasons, lifecycle moved; idempotent."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.feedback import apply_outcomes, training_examples
from leadflow.store import db
from leadflow.store.schema import (
    handoffs,
    ingest_batches,
    lifecycle_events,
    outcomes,
    people,
    quarantine,
    stg_crm_outcomes,
)

T0 = datetime(2026, 11, 2, 9, 0)


def _people_and_handoffs(engine: sa.Engine) -> None:
    with engine.begin() as c:
        c.execute(people.insert(), [
            {"person_id": i, "email_norm": f"p{i}@acme.test", "lifecycle_stage": "mql", "cycle": 1,
             "opt_out": False, "do_not_contact": False, "is_competitor": False,
             "created_at": T0, "updated_at": T0} for i in range(1, 7)])
        c.execute(handoffs.insert(), [
            {"handoff_id": 100 + i, "person_id": i, "cycle": 1, "owner_rep": "r1",
             "route_rule": "round_robin", "qualified_by": "threshold", "run_date": date(2026, 11, 2),
             "handed_off_at": T0, "sla_due_at": datetime(2026, 11, 3, 9), "sla_breached": False,
             "status": "queued"} for i in range(1, 7)])


def _land(engine: sa.Engine, rows: list[dict], content_hash: str) -> int:
    with engine.begin() as c:
        bid = c.execute(ingest_batches.insert().values(
            source="crm", kind="crm_outcomes", uri="outcomes.csv", content_hash=content_hash,
            status="landed", loaded_at=T0)).inserted_primary_key[0]
        df = pd.DataFrame(rows)
        df.insert(0, "row_number", range(1, len(df) + 1))
        df["source"], df["batch_id"], df["loaded_at"], df["state"] = "crm", bid, T0, "passed"
        db.bulk_insert(c, stg_crm_outcomes, df)
    return bid


def _o(oid: str, status: str, day: int, handoff_id: int | None = None, email: str | None = None,
       step: str | None = None, reason: str | None = None, amount: float | None = None) -> dict:
    return {"source_outcome_id": oid, "handoff_id": handoff_id, "email": email, "status": status,
            "selling_step": step, "reason_code": reason, "amount": amount,
            "occurred_at": datetime(2026, 11, day, 10, 30)}


ROWS = [
    _o("o1", "accepted", 3, handoff_id=101),                                    # 1 by id
    _o("o2", "opportunity", 4, email="  P2@Acme.TEST ", amount=5000),             # 2 by email
    _o("o3", "won", 9, handoff_id=101, amount=1200.5),                             # 3
    _o("o4", "accepted", 3, handoff_id=999, email="nobody@else.test"),             # 4 unmatched
    _o("o5", "lost", 6, handoff_id=102),                                           # 5
    _o("o6", "won", 8, handoff_id=102, amount=10),                                 # 6 won after lost
    _o("o7", "opportunity", 5, handoff_id=103, amount=-5),                         # 7 amount < 0
    _o("o8", "maybe", 5, handoff_id=103),                                          # 8 bad status
    _o("o9", "step_reached", 5, handoff_id=103, step="dancing"),                   # 9 bad step
    _o("o1", "rejected", 3, handoff_id=101, reason="no_budget"),                   # 10 dup id
    _o("o11", "rejected", 4, handoff_id=103, reason="wrong_person"),               # 11 -> disq.
    _o("o12", "rejected", 4, handoff_id=104, reason="bad_timing"),                 # 12 -> recycled
    _o("o13", "step_reached", 7, handoff_id=105, step="presentation"),             # 13 -> sql
    _o("o14", "accepted", 1, handoff_id=106),                                      # 14 before handoff
    _o("o15", "accepted", 4, handoff_id=101),                                      # 15 dup fact
]


def _state(engine: sa.Engine) -> dict:
    with engine.connect() as c:
        return {
            "outcomes": db.read_df(c, sa.select(outcomes).order_by(outcomes.c.outcome_id)),
            "people": db.read_df(c, sa.select(people.c.person_id, people.c.lifecycle_stage, people.c.cycle)
                                 .order_by(people.c.person_id)),
            "events": db.read_df(c, sa.select(lifecycle_events).order_by(lifecycle_events.c.event_id)),
            "handoffs": db.read_df(c, sa.select(handoffs).order_by(handoffs.c.handoff_id)),
            "quarantine": db.read_df(c, sa.select(quarantine).order_by(quarantine.c.quarantine_id)),
        }


@pytest.fixture
def ctx(engine, make_ctx):
    _people_and_handoffs(engine)
    return make_ctx({}, engine, run_date=date(2026, 11, 10))


def test_outcomes_matched_quarantined_and_lifecycle_moved(engine, ctx) -> None:
    bid = _land(engine, ROWS, "h1")
    counts = apply_outcomes(ctx)
    assert counts["rows"] == len(ROWS)
    assert counts["matched_by_email"] == 1
    assert counts["loaded"] + counts["quarantined"] == len(ROWS)

    st = _state(engine)
    loaded_ids = sorted(st["outcomes"]["source_outcome_id"])
    assert loaded_ids == ["o1", "o11", "o12", "o13", "o2", "o3", "o5"]
    by_id = st["outcomes"].set_index("source_outcome_id")
    assert by_id.loc["o2", "handoff_id"] == 102 and by_id.loc["o2", "person_id"] == 2

    q = st["quarantine"].set_index("row_number")
    assert set(q.index) == {4, 6, 7, 8, 9, 10, 14, 15}
    assert (q["stage"] == "feedback").all() and (q["batch_id"] == bid).all()
    reasons = {r: " | ".join(v) for r, v in q["reasons"].items()}
    assert "unmatched" in reasons[4]
    assert "contradictory: won after lost" in reasons[6]
    assert "amount < 0" in reasons[7]
    assert "status not allowed" in reasons[8]
    assert "selling_step unknown" in reasons[9]
    assert "source_outcome_id delivered more than once" in reasons[10]
    assert "before the lead was created" in reasons[14]
    assert "duplicate: handoff already has accepted" in reasons[15]
    assert q.loc[4, "record"]["source_outcome_id"] == "o4"   # the original record is kept

    with engine.connect() as c:
        states = dict(c.execute(sa.select(stg_crm_outcomes.c.row_number, stg_crm_outcomes.c.state)).all())
    assert {r for r, s in states.items() if s == "quarantined"} == set(q.index)
    assert {r for r, s in states.items() if s == "loaded"} == set(range(1, 16)) - set(q.index)

    stages = st["people"].set_index("person_id")["lifecycle_stage"].to_dict()
    assert stages == {1: "customer", 2: "recycled", 3: "disqualified", 4: "recycled", 5: "sql", 6: "mql"}
    ev = st["events"]
    p1 = ev[ev["person_id"] == 1].sort_values("event_id")
    assert p1["to_stage"].tolist() == ["sal", "sql", "opportunity", "customer"]
    assert pd.Timestamp(p1["occurred_at"].iloc[0]) == pd.Timestamp(datetime(2026, 11, 3, 10, 30))
    assert ev[ev["person_id"] == 5]["to_stage"].tolist() == ["sal", "sql"]

    h = st["handoffs"].set_index("handoff_id")
    assert pd.Timestamp(h.loc[101, "first_action_at"]) == pd.Timestamp(datetime(2026, 11, 3, 10, 30))
    assert h.loc[101, "status"] == "won" and h.loc[102, "status"] == "lost"
    assert h.loc[103, "status"] == "rejected" and h.loc[105, "status"] == "working"
    assert pd.isna(h.loc[106, "first_action_at"]) and h.loc[106, "status"] == "queued"


def test_rerun_and_reimport_change_nothing(engine, ctx) -> None:
    _land(engine, ROWS, "h1")
    apply_outcomes(ctx)
    before = _state(engine)
    assert apply_outcomes(ctx)["rows"] == 0          # nothing pending: a no-op
    _land(engine, ROWS, "h2")                        # the same outcomes delivered again
    again = apply_outcomes(ctx)
    assert again["loaded"] == 0
    assert again["already_loaded"] == 7              # identical re-deliveries of loaded outcomes
    after = _state(engine)
    for k in ("outcomes", "people", "events", "handoffs"):
        pd.testing.assert_frame_equal(before[k], after[k], check_dtype=False)
    # what was bad stays bad and is kept with reasons for the new delivery too
    assert len(after["quarantine"]) == 2 * len(before["quarantine"])


def test_redelivery_with_changed_content_is_quarantined(engine, ctx) -> None:
    _land(engine, [_o("o3", "won", 9, handoff_id=101, amount=1200.5)], "a")
    assert apply_outcomes(ctx)["loaded"] == 1
    _land(engine, [_o("o3", "won", 9, handoff_id=101, amount=999)], "b")
    out = apply_outcomes(ctx)
    assert out["loaded"] == 0 and out["quarantined"] == 1
    reasons = _state(engine)["quarantine"]["reasons"].iloc[0]
    assert any("already loaded with different content" in r for r in reasons)


def test_two_pending_deliveries_of_the_same_ids(engine, ctx) -> None:
    """Both deliveries wait for the same run: an identical repeat is a re-delivery (no-op), a
    changed one is a duplicate; the first delivery's row stands either way."""
    _land(engine, [_o("o1", "accepted", 3, handoff_id=101), _o("o2", "accepted", 3, handoff_id=102)], "a")
    _land(engine, [_o("o1", "accepted", 3, handoff_id=101), _o("o2", "rejected", 3, handoff_id=102,
                                                               reason="no_budget")], "b")
    out = apply_outcomes(ctx)
    assert (out["loaded"], out["already_loaded"], out["quarantined"]) == (2, 1, 1)
    st = _state(engine)
    assert sorted(st["outcomes"]["status"]) == ["accepted", "accepted"]
    q = st["quarantine"]
    assert q["record"].iloc[0]["source_outcome_id"] == "o2"
    assert any("delivered more than once" in r for r in q["reasons"].iloc[0])


def test_blank_outcome_id_is_missing(engine, ctx) -> None:
    _land(engine, [_o("  ", "accepted", 3, handoff_id=101)], "a")
    out = apply_outcomes(ctx)
    assert out["quarantined"] == 1 and out["loaded"] == 0
    assert "missing source_outcome_id" in _state(engine)["quarantine"]["reasons"].iloc[0]


def test_training_examples_label_point_in_time(engine, ctx) -> None:
    _land(engine, ROWS, "h1")
    apply_outcomes(ctx)
    early = training_examples(engine, datetime(2026, 11, 4, 0, 0))
    late = training_examples(engine, datetime(2026, 11, 30))
    assert len(late) == 6 and set(late.columns) >= {"handoff_id", "person_id", "handed_off_at", "label"}
    lab = late.set_index("handoff_id")["label"].to_dict()
    assert lab == {101: 1, 102: 1, 103: 0, 104: 0, 105: 0, 106: 0}
    # on Nov 4 at midnight, the opportunity of Nov 4 10:30 was not known yet
    assert early.set_index("handoff_id")["label"].sum() == 0
    assert training_examples(engine, datetime(2026, 11, 1)).empty


# ---------------------------------------------------------------- matching by any key (issue 18/19)
def _o_keys(oid: str, status: str, day: int, **keys) -> dict:
    return {**_o(oid, status, day), **keys}


def test_outcome_matched_by_crm_id_from_the_crm_outbox(engine, ctx) -> None:
    """An outcome exported from the CRM carries only the CRM's id: the id stored when leadflow
    pushed the handoff (crm_outbox) finds it; a later outcome learns nothing wrong from it."""
    from leadflow.store.schema import crm_outbox
    with engine.begin() as c:
        c.execute(crm_outbox.insert(), [
            {"destination": "hubspot", "handoff_id": 103, "person_id": 3, "action": "upsert",
             "status": "pushed", "crm_id": "HS-903", "created_at": T0},
            {"destination": "hubspot", "handoff_id": 104, "person_id": 4, "action": "upsert",
             "status": "failed", "crm_id": "HS-904", "created_at": T0}])        # never pushed: no link
    _land(engine, [_o_keys("c1", "accepted", 3, crm_id="HS-903"),
                   _o_keys("c2", "accepted", 3, crm_id="HS-904")], "crm1")
    counts = apply_outcomes(ctx)
    assert counts["matched_by_crm_id"] == 1 and counts["loaded"] == 1
    st = _state(engine)
    o = st["outcomes"].set_index("source_outcome_id")
    assert o.loc["c1", "handoff_id"] == 103 and o.loc["c1", "match_rule"] == "crm_id"
    assert o.loc["c1", "crm_id"] == "HS-903"
    q = st["quarantine"]
    assert q["reasons"].iloc[0] == ["unmatched: no handed-off lead found by crm_id (keys tried)"]
    assert "HS-904" not in str(q["reasons"].iloc[0])            # keys named, values never


def test_crm_id_learned_from_an_earlier_outcome(engine, ctx) -> None:
    _land(engine, [_o_keys("l1", "accepted", 3, email="p5@acme.test", crm_id="SF-5")], "l1")
    assert apply_outcomes(ctx)["matched_by_email"] == 1
    _land(engine, [_o_keys("l2", "opportunity", 5, crm_id="SF-5", amount=100.0)], "l2")
    counts = apply_outcomes(ctx)
    assert counts["matched_by_crm_id"] == 1 and counts["loaded"] == 1
    o = _state(engine)["outcomes"].set_index("source_outcome_id")
    assert o.loc["l2", "handoff_id"] == 105


def test_outcome_matched_by_source_record_id_and_match_on_restricts(engine, make_ctx) -> None:
    """A wins-only export cites the MQL id (the lead's source record id); ``match_on`` says
    which keys a source may use: an email it carries is not tried when not listed."""
    _people_and_handoffs(engine)
    from leadflow.store.schema import person_records
    with engine.begin() as c:
        c.execute(person_records.insert(), [
            {"batch_id": 1, "row_number": i, "source": "mqls", "person_id": i, "match_rule": "new",
             "created_at": T0, "source_record_id": f"MQL-{i}"} for i in (1, 2)])
    doc = {"sources": [
        {"name": "mqls", "owner": "m", "kind": "inbound_leads", "connector": {"type": "file", "path": "l"}},
        {"name": "crm", "owner": "s", "kind": "crm_outcomes", "record_source": "mqls",
         "connector": {"type": "file", "path": "d"},
         "mapping": {"mql": "source_record_id", "mail": "email"}, "match_on": ["source_record_id"]}]}
    c2 = make_ctx(doc, engine, run_date=date(2026, 11, 10))
    _land(engine, [_o_keys("w1", "won", 6, source_record_id="MQL-1", amount=900.0),
                   _o_keys("w2", "won", 6, source_record_id="MQL-77", email="p2@acme.test")], "w")
    counts = apply_outcomes(c2)
    assert counts["matched_by_source_record_id"] == 1 and counts["matched_by_email"] == 0
    st = _state(engine)
    assert st["outcomes"].set_index("source_outcome_id").loc["w1", "handoff_id"] == 101
    assert st["quarantine"]["reasons"].iloc[0] == [
        "unmatched: no handed-off lead found by source_record_id (keys tried)"]
    assert st["people"].set_index("person_id").loc[1, "lifecycle_stage"] == "customer"


def _aging_case(engine: sa.Engine, make_ctx):
    """Six handoffs at T0: people 1-3 MQL'd 40 days before, 4-6 five days before; 101 won, 102
    lost; 30-day aging; outcomes applied on 2026-11-10. Returns the run context."""
    _people_and_handoffs(engine)
    with engine.begin() as c:
        c.execute(lifecycle_events.insert(), [
            {"person_id": i, "cycle": 1, "from_stage": "lead", "to_stage": "mql",
             "occurred_at": T0 - pd.Timedelta(days=40 if i <= 3 else 5), "reason": "t", "run_id": "t"}
            for i in range(1, 7)])
    _land(engine, [_o("a1", "won", 3, handoff_id=101, amount=10.0),
                   _o("a2", "lost", 4, handoff_id=102)], "a")
    c2 = make_ctx({"feedback": {"aging_days": 30}}, engine, run_date=date(2026, 11, 10))
    apply_outcomes(c2)
    return c2


def test_wins_only_aging_marks_inferred_losses(engine, make_ctx) -> None:
    """No win N days after the MQL time counts as lost (inferred); younger handoffs stay open."""
    from leadflow.feedback.training import label_counts
    c2 = _aging_case(engine, make_ctx)
    ex = training_examples(engine, c2.as_of, c2.settings).set_index("person_id")
    assert ex["label_status"].to_dict() == {1: "won", 2: "lost", 3: "lost_inferred", 4: "open",
                                            5: "open", 6: "open"}
    assert ex["inferred"].tolist() == [0, 0, 1, 0, 0, 0]
    assert label_counts(ex) == {"positives": 1, "negatives": 2, "negatives_reported": 1,
                                "negatives_inferred": 1, "open": 3}
    plain = training_examples(engine, c2.as_of)           # no settings: no aging, same labels
    assert plain["label_status"].isin(["won", "lost", "open"]).all()
    assert plain["label"].tolist() == ex["label"].tolist()


def test_training_feed_and_trainer_share_one_aging_rule_from_the_mql_time(engine, make_ctx) -> None:
    """One aging rule (leadflow.score.labels) for the training feed, the trainer and the report:
    N days run from the handoff's MQL time (the lead's own date), not from ``handed_off_at``
    (the run that handed it over, which a one-run history load puts on its last day)."""
    from leadflow.score import labels
    from leadflow.score import train as tr
    c2 = _aging_case(engine, make_ctx)                   # handed off at T0 (2026-11-02)
    feed = training_examples(engine, c2.as_of, c2.settings).set_index("handoff_id")
    ex = tr.examples(engine, c2.as_of, c2.settings).set_index("handoff_id")
    # 8 days after the handoff but 48 after the MQL: aged (inferred lost) in both
    assert feed.loc[103, "label_status"] == "lost_inferred"
    assert ex.loc[103, "inferred"] and not ex.loc[103, "converted"]
    assert sorted(ex.index) == [101, 102, 103]             # 104-106 (MQL 13 days ago) still open
    inferred = feed.index[feed["label_status"] == "lost_inferred"]
    assert sorted(ex.index[ex["inferred"]]) == sorted(inferred)
    assert labels.aging_days(c2.settings, pd.Series(["x"])).tolist() == [30.0]


def test_later_touches_attach_by_a_crm_id_learned_from_an_outcome(engine, make_ctx) -> None:
    """A CRM activity feed cites the CRM's record id, not an e-mail: a touch attaches to the
    person an earlier outcome carried that CRM id for (or the CRM outbox pushed it as); an
    unknown CRM id with no e-mail is quarantined (no identity), never guessed."""
    from leadflow.identity import load_touches
    from leadflow.store.schema import touches
    from tests.identity_helpers import CONFIG
    from tests.identity_helpers import land as land_rows
    _people_and_handoffs(engine)
    _land(engine, [_o_keys("w1", "won", 6, handoff_id=101, crm_id="HS-77", amount=5.0)], "w")
    doc = {"sources": [{"name": "crm", "owner": "s", "kind": "crm_outcomes", "match_on": ["handoff_id"],
                        "connector": {"type": "file", "path": "d"}}, *CONFIG["sources"][1:]]}
    ctx = make_ctx(doc, engine, run_date=date(2026, 11, 10))
    assert apply_outcomes(ctx)["matched_by_handoff_id"] == 1      # it carried the CRM id beside
    land_rows(engine, [{"source_touch_id": "T1", "crm_id": "HS-77", "touch_type": "meeting",
                        "occurred_at": "2026-11-09T10:00:00"},
                       {"source_touch_id": "T2", "crm_id": "HS-404", "touch_type": "meeting",
                        "occurred_at": "2026-11-09T11:00:00"}], source="events", kind="touches")
    out = load_touches(ctx)
    assert out["loaded"] == 1 and out["quarantined"] == 1
    t = db.read_df(engine, sa.select(touches.c.source_touch_id, touches.c.person_id))
    assert t.set_index("source_touch_id")["person_id"].to_dict() == {"T1": 1}


def test_a_touch_naming_only_a_crm_id_passes_quality_one_naming_nothing_does_not(engine, make_ctx) -> None:
    """``identity_required`` for touches: an e-mail is needed only when the touch names neither a
    source record nor a CRM id."""
    from leadflow.quality import validate_all
    from leadflow.quality.testing import good_row, stage, states
    ctx = make_ctx({"sources": [{"name": "acts", "owner": "s", "kind": "touches", "quality": {"fail_share": 0.9},
                                 "connector": {"type": "file", "path": "a"}}]}, engine)
    rows = pd.DataFrame([good_row("touches", i) for i in range(3)]).drop(columns=["source"])
    rows["email"], rows["source_record_id"], rows["campaign_id"] = None, None, None
    rows["crm_id"] = ["HS-1", "HS-2", None]
    stage(engine, "touches", "acts", rows)
    validate_all(ctx, docs=False)
    assert states(engine, "touches").to_dict() == {"passed": 2, "quarantined": 1}
    reasons = db.read_df(engine, sa.select(quarantine.c.reasons))["reasons"].iloc[0]
    assert "identity_required" in reasons


CRM_SOURCE = {
    "name": "crm", "owner": "sales-ops", "kind": "crm_outcomes",
    "connector": {"type": "file", "path": "crm", "min_age_seconds": 0},
    "mapping": {"Outcome ID": "source_outcome_id", "Handoff ID": "handoff_id", "Status": "status",
                "Reason": "reason_code", "Stage Reached": "selling_step", "Amount": "amount",
                "Date": "occurred_at"},
    "value_maps": {"status": {"Closed Won": "won", "Stage Update": "step_reached"},
                   "selling_step": {"Presentation": "presentation"}},
}


def test_messy_codes_and_configured_reasons_load_through_ingest_and_quality(engine, make_ctx,
                                                                             tmp_path) -> None:
    """A CRM export spells its codes as people type them: value maps match whatever the case
    and surrounding or doubled spaces, a code without a map is read in its canonical spelling
    (as the feedback step reads it), and a rejection reason the configuration names is allowed
    (it was quarantined by quality as unknown, so the configured disqualification never
    happened). A code that is not known after all that is still quarantined."""
    from leadflow.ingest import land
    from leadflow.quality import validate_all
    _people_and_handoffs(engine)
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "outcomes.csv").write_text(
        "Outcome ID,Handoff ID,Status,Reason,Stage Reached,Amount,Date\n"
        "m1,101,closed  won ,,,100,2026-11-05\n"          # value map, case and spaces
        "m2,102,Won,,,50,2026-11-05\n"                     # no map: canonical spelling
        "m3,103,Rejected,Student,,,2026-11-05\n"           # a configured reason, typed capitalised
        "m4,104,STAGE UPDATE,,presentation ,,2026-11-05\n"  # both codes through their maps
        "m5,105,rejected, no budget,,,2026-11-05\n"        # canonical spelling of a known reason
        "m6,106,rejected,no such reason,,,2026-11-05\n",   # still unknown: quarantined
        encoding="utf-8")
    ctx = make_ctx({"sources": [CRM_SOURCE], "feedback": {
        "disqualify_reasons": ["wrong_person", "competitor", "duplicate", "student"]}},
        engine, run_date=date(2026, 11, 10))
    land(ctx)
    validate_all(ctx, docs=False)
    apply_outcomes(ctx)
    st = _state(engine)
    got = st["outcomes"].set_index("source_outcome_id")
    assert got["status"].to_dict() == {"m1": "won", "m2": "won", "m3": "rejected",
                                       "m4": "step_reached", "m5": "rejected"}
    assert got.loc["m3", "reason_code"] == "student" and got.loc["m5", "reason_code"] == "no_budget"
    assert got.loc["m4", "selling_step"] == "presentation"
    assert st["quarantine"]["reasons"].tolist() == [["reason_code_allowed"]]
    stage = st["people"].set_index("person_id")["lifecycle_stage"]
    assert stage[3] == "disqualified" and stage[5] == "recycled" and stage[1] == "customer"


def test_an_outcome_cites_an_address_as_a_mail_client_writes_it(engine, make_ctx, tmp_path) -> None:
    """'Name <address>' (or a trailing zero-width space) in a CRM export is the person's address
    to quality and feedback alike, as it is to identity: the outcome loads, matched by email."""
    from leadflow.ingest import land
    from leadflow.quality import validate_all
    _people_and_handoffs(engine)
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "outcomes.csv").write_text(
        "Outcome ID,Email,Status,Date\n"
        "e1,\"Lee, Ann <P2@Acme.test>\",accepted,2026-11-05\n"
        "e2,p3@acme.test\u200b,accepted,2026-11-05\n"
        "e3,Someone <nobody@acme.test>,accepted,2026-11-05\n", encoding="utf-8")
    src = {**CRM_SOURCE, "mapping": {"Outcome ID": "source_outcome_id", "Email": "email", "Status": "status",
                                     "Date": "occurred_at"}}
    ctx = make_ctx({"sources": [src]}, engine, run_date=date(2026, 11, 10))
    land(ctx)
    validate_all(ctx, docs=False)
    apply_outcomes(ctx)
    st = _state(engine)
    assert st["outcomes"].set_index("source_outcome_id")["handoff_id"].to_dict() == {"e1": 102, "e2": 103}
    assert st["quarantine"]["reasons"].tolist() == [["unmatched: no handed-off lead found by email (keys tried)"]]


def test_an_outcome_repeated_unchanged_in_one_export_loads_once(engine, ctx) -> None:
    """A CRM export that writes an outcome twice (a report joined to a second table) is not an
    error: quality suppresses the unchanged repeat ('redelivered') and the outcome loads once;
    a repeat with another status is still quarantined, both rows."""
    from leadflow.quality import validate_all
    from leadflow.quality.testing import stage
    rows = [_o("o1", "accepted", 3, handoff_id=101), _o("o1", "accepted", 3, handoff_id=101),
            _o("o2", "accepted", 3, handoff_id=102), _o("o2", "rejected", 3, handoff_id=102, reason="no_budget"),
            _o("o3", "accepted", 3, handoff_id=103)]
    bid = stage(engine, "crm_outcomes", "crm", pd.DataFrame(rows), loaded_at=datetime(2026, 11, 9, 8))
    res = validate_all(ctx, docs=False)
    assert (res.get("redelivered"), res["quarantined"], res["passed"]) == (1, 2, 2)
    out = apply_outcomes(ctx)
    assert out["loaded"] == 2
    st = _state(engine)
    assert sorted(st["outcomes"]["source_outcome_id"]) == ["o1", "o3"]
    states = db.read_df(engine, sa.select(stg_crm_outcomes.c.row_number, stg_crm_outcomes.c.state)
                        .where(stg_crm_outcomes.c.batch_id == bid).order_by(stg_crm_outcomes.c.row_number))
    assert states["state"].tolist() == ["loaded", "suppressed", "quarantined", "quarantined", "loaded"]
