"""The suites, the vectorised translators, and their agreement with Great Expectations."""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow import canonical
from leadflow.quality import validate_frame
from leadflow.quality.frame import evaluate, parameters
from leadflow.quality.suites import SUITE_KINDS, gx_suite, load_suite
from leadflow.quality.testing import CRAFT_PARAMS, crafted, good_row

AS_OF = datetime(2026, 11, 26, 23, 59, 59)


@pytest.fixture(scope="module")
def gxrun():
    from leadflow.quality.gxrun import GxRun
    return GxRun(None)


@pytest.mark.parametrize("kind", SUITE_KINDS)
def test_suite_is_valid_gx_json(kind: str) -> None:
    suite = load_suite(kind)
    gx = gx_suite(suite)
    assert len(gx.expectations) == len(suite.checks)
    assert {c.level for c in suite.checks} <= {"row", "dataset"}


@pytest.mark.parametrize("kind,column,values", [
    ("inbound_leads", "channel", canonical.CHANNELS),
    ("touches", "touch_type", canonical.TOUCH_TYPES),
    ("touches", "channel", canonical.CHANNELS),
    ("campaign_spend", "channel", canonical.CHANNELS),
    ("crm_outcomes", "status", canonical.OUTCOME_STATUSES),
    ("crm_outcomes", "selling_step", canonical.SELLING_STEPS),
    ("crm_outcomes", "reason_code", canonical.REJECTION_REASONS),
])
def test_allowed_values_match_canonical(kind: str, column: str, values: tuple[str, ...]) -> None:
    """The JSON suites spell the vocabulary out (reviewable); it must not drift from canonical.py."""
    sets = [c.kwargs["value_set"] for c in load_suite(kind).checks
            if c.type == "expect_column_values_to_be_in_set" and c.column == column]
    assert sets and sorted(sets[0]) == sorted(values)


@pytest.mark.parametrize("kind", SUITE_KINDS)
def test_crafted_batch_fails_exactly_the_broken_rows(kind: str) -> None:
    df, expected = crafted(kind)
    passed, failed = validate_frame(kind, df, AS_OF, CRAFT_PARAMS)
    assert len(passed) + len(failed) == len(df)
    got = {i: set(r) for i, r in zip(failed.index, failed["reasons"])}
    for i, exp in enumerate(expected):
        assert got.get(i, set()) == exp, f"row {i}: expected {exp}, got {got.get(i, set())}"
    # every row-level expectation of the suite was exercised by some crafted row
    exercised = set().union(*expected)
    assert {c.name for c in load_suite(kind).row_checks} <= exercised


@pytest.mark.parametrize("kind", SUITE_KINDS)
def test_translator_counts_equal_gx_counts(kind: str, gxrun) -> None:
    """Same failing rows per expectation from GX itself and from the translators."""
    df, _ = crafted(kind)
    suite = load_suite(kind)
    ev = evaluate(kind, df, AS_OF, CRAFT_PARAMS)
    checks = tuple(c for c in suite.row_checks if c.name not in ev.skipped)
    res = gxrun.validate(suite, checks, ev.prepared, parameters(suite, AS_OF, CRAFT_PARAMS), f"agree.{kind}")
    assert set(res) == {c.name for c in checks}
    for c in checks:
        assert "error" not in res[c.name], res[c.name]
        assert res[c.name]["unexpected_count"] == ev.counts.get(c.name, 0), c.name


def test_dataset_checks_agree_with_gx(gxrun) -> None:
    suite = load_suite("inbound_leads")
    df = pd.DataFrame([good_row("inbound_leads", i) for i in range(10)])
    df.loc[:6, "email"] = None            # 30% emails: below the 50% floor
    p = {"min_rows": 20}                   # 10 rows against a history that says >= 20
    ev = evaluate("inbound_leads", df, AS_OF, p)
    assert ev.dataset["email_missing_share"]["success"] is False
    assert ev.dataset["row_count_vs_history"]["success"] is False
    assert ev.dataset["company_missing_share"]["success"] is True
    res = gxrun.validate(suite, suite.dataset_checks, ev.prepared, parameters(suite, AS_OF, p), "agree.ds")
    for name, r in ev.dataset.items():
        assert res[name]["success"] == r["success"], name


def test_missing_share_only_for_mapped_fields() -> None:
    df = pd.DataFrame([good_row("inbound_leads", i) for i in range(4)]).assign(email=None, source_record_id="x")
    df["source_record_id"] = [f"id{i}" for i in range(4)]
    ev = evaluate("inbound_leads", df, AS_OF, mapped_fields={"source_record_id", "company"})
    assert "email_missing_share" not in ev.dataset and "email_missing_share" in ev.skipped


def test_unknown_parameters_skip_their_checks() -> None:
    df = pd.DataFrame([good_row("touches", 1) | {"campaign_id": "nowhere"}])
    passed, failed = validate_frame("touches", df, AS_OF)      # no known_campaign_ids given
    assert len(passed) == 1 and failed.empty
    passed, failed = validate_frame("touches", df, AS_OF, {"known_campaign_ids": {"c1"}})
    assert failed["reasons"].iloc[0] == ["campaign_known"]


