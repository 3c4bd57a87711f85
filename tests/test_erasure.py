"""Right to erasure (GDPR art. 17 / CCPA deletion), on SQLite and PostgreSQL.

Erasure matches addresses exactly (normalised), never by substring; it leaves a tombstone of
keyed hashes (untagged address, E.164 phone, source record id) that blocks re-entry at landing
and again at identity load; and it removes the person from every table, list file and report
extract leadflow wrote. URLs are stored without PII-bearing query parameters in the first place.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.identity import load_leads, load_touches
from leadflow.ingest import land as ingest_land
from leadflow.privacy.erase import erase
from leadflow.privacy.urls import strip_pii
from leadflow.store import db
from leadflow.store.schema import (
    metadata,
    people,
    person_records,
    quarantine,
    stg_inbound_leads,
    stg_touches,
    tombstones,
    touches,
)
from tests.identity_helpers import CONFIG, STRANGERS_BEHIND_A_FILLER, count, key_rows, land
from tests.ingest_helpers import write

SUBJECT = {"source_record_id": "w1", "email": "S@Example.com", "first_name": "Saoirse",
           "last_name": "Quennell", "phone": "+49 30 5550199", "company": "Ferncastle Robotics GmbH",
           "country": "DE", "job_title": "CTO"}


def _q(engine: sa.Engine, email: str, row: int, batch: int = 1, record: dict | None = None) -> None:
    with engine.begin() as c:
        c.execute(quarantine.insert().values(
            source="web", kind="inbound_leads", batch_id=batch, row_number=row, stage="ingest",
            record=record or {"Email Address": email, "Employees": "lots"},
            reasons=["company_size: not a number"], status="open", created_at=datetime(2026, 11, 26)))


def test_erase_matches_addresses_exactly_and_leaves_neighbours_quarantine(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    _q(engine, "s@example.com", 1)                 # the subject's own rejected row
    _q(engine, "bobs@example.com", 2)              # a neighbour: the subject's address is a suffix
    _q(engine, "s@example.com.au", 3)              # and another: the subject's address is a prefix
    _q(engine, "", 4, record={"_line": '{"mail": "mailto:S@example.com.", "x": '})   # a broken line
    _q(engine, "", 5, record={"_line": '{"mail": "bobs@example.com", "x": '})
    out = erase(ctx, " S@EXAMPLE.com ")
    assert out["tables"]["quarantine"] == 2
    q = db.read_df(engine, sa.select(quarantine).order_by(quarantine.c.row_number))
    assert q["record"].iloc[0] == {"erased": True} and q["status"].iloc[0] == "discarded"
    assert q["record"].iloc[1] == {"Email Address": "bobs@example.com", "Employees": "lots"}
    assert q["record"].iloc[2]["Email Address"] == "s@example.com.au"
    assert q["record"].iloc[3] == {"erased": True} and "bobs" in q["record"].iloc[4]["_line"]
    assert q["status"].tolist() == ["discarded", "open", "open", "discarded", "open"]


def test_erase_does_not_touch_a_neighbour_person(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    land(engine, [SUBJECT, {**SUBJECT, "source_record_id": "w2", "email": "bobs@example.com",
                            "first_name": "Bob", "last_name": "Neighbour", "phone": None}])
    load_leads(ctx)
    out = erase(ctx, "s@example.com")
    assert len(out["person_ids"]) == 1
    p = db.read_df(engine, sa.select(people).where(people.c.erased_at.is_(None)))
    assert p["email_norm"].tolist() == ["bobs@example.com"] and p["first_name"].tolist() == ["Bob"]
    # the address hashes (the contact-block key) go with the address; the neighbour keeps his
    hashes = db.read_df(engine, sa.select(people.c.email_hash, people.c.erased_at))
    assert len(hashes) == 2 and (hashes["email_hash"].notna() == hashes["erased_at"].isna()).all()
    recs = db.read_df(engine, sa.select(person_records.c.email_norm, person_records.c.email_hash))
    assert (recs["email_hash"].isna() == recs["email_norm"].isna()).all() and recs["email_hash"].notna().sum() == 1
    stg = db.read_df(engine, sa.select(stg_inbound_leads).order_by(stg_inbound_leads.c.row_number))
    assert stg["email"].tolist()[1] == "bobs@example.com" and pd.isna(stg["email"].iloc[0])


@pytest.mark.parametrize("per_person", [10**6, 0], ids=["recent-keys", "main-keys"])
def test_erasure_removes_the_blocking_keys_from_both_key_tables(engine, make_ctx, monkeypatch, per_person) -> None:
    """Blocking keys are hashes of the subject's name, company, phone and address: erasure removes
    them wherever they live (person_keys or person_keys_recent), and only the subject's."""
    from leadflow.identity import store
    monkeypatch.setattr(store, "RECENT_PER_PERSON", per_person)
    ctx = make_ctx(CONFIG, engine)
    land(engine, [SUBJECT, {**SUBJECT, "source_record_id": "w2", "email": "bobs@example.com",
                            "first_name": "Bob", "last_name": "Neighbour", "phone": None}])
    load_leads(ctx)
    ids = db.read_df(engine, sa.select(people.c.person_id, people.c.first_name)).set_index("first_name")["person_id"]
    erase(ctx, "s@example.com")
    with engine.connect() as c:
        assert sum(key_rows(c, int(ids["Saoirse"])).values()) == 0
        assert sum(key_rows(c, int(ids["Bob"])).values()) > 0


