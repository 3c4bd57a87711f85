"""The suites, Great Expectations deciding the row split, custom expectations, load-time checks."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow import canonical
from leadflow.errors import ConfigError
from leadflow.quality import validate_frame
from leadflow.quality.frame import evaluate
from leadflow.quality.suites import SUITE_KINDS, gx_suite, load_suite
from leadflow.quality.testing import CRAFT_PARAMS, crafted, good_row
from leadflow.vocab.emails import normalise_address

AS_OF = datetime(2026, 11, 26, 23, 59, 59)


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
    suite = load_suite(kind)
    sets = [c.kwargs["value_set"] for c in suite.checks
            if c.type == "expect_column_values_to_be_in_set" and c.column == column]
    sets = [suite.parameters[s["$PARAMETER"]] if isinstance(s, dict) else s for s in sets]
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


def test_dataset_checks_come_from_gx() -> None:
    df = pd.DataFrame([good_row("inbound_leads", i) for i in range(10)])
    df.loc[:6, "email"] = None            # 30% emails: below the 50% floor
    p = {"min_rows": 20}                   # 10 rows against a history that says >= 20
    ev = evaluate("inbound_leads", df, AS_OF, p)
    assert ev.dataset["email_missing_share"] == {"success": False, "observed": 0.3, "expected": ">= 0.5"}
    assert ev.dataset["row_count_vs_history"] == {"success": False, "observed": 10, "expected": "20..None"}
    assert ev.dataset["company_missing_share"]["success"] is True


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
            if pd.isna(normalise_address(pd.Series([s], dtype=object)).iloc[0]):   # identity's reader
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


# ----------------------------------------------------------------------------- any GX expectation
#: Three expectation types no leadflow code knows: a column map over the whole source (z-scores
#: need every row), a column map with a row_condition, and a dataset-level one.
NEW_EXPECTATIONS = [
    {"type": "expect_column_value_z_scores_to_be_less_than",
     "kwargs": {"column": "company_size", "threshold": 3, "double_sided": True}},
    {"type": "expect_column_value_lengths_to_equal",
     "kwargs": {"column": "country", "value": 2, "row_condition": 'channel=="paid_social"',
                "condition_parser": "pandas"}},
    {"type": "expect_column_max_to_be_between", "kwargs": {"column": "company_size", "max_value": 1000}},
]


def suite_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[dict], kind: str = "inbound_leads") -> Path:
    """A copy of expectations/ with ``extra`` appended to one suite, used by load_suite."""
    src = Path(__file__).resolve().parents[1] / "expectations"
    dst = tmp_path / "expectations"
    shutil.copytree(src, dst)
    doc = json.loads((dst / f"{kind}.json").read_text())
    doc["expectations"].extend(extra)
    (dst / f"{kind}.json").write_text(json.dumps(doc, indent=2))
    monkeypatch.setenv("LEADFLOW_EXPECTATIONS_DIR", str(dst))
    return dst / f"{kind}.json"


def outlier_frame(n: int = 30) -> pd.DataFrame:
    rows = [good_row("inbound_leads", i) for i in range(n)]
    rows[3]["company_size"] = 9_000_000                           # z-score far above 3
    rows[5] |= {"channel": "paid_social", "country": "GBR"}       # in the condition's scope: fails
    rows[6] |= {"channel": "paid_search", "country": "GBR"}       # out of scope: passes
    return pd.DataFrame(rows)


def test_unknown_gx_types_decide_quarantine_with_gx_names(tmp_path, monkeypatch) -> None:
    suite_copy(tmp_path, monkeypatch, NEW_EXPECTATIONS)
    suite = load_suite("inbound_leads")
    new = {c.name: c for c in suite.checks if c.type in {x["type"] for x in NEW_EXPECTATIONS}}
    assert {n: (c.level, c.scope) for n, c in new.items()} == {
        "expect_column_value_z_scores_to_be_less_than": ("row", "source"),
        "expect_column_value_lengths_to_equal": ("row", "chunk"),
        "expect_column_max_to_be_between": ("dataset", "dataset")}
    df = outlier_frame()
    ev = evaluate("inbound_leads", df, AS_OF)
    got = {int(i): r for i, r in zip(np.flatnonzero(ev.failed), ev.reasons)}
    assert got == {3: ["expect_column_value_z_scores_to_be_less_than"],
                   5: ["expect_column_value_lengths_to_equal"]}
    assert ev.dataset["expect_column_max_to_be_between"] == {
        "success": False, "observed": 9_000_000, "expected": "None..1000"}


@pytest.mark.parametrize("bad,problem", [
    ({"type": "expect_column_values_to_match_strftime_format", "kwargs": {"column": "created_at"}},
     "strftime_format"),
    ({"type": "expect_column_values_to_be_purple", "kwargs": {"column": "email"}}, "unknown expectation type"),
    ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "company_size", "min_value": "x",
                                                               "max_value": 1, "strict_min": "maybe"}},
     "strict_min"),
])
def test_invalid_expectation_is_a_one_line_config_error(tmp_path, monkeypatch, bad, problem) -> None:
    path = suite_copy(tmp_path, monkeypatch, [bad | {"meta": {"name": "my_check"}}])
    with pytest.raises(ConfigError) as ei:
        load_suite("inbound_leads")
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith(f"{path}: expectation #") and "(my_check)" in msg
    assert problem in msg


def test_dataset_type_cannot_be_a_row_check(tmp_path, monkeypatch) -> None:
    suite_copy(tmp_path, monkeypatch, [{"type": "expect_table_row_count_to_equal", "kwargs": {"value": 3},
                                        "meta": {"level": "row"}}])
    with pytest.raises(ConfigError, match="cannot quarantine rows"):
        load_suite("inbound_leads")


def test_sources_check_fails_on_an_invalid_suite(tmp_path, monkeypatch) -> None:
    """``leadflow sources check`` loads every suite: exit code and one line, no traceback."""
    import subprocess
    import sys

    from tests.conftest import ROOT, write_config
    suite_copy(tmp_path, monkeypatch, [{"type": "expect_column_values_to_be_purple", "kwargs": {"column": "email"}}])
    cfg = write_config(tmp_path / "leadflow.yaml", {"sources": []})
    out = subprocess.run([sys.executable, "-m", "leadflow", "sources", "check", "--config", str(cfg)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**__import__("os").environ, "LEADFLOW_EXPECTATIONS_DIR": str(tmp_path / "expectations")})
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    err = [line for line in out.stderr.splitlines() if "expect_column_values_to_be_purple" in line]
    assert err and "inbound_leads.json" in err[0] and "unknown expectation type" in err[0]


# ----------------------------------------------------------------------------- custom expectations
def test_custom_expectations_are_registered_gx_expectations() -> None:
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.registry import get_expectation_impl

    from leadflow.quality.custom import CUSTOM_TYPES
    from leadflow.quality.engine import gx
    gx()
    for t in CUSTOM_TYPES:
        assert issubclass(get_expectation_impl(t), ColumnMapExpectation)
    used = {c.type for k in SUITE_KINDS for c in load_suite(k).checks}
    assert set(CUSTOM_TYPES) <= used


def test_custom_expectation_from_json_with_mostly_and_condition(tmp_path, monkeypatch) -> None:
    """Usable from JSON like any GX type: its own name as reason, row_condition honoured."""
    suite_copy(tmp_path, monkeypatch, [
        {"type": "expect_column_values_to_not_be_in_the_future",
         "kwargs": {"column": "created_at", "run_date": "2026-06-01T00:00:00",
                    "row_condition": 'channel=="webinar"', "condition_parser": "pandas"}}])
    rows = [good_row("inbound_leads", i) for i in range(3)]
    rows[0] |= {"channel": "webinar", "created_at": datetime(2026, 7, 1)}
    rows[1] |= {"channel": "email", "created_at": datetime(2026, 7, 1)}
    _, failed = validate_frame("inbound_leads", pd.DataFrame(rows), AS_OF)
    assert list(failed.index) == [0]
    assert failed["reasons"].iloc[0] == ["expect_column_values_to_not_be_in_the_future"]


def test_data_docs_render_the_real_results(tmp_path) -> None:
    from leadflow.quality import docs
    df, _ = crafted("inbound_leads")
    results: list = []
    evaluate("inbound_leads", df, AS_OF, CRAFT_PARAMS, docs=results)
    docs.save_results(tmp_path, "run:1", results)
    index = docs.build(tmp_path)
    html = "".join(p.read_text(errors="ignore") for p in index.parent.rglob("*.html"))
    assert "deliverable syntax" in html and "must not be after the run date" in html   # custom renderers
    assert "not-an-email" not in html and "person1001" not in html                     # counts, never values


def test_expectation_gx_cannot_run_is_a_config_error(tmp_path, monkeypatch) -> None:
    """Valid for GX at load, but the data has no such column: one line, never an internal error."""
    path = suite_copy(tmp_path, monkeypatch, [{"type": "expect_column_values_to_not_be_null",
                                               "kwargs": {"column": "no_such_column"}}])
    df = pd.DataFrame([good_row("inbound_leads", 1)])
    with pytest.raises(ConfigError) as ei:
        validate_frame("inbound_leads", df, AS_OF)
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith(f"{path}: expectation expect_column_values_to_not_be_null")
    assert "no_such_column" in msg and "cannot run" in msg


def test_value_set_parameters_shrink_to_present_values_without_changing_verdicts() -> None:
    """A shared $PARAMETER set used on two columns keeps every value present in either."""
    from leadflow.quality.engine import gx_parameters
    checks = [{"type": "expect_column_values_to_be_in_set",
               "kwargs": {"column": c, "value_set": {"$PARAMETER": "known"}}} for c in ("a", "b")]
    frame = pd.DataFrame({"a": ["x", "y", None], "b": ["z", "q", "x"]})
    out = gx_parameters(checks, frame, {"known": {"x", "z", "w"}, "unused": {"u"}})
    assert out == {"known": ["x", "z"]}