def test_future_is_relative_to_as_of_not_wall_clock() -> None:
    df = pd.DataFrame([good_row("inbound_leads", 1) | {"created_at": datetime(2020, 6, 1)}])
    _, failed = validate_frame("inbound_leads", df, datetime(2020, 5, 31))
    assert failed["reasons"].iloc[0] == ["created_at_not_future"]
    _, failed = validate_frame("inbound_leads", df, datetime(2020, 6, 2))
    assert failed.empty


# ----------------------------------------------------------------------------- hypothesis junk
CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
EMAIL = re.compile(load_suite("inbound_leads").check("email_syntax").kwargs["regex"])
TEXT_MAX = {c.column: c.kwargs["max_value"] for c in load_suite("inbound_leads").checks
            if c.type == "expect_column_value_lengths_to_be_between"}

junk_text = st.one_of(
    st.just(""), st.just("   "), st.text(max_size=8),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=31), min_size=1, max_size=4),
    st.integers(0, 600).map(lambda n: "x" * n), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False),
)
junk_time = st.one_of(
    st.just("1900-01-01"), st.just("2999-12-31"), st.just("yesterday"), st.just(""),
    st.datetimes(min_value=datetime(1800, 1, 1), max_value=datetime(3000, 1, 1)), st.integers(0, 10),
)
junk_size = st.one_of(st.just("abc"), st.just(""), st.integers(-10, 20_000_000), st.floats(0, 10, allow_nan=False),
                      st.just("12"))


def oracle(row: dict) -> set[str]:
    """Expected reasons for one junk lead, computed value by value (independent of pandas)."""
    why: set[str] = set()

    def text(v):
        if v is None:
            return None
        s = str(v).strip()
        return s or None
    for f in ("first_name", "company", "email"):
        s = text(row[f])
        if s is None:
            continue
        if f == "email":
            s = s.lower()
            if not EMAIL.search(s):
                why.add("email_syntax")
        if CTRL.search(s):
            why.add(f"{f}_no_control_chars")
        if len(s) > TEXT_MAX[f]:
            why.add(f"{f}_length")
    t = row["created_at"]
    if isinstance(t, str) and t.strip() == "":
        t = None
    if isinstance(t, int) or (isinstance(t, str) and t not in ("1900-01-01", "2999-12-31")):
        why.add("created_at_type")
    elif t is not None:
        ts = pd.Timestamp(t)
        if ts > pd.Timestamp(AS_OF):
            why.add("created_at_not_future")
        if ts < pd.Timestamp("1990-01-01"):
            why.add("created_at_not_ancient")
    v = row["company_size"]
    if isinstance(v, str) and v.strip() == "":
        v = None
    if v is not None:
        try:
            num = float(v)
        except ValueError:
            why.add("company_size_type")
        else:
            if num % 1:
                why.add("company_size_type")
            elif not 1 <= num <= 10_000_000:
                why.add("company_size_range")
    return why


# Fewer, bigger batches: the cost is per validate_frame call, the coverage per junk row.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({"first_name": junk_text, "company": junk_text, "email": junk_text,
                                       "created_at": junk_time, "company_size": junk_size}),
                min_size=1, max_size=40))
def test_hypothesis_junk_goes_to_quarantine_with_the_right_reasons(junk: list[dict]) -> None:
    rows = [good_row("inbound_leads", i) | j for i, j in enumerate(junk)]
    # one untouched good row: it must always pass
    rows.append(good_row("inbound_leads", 999))
    df = pd.DataFrame(rows)
    for c in ("first_name", "company", "email", "created_at", "company_size"):
        df[c] = pd.Series([r[c] for r in rows], dtype=object)
    passed, failed = validate_frame("inbound_leads", df, AS_OF)
    assert len(passed) + len(failed) == len(df)
    got = {i: set(r) for i, r in zip(failed.index, failed["reasons"])}
    for i, row in enumerate(rows):
        exp = oracle(row)
        assert got.get(i, set()) == exp, (i, {k: row[k] for k in junk[0]} if i < len(junk) else row, got.get(i))
    assert len(df) - 1 in passed.index


def test_prepare_does_not_change_the_returned_rows() -> None:
    df = pd.DataFrame([good_row("inbound_leads", 1) | {"email": "  Ann@Example.COM "}])
    passed, _ = validate_frame("inbound_leads", df, AS_OF)
    assert passed["email"].iloc[0] == "  Ann@Example.COM "


def test_reasons_follow_rows_in_order() -> None:
    df, expected = crafted("touches")
    ev = evaluate("touches", df, AS_OF, CRAFT_PARAMS)
    idx = np.flatnonzero(ev.failed)
    assert [set(r) for r in ev.reasons] == [expected[i] for i in idx]