@pytest.mark.parametrize("variant", ["tagged", "phone", "record_id"])
def test_tombstone_blocks_reentry_at_identity_load(engine, make_ctx, variant) -> None:
    ctx = make_ctx(CONFIG, engine)
    land(engine, [SUBJECT])
    load_leads(ctx)
    erase(ctx, "s@example.com")
    again = {"tagged": {**SUBJECT, "source_record_id": "w9", "email": "s+promo@example.com", "phone": None},
             "phone": {**SUBJECT, "source_record_id": "w9", "email": "saoirse.q@other.org"},
             "record_id": {**SUBJECT, "email": None, "phone": None}}[variant]
    land(engine, [again])
    res = load_leads(ctx)
    assert res["suppressed"] == 1 and res["created"] == 0
    assert count(engine, people, people.c.erased_at.is_(None)) == 0


def test_record_id_of_a_quarantined_row_is_tombstoned_too(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    land(engine, [{**SUBJECT, "source_record_id": "q7", "phone": None}], state="quarantined")
    erase(ctx, "s@example.com")
    land(engine, [{"source_record_id": "q7", "first_name": "Saoirse", "last_name": "Quennell"}])
    res = load_leads(ctx)
    assert res["suppressed"] == 1 and res["created"] == 0


def test_rows_not_yet_loaded_are_suppressed_by_erasure(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    land(engine, [SUBJECT, {**SUBJECT, "source_record_id": "w2"}])   # passed, not loaded yet
    erase(ctx, "s@example.com")
    st = db.read_df(engine, sa.select(stg_inbound_leads))
    assert st[["state", "state_reason"]].values.tolist() == [["suppressed", "erased"]] * 2
    assert load_leads(ctx)["rows"] == 0 and count(engine, people) == 0


def test_tombstone_holds_only_keyed_hashes(engine, make_ctx, monkeypatch) -> None:
    ctx = make_ctx(CONFIG, engine)
    land(engine, [SUBJECT])
    load_leads(ctx)
    erase(ctx, "s@example.com")
    t = db.read_df(engine, sa.select(tombstones))
    assert set(t["kind"]) == {"email_norm_untagged", "phone_e164", "source_record_id"}
    assert t["value_hash"].str.fullmatch(r"[0-9a-f]{64}").all()
    text = t.to_json()
    assert "example" not in text and "5550199" not in text and "w1" not in text
    # the hashes are keyed: another key gives other hashes (so a leaked table cannot be dictionary-attacked
    # without the key)
    from leadflow.privacy.tombstones import keyed_hashes
    monkeypatch.setenv("LEADFLOW_HASH_KEY", "another key")
    from leadflow.privacy.hashing import hash_key
    other = keyed_hashes("email_norm_untagged", pd.Series(["s@example.com"]), hash_key(ctx.settings))
    assert other.iloc[0] not in set(t["value_hash"])


def _landing_ctx(make_ctx, engine, tmp_path: Path):
    doc = {"sources": [
        {"name": "web", "owner": "ops", "kind": "inbound_leads",
         "connector": {"type": "file", "path": "landing/web", "min_age_seconds": 0},
         "mapping": {"Id": "source_record_id", "Email": "email", "First": "first_name",
                     "Last": "last_name", "Phone": "phone", "Company": "company", "Country": "country",
                     "Page": "landing_url"}},
        {"name": "events", "owner": "ops", "kind": "touches", "record_source": "web",
         "connector": {"type": "file", "path": "landing/events", "min_age_seconds": 0, "format": "jsonl"},
         "mapping": {"id": "source_touch_id", "lead": "source_record_id", "email": "email",
                     "type": "touch_type", "at": "occurred_at", "url": "url"}}]}
    return make_ctx(doc, engine)


def _lead_csv(path: Path, rows: list[list[str]]) -> None:
    lines = ["Id,Email,First,Last,Phone,Company,Country,Page"] + [",".join(r) for r in rows]
    write(path, "\n".join(lines) + "\n")


def _erased_saoirse(make_ctx, engine, tmp_path: Path):
    """A landing context in which Saoirse (s@example.com, record w1, a phone) was loaded and
    then erased."""
    ctx = _landing_ctx(make_ctx, engine, tmp_path)
    _lead_csv(tmp_path / "landing/web/a.csv",
              [["w1", "s@example.com", "Saoirse", "Quennell", "+49 30 5550199", "Ferncastle", "DE", ""]])
    ingest_land(ctx)
    with engine.begin() as c:
        c.execute(sa.update(stg_inbound_leads).values(state="passed"))
    load_leads(ctx)
    erase(ctx, "s@example.com")
    return ctx


def test_tombstone_suppresses_and_blanks_at_landing(engine, make_ctx, tmp_path) -> None:
    ctx = _erased_saoirse(make_ctx, engine, tmp_path)
    _lead_csv(tmp_path / "landing/web/b.csv", [
        ["w7", "s+promo@example.com", "Saoirse", "Quennell", "", "Ferncastle", "DE", ""],   # tag
        ["w8", "saoirse@new.org", "Saoirse", "Quennell", "030 5550199", "Ferncastle", "DE", ""],  # phone
        ["w1", "", "Saoirse", "Quennell", "", "Ferncastle", "DE", ""],                        # record id
        ["w9", "bobs@example.com", "Bob", "Neighbour", "", "Acme", "DE", ""],                 # neighbour
    ])
    write(tmp_path / "landing/events/t.jsonl",
          json.dumps({"id": "e1", "lead": "w1", "email": None, "type": "webinar", "at": "2026-11-26T10:00:00Z",
                      "url": "https://x.io/p?email=s%40example.com"}) + "\n"
          + json.dumps({"id": "e2", "lead": None, "email": "S+news@example.com", "type": "webinar",
                        "at": "2026-11-26T10:00:00Z", "url": None}) + "\n")
    ingest_land(ctx)
    st = db.read_df(engine, sa.select(stg_inbound_leads).where(stg_inbound_leads.c.batch_id > 1)
                    .order_by(stg_inbound_leads.c.row_number))
    assert st["state"].tolist() == ["suppressed", "suppressed", "suppressed", "landed"]
    assert st["state_reason"].tolist()[:3] == ["erased"] * 3
    for col in ("email", "first_name", "last_name", "phone", "company", "source_record_id"):
        assert st[col].iloc[:3].isna().all(), col
    assert st["email"].iloc[3] == "bobs@example.com" and st["first_name"].iloc[3] == "Bob"
    tt = db.read_df(engine, sa.select(stg_touches))
    assert tt["state"].tolist() == ["suppressed", "suppressed"]
    assert tt["email"].isna().all() and tt["url"].isna().all() and tt["source_record_id"].isna().all()


def test_a_row_listing_an_erased_address_among_others_is_suppressed_at_landing(engine, make_ctx, tmp_path) -> None:
    """A field of several addresses reads as its first for identity; erasure looks at each: a row
    that lists the erased person's address second is still theirs and lands blank."""
    ctx = _erased_saoirse(make_ctx, engine, tmp_path)
    _lead_csv(tmp_path / "landing/web/b.csv", [
        ["w5", '"office@ferncastle.de; S@example.com"', "Saoirse", "Quennell", "", "Ferncastle", "DE", ""],
        ["w6", '"bobs@example.com; tom@example.com"', "Bob", "Neighbour", "", "Acme", "DE", ""]])
    ingest_land(ctx)
    st = db.read_df(engine, sa.select(stg_inbound_leads).where(stg_inbound_leads.c.batch_id > 1)
                    .order_by(stg_inbound_leads.c.row_number))
    assert st["state"].tolist() == ["suppressed", "landed"]
    assert st["state_reason"].iloc[0] == "erased" and pd.isna(st["email"].iloc[0])
    assert st["first_name"].iloc[1] == "Bob"


def test_rejected_rows_of_an_erased_person_are_not_quarantined_in_clear(engine, make_ctx, tmp_path) -> None:
    ctx = _erased_saoirse(make_ctx, engine, tmp_path)
    bad_time = {"id": "e5", "lead": None, "email": "S+x@example.com", "type": "webinar", "at": "soon",
                "url": None}
    write(tmp_path / "landing/events/t.jsonl", "\n".join([
        json.dumps(bad_time),                                             # untypable: rejected
        '{"id": "e6", "email": "s@example.com", "type": ',                # malformed line
        json.dumps({**bad_time, "id": "e7", "email": "bobs@example.com"}),  # the neighbour
    ]) + "\n")
    res = ingest_land(ctx)
    assert sum(r["rows_rejected"] for r in res) == 3
    q = db.read_df(engine, sa.select(quarantine).order_by(quarantine.c.row_number))
    text = [json.dumps(r) for r in q["record"]]
    assert "example.com" not in text[0] + text[1]
    assert q["status"].tolist()[:2] == ["discarded", "discarded"]
    assert "bobs@example.com" in text[2] and q["status"].iloc[2] == "open"


def test_urls_lose_pii_parameters() -> None:
    urls = pd.Series([
        "https://x.io/demo?utm_source=google&email=s%40example.com&first_name=Ann&ln=Berg&utm_campaign=q4",
        "https://x.io/p?e=ann@x.io&phone=%2B4930555&ref=abc",
        "https://x.io/p?contact=ann.berg%40acme.io&tel=1",          # value looks like an address
        "https://x.io/p?x=%2B49%2030%205550199&id=1234",             # value looks like a phone
        "https://x.io/p?utm_content=1234567&page=2",                 # ids and digits stay
        "https://x.io/p#name=Ann&utm_source=x",
        "https://x.io/plain", None,
    ])
    out = strip_pii(urls)
    assert out[0] == "https://x.io/demo?utm_source=google&utm_campaign=q4"
    assert out[1] == "https://x.io/p?ref=abc"
    assert out[2] == "https://x.io/p"
    assert out[3] == "https://x.io/p?id=1234"
    assert out[4] == "https://x.io/p?utm_content=1234567&page=2"
    assert out[5] == "https://x.io/p#utm_source=x"
    assert out[6] == "https://x.io/plain" and out[7] is None or pd.isna(out[7])


def test_urls_are_stored_stripped(engine, make_ctx, tmp_path) -> None:
    ctx = _landing_ctx(make_ctx, engine, tmp_path)
    _lead_csv(tmp_path / "landing/web/a.csv",
              [["w1", "ann@x.io", "Ann", "Berg", "", "Acme", "DE",
                "https://x.io/d?utm_source=g&email=ann%40x.io&first_name=Ann"]])
    write(tmp_path / "landing/events/t.jsonl",
          json.dumps({"id": "e1", "lead": "w1", "email": "ann@x.io", "type": "webinar",
                      "at": "2026-11-26T10:00:00Z", "url": "https://x.io/w?name=Ann%20Berg&utm_medium=e"}) + "\n")
    ingest_land(ctx)
    assert db.read_df(engine, sa.select(stg_inbound_leads.c.landing_url))["landing_url"].tolist() == [
        "https://x.io/d?utm_source=g"]
    assert db.read_df(engine, sa.select(stg_touches.c.url))["url"].tolist() == ["https://x.io/w?utm_medium=e"]


def test_touch_urls_landed_before_stripping_are_stored_stripped(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    land(engine, [{"source_touch_id": "t1", "touch_type": "webinar", "email": "ann@x.io",
                   "occurred_at": "2026-11-25 10:00", "url": "https://x.io/w?fn=Ann&ln=Berg&utm_source=n"}],
         "events", kind="touches")
    load_touches(ctx)
    assert db.read_df(engine, sa.select(touches.c.url))["url"].tolist() == ["https://x.io/w?utm_source=n"]


# ---------------------------------------------------------------- end to end on the demo pipeline

RUN_DATE = date(2026, 11, 26)
EMAIL = "zq@ferncastle-robotics.de"
NEIGHBOUR = "kzq@ferncastle-robotics.de"
EMAIL_RE = re.compile(r"(?<![a-z0-9._%+-])zq(\+[^@\s\"',]*)?(@|%40)ferncastle-robotics\.de", re.IGNORECASE)
NEEDLES = [EMAIL_RE, re.compile("zebulon", re.IGNORECASE), re.compile("quixotewright", re.IGNORECASE),
           re.compile(r"5550\s?199")]


def _found(text: str) -> list[str]:
    return [n.pattern for n in NEEDLES if n.search(text)]


def _inject_subject(data: Path) -> None:
    """Append the subject (loaded, plus one rejected row) and a quarantined neighbour to the demo."""
    leads = max((data / "landing/web_leads").glob("leads_*.csv"))
    with leads.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    base = {h: "" for h in header}
    subj = {**base, "Lead ID": "WL-9900001", "Email Address": "ZQ@Ferncastle-Robotics.de",
            "First Name": "Zebulon", "Last Name": "Quixotewright", "Phone": "+49 30 5550199",
            "Company": "Ferncastle Robotics GmbH", "Website": "ferncastle-robotics.de",
            "Job Title": "Chief Executive Officer", "Employees": "250", "Industry": "Software",
            "Country": "Germany", "City": "Berlin", "Lead Source": "Website", "Channel": "Organic",
            "Landing Page": "https://www.brightpath-crm.com/demo?utm_source=google&email=zq%40ferncastle-"
                            "robotics.de&first_name=Zebulon&phone=%2B49305550199",
            "Created At": "2026-11-26 08:00:00"}
    rows = [subj,
            {**subj, "Lead ID": "WL-9900002", "Employees": "lots"},                   # rejected at ingest
            {**subj, "Lead ID": "WL-9900003", "Email Address": NEIGHBOUR, "First Name": "Kim",
             "Last Name": "Zhou", "Phone": "", "Employees": "many", "Landing Page": ""}]
    with leads.open("a", newline="", encoding="utf-8") as f:
        csv.DictWriter(f, fieldnames=header, quoting=csv.QUOTE_ALL).writerows(rows)
    events = max((data / "landing/events").glob("touches_*.jsonl"))
    with events.open("a", encoding="utf-8") as f:
        for i, kind in enumerate(["page_view", "pricing_page", "contact_sales"]):
            f.write(json.dumps({"event_id": f"EV-99000{i}", "lead_id": "WL-9900001", "email": EMAIL,
                                "event_type": kind, "timestamp": f"2026-11-26T09:0{i}:00Z",
                                "campaign": None, "channel": "Organic",
                                "url": f"https://www.brightpath-crm.com/x?name=Zebulon+Quixotewright&e={EMAIL}"})
                    + "\n")


def _scan_tables(engine: sa.Engine) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    with engine.connect() as c:
        for t in metadata.sorted_tables:
            cols = [col for col in t.columns if isinstance(col.type, (sa.Text, sa.String, sa.JSON))]
            for col in cols:
                for (v,) in c.execute(sa.select(sa.cast(col, sa.Text)).where(col.is_not(None))):
                    found = _found(str(v))
                    if found:
                        hits.setdefault(f"{t.name}.{col.name}", []).extend(found)
    return hits


def _file_text(p: Path) -> str:
    if p.suffix == ".xlsx":
        from openpyxl import load_workbook
        wb = load_workbook(p, read_only=True)
        return "\n".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True)
                         for v in row if v is not None)
    return p.read_text(encoding="utf-8", errors="replace")


def _scan_files(*dirs: Path) -> dict[str, list[str]]:
    out = {}
    for d in dirs:
        for p in d.rglob("*"):
            if p.is_file() and p.suffix in (".csv", ".xlsx", ".html", ".json"):
                found = _found(_file_text(p))
                if found:
                    out[str(p)] = found
    return out


@pytest.mark.slow
def test_erasure_leaves_no_trace_in_tables_lists_extracts_and_data_docs(tmp_path, db_url, monkeypatch,
                                                                        capsys) -> None:
    from leadflow import config as cfg
    from leadflow import demo, pipeline
    from leadflow.cli import main
    from leadflow.context import RunContext, make_run_id
    from leadflow.report import page
    from tests.conftest import demo_config
    p = demo_config(tmp_path, db_url, monkeypatch)
    monkeypatch.delenv("LEADFLOW_HASH_KEY", raising=False)
    demo.generate(tmp_path / "data", leads=300, seed=5, days=2, end_date=RUN_DATE)
    _inject_subject(tmp_path / "data")
    ctx = RunContext(cfg.load(p), db.engine(db_url), RUN_DATE, make_run_id("test", RUN_DATE), "test")
    pipeline.run_daily(ctx)
    page.build(ctx)
    reports = ctx.settings.reports_dir
    lists_dir = ctx.settings.lists_dir
    before_tables, before_files = _scan_tables(ctx.engine), _scan_files(lists_dir, reports)
    # the subject is everywhere the issue names before erasure (so the scans below can fail)
    for where in ("people.first_name", "stg_inbound_leads.email", "quarantine.record"):
        assert where in before_tables, where
    assert any(k.endswith(".csv") and "lead_lists" in k for k in before_files)
    assert any(k.endswith(".xlsx") for k in before_files) and any(k.endswith(".html") for k in before_files)
    n_neighbour = _neighbour_quarantine(ctx.engine)
    assert n_neighbour == 1
    rows_before = {f.name: len(pd.read_csv(f)) for f in (lists_dir / RUN_DATE.isoformat()).glob("*.csv")}

    assert main(["people", "erase", "--email", "zq+anything@FERNCASTLE-robotics.de", "--config", str(p)]) == 0
    printed = capsys.readouterr().out
    assert not _found(printed), printed
    assert "people: 1" in printed and "quarantine: 1" in printed and "lead_lists" in printed
    assert "demo hashing key" in printed                           # LEADFLOW_HASH_KEY unset here

    assert _scan_tables(ctx.engine) == {}
    assert _scan_files(lists_dir, reports, tmp_path / "reports" / "data_docs") == {}
    assert _neighbour_quarantine(ctx.engine) == n_neighbour        # exact match: the neighbour stays
    rows_after = {f.name: len(pd.read_csv(f)) for f in (lists_dir / RUN_DATE.isoformat()).glob("*.csv")}
    removed = sum(rows_before.values()) - sum(rows_after.values())
    assert removed == 1                                            # only the subject's row went
    # the subject's touches are kept for accounting, without their URLs
    pid = int(db.read_df(ctx.engine, sa.select(people.c.person_id).where(people.c.erased_at.is_not(None)))
              ["person_id"].iloc[0])
    t = db.read_df(ctx.engine, sa.select(touches).where(touches.c.person_id == pid))
    assert len(t) == 3 and t["url"].isna().all()
    # re-delivered as a +tag variant (and under a new id): suppressed and blanked at landing, every
    # row still accounted for; re-running the day does not bring the subject back anywhere
    web = tmp_path / "data/landing/web_leads"
    header = next(csv.reader(max((web / "archive").glob("leads_*.csv")).open(encoding="utf-8")))
    again = {h: "" for h in header} | {"Lead ID": "WL-9900009", "Email Address": "zq+promo@ferncastle-robotics.de",
                                        "First Name": "Zebulon", "Last Name": "Quixotewright",
                                        "Created At": "2026-11-26 11:00:00", "Country": "Germany"}
    with (web / "leads_2026-11-26_late.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerow(again)
    pipeline.run_daily(ctx)
    page.build(ctx)
    st = db.read_df(ctx.engine, sa.select(stg_inbound_leads.c.state, stg_inbound_leads.c.state_reason)
                    .where(stg_inbound_leads.c.batch_id == sa.select(sa.func.max(stg_inbound_leads.c.batch_id))
                           .scalar_subquery()))
    assert st.values.tolist() == [["suppressed", "erased"]]
    from tests.test_pipeline import _accounting
    _accounting(ctx.engine)
    assert count(ctx.engine, people, people.c.erased_at.is_(None), people.c.first_name == "Zebulon") == 0
    assert _scan_tables(ctx.engine) == {} and _scan_files(lists_dir, reports) == {}


def _neighbour_quarantine(engine: sa.Engine) -> int:
    q = db.read_df(engine, sa.select(quarantine.c.record))
    return int(sum(NEIGHBOUR in json.dumps(r) for r in q["record"]))


def test_erasures_from_before_tombstones_still_block(blank_db_url, make_ctx) -> None:
    """Migration 0003 keeps the old erasure list (plain SHA-256 of the address) as legacy tombstones."""
    import hashlib

    from leadflow.store import migrations
    eng = db.engine(blank_db_url)
    migrations.upgrade_to(eng, "0002")
    with eng.begin() as c:
        c.execute(sa.text("INSERT INTO erasures (email_hash, person_id, erased_at) VALUES (:h, 1, :at)"),
                  {"h": hashlib.sha256(b"s@example.com").hexdigest(), "at": datetime(2026, 1, 1)})
    migrations.upgrade_to(eng, "head")
    ctx = make_ctx(CONFIG, eng)
    land(eng, [{**SUBJECT, "email": " S@example.com"}, {**SUBJECT, "source_record_id": "w2",
                                                        "email": "bobs@example.com", "phone": None}])
    res = load_leads(ctx)
    assert res["suppressed"] == 1 and res["created"] == 1
    assert db.read_df(eng, sa.select(people.c.email_norm))["email_norm"].tolist() == ["bobs@example.com"]


def test_pages_lose_the_subjects_values_only(tmp_path, make_ctx, engine) -> None:
    from leadflow.privacy import files
    from leadflow.privacy.subject import Subject
    ctx = make_ctx({"paths": {"reports_dir": "reports", "lists_dir": "reports/lists"}}, engine)
    page = ctx.settings.reports_dir / "data_docs" / "v.html"
    page.parent.mkdir(parents=True)
    page.write_text("<td>s@example.com</td><td>bobs@example.com</td><td>+4930 5550199</td>"
                    "<td>Saoirse  Quennell</td><td>rows: 1234</td><td>n/a</td>", encoding="utf-8")
    sub = Subject(email_keys={"s@example.com"}, person_ids=[], clear={
        "emails": {"s@example.com"}, "phones": {"+4930 5550199", "n/a", "1234"},
        "names": {"Saoirse Quennell", "X Y"}})
    out = files.scrub(ctx.settings, sub)
    assert out == {str(page): "values replaced: 3"}
    assert page.read_text() == ("<td>[erased]</td><td>bobs@example.com</td><td>[erased]</td>"
                                "<td>[erased]</td><td>rows: 1234</td><td>n/a</td>")


def test_lead_lists_lose_the_subjects_rows_and_empty_lists_go(tmp_path, make_ctx, engine) -> None:
    from leadflow.handoff import lists
    from leadflow.privacy import files
    from leadflow.privacy.subject import Subject
    ctx = make_ctx({"paths": {"reports_dir": "reports", "lists_dir": "reports/lists"}}, engine)
    day = ctx.settings.lists_dir / "2026-11-26"
    day.mkdir(parents=True)
    subj = {"name": "Saoirse Quennell", "email": "s@example.com", "handoff_id": 7, "person_id": 17}
    other = {"name": "Bob Neighbour", "email": "bobs@example.com", "handoff_id": 8, "person_id": 18}
    for owner, rows in (("ava", [subj]), ("noah", [other, subj])):
        df = pd.DataFrame(rows)
        (day / f"{owner}.csv").write_bytes(lists.csv_bytes(df))
        (day / f"{owner}.xlsx").write_bytes(lists.xlsx_bytes(df, owner))
        (day / f"{owner}.html").write_text(lists.to_html_text(df, owner), encoding="utf-8")
    out = files.scrub(ctx.settings, Subject(email_keys={"s@example.com"}, person_ids=[17], handoff_ids=[7],
                                             clear={"emails": {"s@example.com"}}))
    assert sorted(p.name for p in day.iterdir()) == ["noah.csv", "noah.html", "noah.xlsx"]
    assert {Path(k).name: v for k, v in out.items()} == {
        "ava.csv": "deleted", "ava.xlsx": "deleted", "ava.html": "deleted",
        "noah.csv": "rows removed: 1", "noah.xlsx": "rows removed: 1", "noah.html": "rows removed: 1"}
    for f in day.iterdir():
        text = _file_text(f)
        assert "bobs@example.com" in text and "Saoirse" not in text
        assert not re.search(r"(?<![\w.+-])s@example\.com", text)
    assert '<p class="lead">1 lead,' in (day / "noah.html").read_text()


def test_erasing_a_filler_address_blanks_it_wherever_typed_and_erases_no_stranger(engine, make_ctx) -> None:
    """noemail@gmail.com names no person in the warehouse (identity reads it as no address), but
    it is a mailbox someone owns: an erasure naming it is honoured, not refused. Every landed row
    that typed it is blanked and a later row typing it is suppressed; the strangers who typed it
    are people of their own (their names and phones) and are not erased through it."""
    ctx = make_ctx(CONFIG, engine)
    land(engine, STRANGERS_BEHIND_A_FILLER)
    load_leads(ctx)
    out = erase(ctx, "noemail@gmail.com")
    assert out["person_ids"] == []
    assert count(engine, people, people.c.erased_at.is_not(None)) == 0 and count(engine, people) == 2
    stg = db.read_df(engine, sa.select(stg_inbound_leads).order_by(stg_inbound_leads.c.row_number))
    assert stg["email"].isna().all()                  # the address went from every row typing it
    assert stg["first_name"].tolist() == ["Ann", "Bob"] and stg["phone"].notna().all()   # theirs stayed
    land(engine, [{"source_record_id": "f3", "email": "noemail@gmail.com", "first_name": "Cara",
                   "last_name": "Diaz"},
                  {"source_record_id": "f1", "email": "ann.lee@acme.com", "first_name": "Ann",
                   "last_name": "Lee", "phone": "+44 20 7946 0001"}])   # Ann's own id and phone: not blocked
    assert load_leads(ctx)["suppressed"] == 1
