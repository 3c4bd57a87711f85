"""One vocabulary for parsing: ingest coercion, quality and cleaning read yes/no words and
timestamps the same way, and an unreadable opt-out never means "contact"."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.clean import standardise_leads, to_utc
from leadflow.config import Source
from leadflow.errors import LeadflowError
from leadflow.handoff.mail import DeliveryError
from leadflow.ingest import coerce
from leadflow.ingest.mapping import map_frame
from leadflow.quality.prepare import prepare
from leadflow.quality.suites import load_suite
from leadflow.vocab import booleans, datetimes
from leadflow.vocab.connections import airflow_connection
from leadflow.vocab.emails import email_hash, email_hash_of, normalise_address

PKG = Path(__file__).resolve().parents[1] / "leadflow"
WORDS = sorted(booleans.TRUE_WORDS | booleans.FALSE_WORDS)


def _ingest(values: list[object]) -> tuple[pd.Series, pd.Series]:
    return coerce.to_bool(pd.Series(values, dtype=object))


def _quality(values: list[object]) -> tuple[pd.Series, np.ndarray]:
    suite = load_suite("inbound_leads")
    typed, bad = prepare(suite, pd.DataFrame({"opt_out": pd.Series(values, dtype=object)}), ["opt_out"])
    return typed["opt_out"], bad.get("opt_out_type", np.zeros(len(values), dtype=bool))


def _clean(values: list[object]) -> pd.Series:
    return standardise_leads(pd.DataFrame({"opt_out": pd.Series(values, dtype=object)}))["opt_out"]


def test_every_stage_reads_the_same_yes_no_words() -> None:
    words = WORDS + [w.upper() for w in WORDS] + [f"  {w} " for w in WORDS]
    expected = [w.strip().lower() in booleans.TRUE_WORDS for w in words]
    ing, ing_bad = _ingest(words)
    q, q_bad = _quality(words)
    assert not ing_bad.any() and not q_bad.any()
    assert ing.tolist() == expected
    assert q.tolist() == expected
    assert _clean(words).tolist() == expected


@pytest.mark.parametrize("word", ["x", "X", "opted out", "Unsubscribed"])
def test_words_cleaning_accepted_are_now_read_by_ingest_and_quality_too(word: str) -> None:
    ing, ing_bad = _ingest([word])
    q, q_bad = _quality([word])
    assert (bool(ing.iloc[0]), bool(ing_bad.iloc[0])) == (True, False)
    assert (bool(q.iloc[0]), bool(q_bad[0])) == (True, False)


def _unreadable(v: str) -> bool:
    return v.strip() != "" and v.strip().lower() not in booleans.TRUE_WORDS | booleans.FALSE_WORDS


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=12).filter(_unreadable))
def test_unreadable_opt_out_resolves_to_do_not_contact_in_every_stage(value: str) -> None:
    # shared rule
    assert booleans.opt_out_flags(pd.Series([value], dtype=object)).tolist() == [True]
    assert booleans.consent_flags(pd.Series([value], dtype=object)).tolist() == [False]
    # ingest: the row is rejected (never landed as "may contact") and its signal kept
    _, bad = _ingest([value])
    assert bad.tolist() == [True]
    src = Source.model_validate({"name": "web", "owner": "ops", "kind": "inbound_leads",
                                 "connector": {"type": "file", "path": "x"},
                                 "mapping": {"Email": "email", "Opt": "opt_out"}})
    m = map_frame(src, pd.DataFrame({"Email": ["ann@example.com"], "Opt": [value]}, dtype=object),
                  np.array([1]))
    assert m.frame.empty and len(m.rejects) == 1
    assert m.signals["signal"].tolist() == ["opt_out"]
    # quality: the row fails opt_out_type (quarantined, never passed)
    _, q_bad = _quality([value])
    assert q_bad.tolist() == [True]
    # cleaning: opted out
    assert _clean([value]).tolist() == [True]


def test_missing_opt_out_is_no_signal_in_every_stage() -> None:
    vals = [None, "", "   "]
    _, bad = _ingest(vals[:1])
    assert not bad.any()
    assert _clean(vals).tolist() == [False, False, False]
    assert booleans.opt_out_flags(pd.Series(vals, dtype=object)).tolist() == [False, False, False]


DATES = ["2026-11-01T10:00:00Z", "2026-11-01 12:00:00+02:00", "2026-11-02", "02 Nov 2026 08:30",
         "Nov 3, 2026", "not a date", None, datetime(2026, 11, 4, 9, 30),
         datetime(2026, 11, 4, 9, 30, tzinfo=UTC)]


def test_every_stage_reads_timestamps_the_same_way() -> None:
    s = pd.Series(DATES, dtype=object)
    shared, shared_bad = datetimes.parse_datetimes(s)
    ing, ing_bad = coerce.to_datetime(s)
    suite = load_suite("inbound_leads")
    q, q_bad = prepare(suite, pd.DataFrame({"created_at": s}), ["created_at"])
    pd.testing.assert_series_equal(ing, shared, check_names=False)
    # quality hands GX nanosecond timestamps (compared vectorised); the values are the same
    assert str(q["created_at"].dtype) == "datetime64[ns]"
    pd.testing.assert_series_equal(q["created_at"].astype("datetime64[us]"), shared.reset_index(drop=True),
                                   check_names=False)
    pd.testing.assert_series_equal(to_utc(s), shared, check_names=False)
    assert ing_bad.tolist() == shared_bad.tolist() == q_bad["created_at_type"].tolist()
    assert shared_bad.tolist() == [False] * 5 + [True] + [False] * 3
    assert shared.iloc[1] == pd.Timestamp("2026-11-01 10:00")


def test_airflow_connection_reader_is_one_line_on_failure(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SOME_API", "http://u:p%40w@api.test:8443/db")
    c = airflow_connection("some_api", "source crm")
    assert (c.host, c.port, c.login, c.password) == ("api.test", 8443, "u", "p@w")
    with pytest.raises(DeliveryError) as e:
        airflow_connection("missing_conn_xyz", "delivery.smtp", DeliveryError)
    assert str(e.value).startswith("delivery.smtp: cannot read Airflow connection 'missing_conn_xyz'")
    assert "\n" not in str(e.value) and isinstance(e.value, LeadflowError)


def _sources() -> dict[str, str]:
    return {str(p.relative_to(PKG)): p.read_text(encoding="utf-8") for p in PKG.rglob("*.py")
            if "vocab" not in p.parts and "demo" not in p.parts}


@pytest.mark.parametrize("pattern", [
    r"Connection\.get\(|get_connection\(",            # Airflow connection readers
    r"[\"']unsubscribed[\"']|[\"']opted out[\"']",    # private yes/no word lists
    r"format=\"ISO8601\"",                            # private timestamp parsers
])
def test_one_implementation_of_each_reader(pattern: str) -> None:
    hits = [name for name, text in _sources().items() if re.search(pattern, text)]
    allowed = {"report/marts.py", "score/warehouse.py", "store/frames.py"}  # warehouse text the store wrote, not input
    assert [h for h in hits if h not in allowed] == []


def test_channel_is_an_open_vocabulary_with_the_raw_value_kept() -> None:
    """Raw channel labels map onto the canonical list (value maps, then canonical spelling,
    else ``other``); the delivered value is kept as ``channel_raw``; a mapped column declared as
    an attribute feeds both."""
    src = Source.model_validate({"name": "mqls", "owner": "ops", "kind": "inbound_leads",
                                 "connector": {"type": "file", "path": "x"},
                                 "mapping": {"id": "source_record_id", "origin": "channel"},
                                 "value_maps": {"channel": {"social": "paid_social", "unknown": None}},
                                 "attributes": {"origin": "capture"}})
    raw = pd.DataFrame({"id": ["1", "2", "3", "4", "5"],
                        "origin": ["social", "Paid Search", "organic_search", "unknown", None]}, dtype=object)
    m = map_frame(src, raw, np.arange(1, 6))
    assert m.frame["channel"].tolist() == ["paid_social", "paid_search", "other", None, None]
    assert m.attrs["channel_raw"].tolist() == ["social", "Paid Search", "organic_search", "unknown", None]
    assert m.attrs["origin"].tolist()[:3] == ["social", "Paid Search", "organic_search"]
    assert "channel_raw" in m.attribute_columns and "origin" in m.attribute_columns


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), st.just(np.nan), st.sampled_from(["a@x.io", "b@y.io", "=cmd@z.io", "é@ü.de"]),
                          st.text(min_size=0, max_size=12)), max_size=40))
def test_email_hash_is_each_values_own_sha256_and_keeps_na(values: list) -> None:
    """``email_hash`` hashes each distinct address once and spreads the hashes back by position
    (issue 17: a first load's million addresses): every row still gets the SHA-256 of its own
    value, a missing value stays missing, and the index is kept."""
    s = pd.Series(values, dtype=object, index=[f"r{i}" for i in range(len(values))])
    got = email_hash(s)
    assert list(got.index) == list(s.index)
    want = [email_hash_of(v) for v in values]      # the single-row path (``frames.with_derived``)
    assert [None if pd.isna(v) else v for v in got] == want
    assert email_hash(s.astype("str")).isna().tolist() == s.isna().tolist()


@pytest.mark.parametrize("values, expected", [
    # a day above 12 says the column is written day first: 03/11 is the 3rd of November
    (["28/11/2026", "03/11/2026 09:15", "05.11.2026"], ["2026-11-28", "2026-11-03 09:15", "2026-11-05"]),
    # a second number above 12 says month first: 11/03 is the 3rd of November
    (["11/28/2026", "11/03/2026", "12-01-2026"], ["2026-11-28", "2026-11-03", "2026-12-01"]),
    # nothing to go on: month first (pandas' and most US exports' order), as before
    (["11/03/2026", "05/05/2026"], ["2026-11-03", "2026-05-05"]),
    # both orders in one column: the ambiguous value cannot be read; the others can
    (["28/11/2026", "11/28/2026", "03/04/2026", "05/05/2026"], ["2026-11-28", "2026-11-28", None, "2026-05-05"]),
])
def test_day_and_month_order_is_read_from_the_column(values: list[str], expected: list[str | None]) -> None:
    """Numeric dates (28/11/2026) are read in the order the column itself shows: a day-first
    export must not have every date up to the 12th of the month silently swapped."""
    got, bad = datetimes.parse_datetimes(pd.Series(values, dtype=object))
    want = pd.Series([pd.Timestamp(v) if v else pd.NaT for v in expected]).astype("datetime64[us]")
    pd.testing.assert_series_equal(got, want, check_names=False)
    assert bad.tolist() == [v is None for v in expected]


EMAILS = {
    "Ann@Example.COM": "ann@example.com",
    "Ann Lee <ann@example.com>": "ann@example.com",          # a mail client's "Name <address>"
    "\"Lee, Ann\" <ann@example.com>": "ann@example.com",
    "ann@example.com\u200b": "ann@example.com",               # zero-width space from copy-paste
    "\ufeffann@example.com": "ann@example.com",               # a byte-order mark
    "\u00a0ann@example.com\u00a0": "ann@example.com",         # no-break spaces around
    "ＡＮＮ@ｅｘａｍｐｌｅ.com": "ann@example.com",             # full-width forms
    "ann@example.com.": "ann@example.com",                    # the sentence's full stop
    "ann@exämple.com": "ann@exämple.com",                     # an internationalised domain
    "ann@@example.com": None,
    # a CRM's field of several addresses reads as its first, the primary one (an opt-out blocks
    # each: tests/test_optout.py); a list holding anything unreadable stays unreadable
    "ann@example.com;bob@example.com": "ann@example.com", "ann@example.com, bob@example.com": "ann@example.com",
    "Ann <ann@example.com> <bob@example.com>": "ann@example.com", "ann@example.com; bob@@example.com": None,
    "=HYPERLINK(\"x\")@a.com": None, "ann\u00a0@example.com": None, "ann@localhost": None,
}


def test_every_stage_reads_an_address_the_same_way() -> None:
    """What identity keys a person on (``normalise_address``) is what quality lets through: an
    address quality quarantines is unusable to identity, and one identity can read is not
    quarantined (an internationalised domain was; 'Name <address>' was unreadable to both)."""
    s = pd.Series(list(EMAILS), dtype=object)
    norm = normalise_address(s)
    assert [None if pd.isna(v) else v for v in norm] == list(EMAILS.values())
    suite = load_suite("inbound_leads")
    frame = pd.DataFrame({"email": s, "source_record_id": [f"r{i}" for i in range(len(s))]})
    from leadflow.quality.frame import evaluate
    ev = evaluate("inbound_leads", frame, datetime(2026, 11, 26), {}, suite=suite, dataset=False,
                  scopes=("chunk",))
    why = dict(zip(np.flatnonzero(ev.failed), ev.reasons))
    bad_syntax = ["email_syntax" in why.get(i, []) for i in range(len(s))]
    assert bad_syntax == [v is None for v in EMAILS.values()]


def test_unix_epoch_times_are_read_in_seconds_or_milliseconds() -> None:
    """APIs and their JSON exports (HubSpot, Marketo) send times as epoch seconds or
    milliseconds; 8 digits stay a compact date (20261103), other digit runs stay unreadable."""
    s = pd.Series(["1762164000", "1762164000000", "1762164000.5", "20261103", "12345", "17621640000"], dtype=object)
    got, bad = datetimes.parse_datetimes(s)
    assert got.tolist()[:4] == [pd.Timestamp("2025-11-03 10:00"), pd.Timestamp("2025-11-03 10:00"),
                                pd.Timestamp("2025-11-03 10:00:00.5"), pd.Timestamp("2026-11-03")]
    assert bad.tolist() == [False, False, False, False, True, True]


@pytest.mark.parametrize("word, value", [("checked", True), ("Unchecked", False), ("✓", True), ("✔", True),
                                         ("☑", True), ("✅", True), ("☐", False)])
def test_a_form_tools_checkbox_is_a_yes_no_value(word: str, value: bool) -> None:
    """Form and survey tools export a ticked box as 'checked' or a check mark: read as yes (an
    empty box as no) by every stage, instead of an unreadable flag that rejects the row."""
    got, bad = booleans.parse_bools(pd.Series([word], dtype=object))
    assert got.tolist() == [value] and not bad.any()
    assert _ingest([word])[0].tolist() == [value] and _clean([word]).tolist() == [value]


def test_a_field_listing_several_addresses_reads_as_its_first():
    from leadflow.vocab.emails import addresses_listed, normalise_address
    vals = pd.Series(["Ann@X.com; b@y.com", "ann@x.com, b@y.com", "ann@x.com / b@y.com", "ann@x.com  b@y.com",
                      "Ann Lee <ann@x.com>; Bo <b@y.com>", "ann@x.com; call me", "ann@x.com"])
    got = normalise_address(vals).tolist()
    assert got[:5] == ["ann@x.com"] * 5
    assert pd.isna(got[5]) and got[6] == "ann@x.com"          # a list of anything else stays unreadable
    listed = addresses_listed(vals)
    assert listed.loc[listed["row"] == 0, "address"].tolist() == ["ann@x.com", "b@y.com"]
    assert listed.loc[listed["row"] == 6, "address"].tolist() == ["ann@x.com"]
    assert 5 not in set(listed["row"])


@pytest.mark.parametrize("word", ["Subscribed", "opted in", "Opted-In", "opt in"])
def test_a_subscription_state_word_reads_as_not_opted_out(word: str) -> None:
    """An email tool's 'Subscription status' column (Subscribed / Unsubscribed) mapped to
    opt_out: 'Subscribed' is a readable no, so a subscribed lead is not blocked as unreadable
    (every subscribed lead was); 'Unsubscribed' stays a yes."""
    from leadflow.vocab.booleans import opt_out_flags, parse_bools
    s = pd.Series([word, "Unsubscribed"], dtype=object)
    val, bad = parse_bools(s)
    assert val.tolist() == [False, True] and not bad.any()
    assert opt_out_flags(s).tolist() == [False, True]


def test_an_excel_serial_date_is_read() -> None:
    """A date column Excel saved as 'General' holds serial days since 1899-12-30 (45987 is
    2025-11-26), a fraction being the time of day; other 5-digit runs stay unreadable."""
    s = pd.Series(["45987", "45987.5", " 46352.25 ", "12345", "99999"], dtype=object)
    got, bad = datetimes.parse_datetimes(s)
    assert got.tolist()[:3] == [pd.Timestamp("2025-11-26"), pd.Timestamp("2025-11-26 12:00"),
                                pd.Timestamp("2026-11-26 06:00")]
    assert bad.tolist() == [False, False, False, True, True]


def test_yes_and_no_in_the_languages_exports_are_written_in() -> None:
    """A CRM with a German, French, Spanish, Dutch or Nordic interface exports its check boxes as
    Ja/Nein, Oui/Non, Sí/No ...: readable answers, not unreadable flags (an unreadable opt-out
    blocks the lead and quarantines the row)."""
    from leadflow.vocab.booleans import parse_bools
    yes = ["Ja", "Oui", "Sí", "Si", "Sim", "Tak", "Kyllä", "Evet"]
    no = ["Nein", "Non", "Nee", "Nej", "Nei", "Não", "Nao", "Nie", "Ei", "Hayır"]
    val, bad = parse_bools(pd.Series(yes + no + ["vielleicht"], dtype=object))
    assert val.tolist()[:-1] == [True] * len(yes) + [False] * len(no)
    assert bad.tolist() == [False] * (len(yes) + len(no)) + [True]


def test_a_time_with_a_zone_abbreviation_or_in_javascript_form_is_read() -> None:
    """'10:00 PST', '10:00 CEST' and JavaScript's Date string (what web-form tools post:
    'Thu Nov 26 2026 10:00:00 GMT+0100 (Central European Standard Time)') were unreadable, so the
    lead was quarantined. Read in UTC; an abbreviation naming two zones (CST, IST, BST) stays
    unreadable rather than guessed."""
    s = pd.Series(["2026-11-26 10:00:00 PST", "2026-11-26 10:00 EST", "2026-07-01 10:00 EDT",
                   "2026-11-26 10:00:00 CET", "2026-07-01 10:00 CEST", "26 Nov 2026 10:00 JST",
                   "Thu Nov 26 2026 10:00:00 GMT+0100 (Central European Standard Time)",
                   "Thu Nov 26 2026 10:00:00 GMT-0500 (Eastern Standard Time)",
                   "2026-11-26 10:00 UTC+05:30", "2026-11-26 10:00 CST", "2026-11-26 10:00 IST"], dtype=object)
    got, bad = datetimes.parse_datetimes(s)
    want = ["2026-11-26 18:00", "2026-11-26 15:00", "2026-07-01 14:00", "2026-11-26 09:00", "2026-07-01 08:00",
            "2026-11-26 01:00", "2026-11-26 09:00", "2026-11-26 15:00", "2026-11-26 04:30"]
    assert got.tolist()[:9] == [pd.Timestamp(w) for w in want]
    assert bad.tolist() == [False] * 9 + [True, True]


def test_a_zone_word_does_not_change_how_a_column_orders_its_numeric_dates() -> None:
    """A value naming a zone is read in the day/month order its column shows, like the rest: in
    a day-first column ('28/11/2026'), '03/04/2026 10:00 CET' is 3 April."""
    s = pd.Series(["28/11/2026", "03/04/2026", "03/04/2026 10:00 CET"], dtype=object)
    got, bad = datetimes.parse_datetimes(s)
    assert got.tolist() == [pd.Timestamp("2026-11-28"), pd.Timestamp("2026-04-03"), pd.Timestamp("2026-04-03 09:00")]
    assert not bad.any()


@pytest.mark.parametrize("formats", [["%m/%d/%Y %I:%M %p"], ["%d.%m.%Y %H:%M"], ["%d/%m/%Y"], ["%b %d, %Y"],
                                     ["%d-%b-%Y %H:%M:%S"], ["%A, %B %d, %Y"], ["%m/%d/%y"],
                                     ["%m/%d/%Y %I:%M %p", "%b %d, %Y", "%Y/%m/%d %H:%M", "%d %B %Y"]])
def test_guessed_formats_read_what_the_value_by_value_parser_reads(formats) -> None:
    """The fast path (a format guessed from the column, applied vectorised) must give exactly what
    pandas' value-by-value parser gives, in the column's day/month order, for every value."""
    import random
    rng = random.Random(len(formats) * 7 + len(formats[0]))
    base = datetime(2020, 1, 1)
    stamps = [base + pd.Timedelta(minutes=rng.randrange(0, 60 * 24 * 365 * 8)) for _ in range(600)]
    txt = pd.Series([t.strftime(rng.choice(formats)) for t in stamps], dtype=object)
    got, bad = datetimes.parse_datetimes(txt)
    day_first, ambiguous = datetimes.day_order(txt)
    ref = pd.to_datetime(txt, format="mixed", dayfirst=day_first, utc=True, errors="coerce")
    ref = ref.where(~ambiguous).dt.tz_convert(None).astype("datetime64[us]")
    pd.testing.assert_series_equal(got, ref, check_names=False)
    assert bad.tolist() == ref.isna().tolist()
