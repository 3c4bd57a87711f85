"""Identity on a messy export with its own truth: junk is not evidence, no chaining, and the
people do not depend on how the rows were split into files (tests/identity_messy.py)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow import config as cfg
from leadflow.clean import standardise_leads
from leadflow.context import RunContext, make_run_id
from leadflow.identity import evidence, load_leads
from leadflow.identity.resolve import resolve
from leadflow.identity.synth import pair_metrics
from leadflow.store import db
from leadflow.store.schema import person_records
from tests.conftest import write_config
from tests.identity_helpers import CONFIG, land
from tests.identity_messy import messy_export

PRECISION, RECALL = 0.995, 0.98


@pytest.fixture(scope="module", params=[11, 2, 3])
def export(request) -> pd.DataFrame:
    """Three generated exports: the rules are not tuned to one draw."""
    return messy_export(300, seed=request.param)


def _resolve(df: pd.DataFrame, with_flags: bool = True) -> np.ndarray:
    raw = df.drop(columns=["truth"])
    st = standardise_leads(raw)
    if with_flags:
        st = evidence.add_junk_flags(st, raw)
    assign, _ = resolve(st)
    return assign["cluster"].to_numpy()


def test_messy_export_pair_precision(export: pd.DataFrame) -> None:
    m = pair_metrics(export["truth"].to_numpy(), _resolve(export))
    assert m["true_pairs"] > 400
    assert m["precision"] >= PRECISION, m


RECALL_NOW = 0.965      # measured 0.970 / 0.987 / 0.974 (seeds 11 / 2 / 3; 0.947 / 0.956 / 0.937 without rare names)


def test_messy_export_rare_names_recover_name_only_records(export: pd.DataFrame) -> None:
    """A name that only one person in the export bears ties a record with nothing else
    (leadflow/identity/rarity.py); without that rule recall is 0.937-0.956."""
    m = pair_metrics(export["truth"].to_numpy(), _resolve(export))
    assert m["recall"] >= RECALL_NOW, m


_SHORT = pytest.mark.xfail(strict=True, reason=(
    "recall 0.970 / 0.974 on seeds 11 / 3 (0.987 on seed 2). What is missed there is tied by a name alone and is "
    "either ambiguous (a namesake or a same-named colleague fits as well) or a personal address without an "
    "organisation, which is as often a namesake with a personal address as the same person: taking those costs "
    "precision (measured 0.976 on seed 3; python -m tests.identity_messy_misses; docs/identity.md 'Known limits')"))


@pytest.mark.parametrize("seed", [pytest.param(11, marks=_SHORT), 2, pytest.param(3, marks=_SHORT)])
def test_messy_export_pair_recall(seed: int) -> None:
    export = messy_export(300, seed=seed)
    m = pair_metrics(export["truth"].to_numpy(), _resolve(export))
    assert m["recall"] >= RECALL, m


def _without_junk_rule(monkeypatch) -> None:
    monkeypatch.setattr(evidence, "junk_mask", lambda df, field: np.zeros(len(df), dtype=bool))
    monkeypatch.setattr(evidence, "spread_junk",
                        lambda keys: {c: np.zeros(len(keys), dtype=bool) for c in ("phone_k", "co_k", "name")})


def test_junk_read_as_evidence_splits_people(export: pd.DataFrame, monkeypatch) -> None:
    """The export's junk is the kind that matters: read as disagreement, it splits one person."""
    with_rule = pair_metrics(export["truth"].to_numpy(), _resolve(export))
    _without_junk_rule(monkeypatch)
    without = pair_metrics(export["truth"].to_numpy(), _resolve(export))
    assert without["recall"] < with_rule["recall"] - 0.02
    assert without["precision"] <= with_rule["precision"]


def test_junk_values_would_merge_strangers_without_the_rule(monkeypatch) -> None:
    """On seed 11 the junk also merges different people when read as evidence (shared
    placeholders and fake phones); on seeds 2 and 3 it happens not to."""
    export = messy_export(300, seed=11)
    with_rule = pair_metrics(export["truth"].to_numpy(), _resolve(export))
    _without_junk_rule(monkeypatch)
    without = pair_metrics(export["truth"].to_numpy(), _resolve(export))
    assert without["precision"] < PRECISION <= with_rule["precision"]


def test_shared_junk_never_merges_strangers() -> None:
    """Many people typing the same placeholder name, company and phone stay apart."""
    junk = [("test", "test", "N/A", "0000000000"), ("Select", "-", "Select", "=1+1"),
            ("=HYPERLINK(\"http://x\",\"a\")", "asdf", "@SUM(1+1)", None),
            ("😀", "😀", "'; DROP TABLE leads;--", "1234567890")]
    rows = [{"email": f"person{i}{k}@gmail.com", "first_name": f, "last_name": la, "company": c, "phone": p}
            for k, (f, la, c, p) in enumerate(junk) for i in range(6)]
    st = evidence.add_junk_flags(standardise_leads(pd.DataFrame(rows)), pd.DataFrame(rows))
    assign, reviews = resolve(st)
    assert assign["cluster"].nunique() == len(rows)
    assert reviews.empty


def _ctx(path, url: str) -> RunContext:
    settings = cfg.load(write_config(path, CONFIG))
    eng = db.engine(url)
    db.init(eng)
    return RunContext(settings, eng, date(2026, 11, 26), make_run_id("test", date(2026, 11, 26)), "test")


def _people_after(tmp_path, name: str, parts: list[pd.DataFrame]) -> pd.Series:
    """Load the parts as successive files into a fresh SQLite warehouse; person id per row key."""
    ctx = _ctx(tmp_path / f"{name}.yaml", f"sqlite:///{tmp_path}/{name}.db")
    for part in parts:
        land(ctx.engine, part.drop(columns=["truth"]), "crm")
        load_leads(ctx)
    got = db.read_df(ctx.engine, sa.select(person_records.c.source_record_id, person_records.c.person_id))
    return got.set_index("source_record_id")["person_id"]


def _partition(pid: pd.Series) -> set[frozenset[str]]:
    return {frozenset(g.index) for _, g in pid.groupby(pid)}


def _split_loads(export: pd.DataFrame, tmp_path) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    df = export.assign(source_record_id=export["source_record_id"].fillna(
        pd.Series([f"R{i:05d}" for i in range(len(export))], index=export.index)))
    half = np.random.default_rng(5).random(len(df)) < 0.5
    a, b = df[half], df[~half]
    whole = _people_after(tmp_path, "whole", [df])
    ab = _people_after(tmp_path, "ab", [a, b])
    ba = _people_after(tmp_path, "ba", [b, a])
    return df.set_index("source_record_id")["truth"], whole, ab, ba


@pytest.fixture(scope="module")
def splits(export: pd.DataFrame, tmp_path_factory) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """The export loaded as one file, as A then B, and as B then A (once per export)."""
    return _split_loads(export, tmp_path_factory.mktemp("split"))


def test_file_split_keeps_precision(splits) -> None:
    truth, whole, ab, ba = splits
    for got in (whole, ab, ba):
        m = pair_metrics(truth.to_numpy(), got.reindex(truth.index).to_numpy())
        assert m["precision"] >= PRECISION, m


def test_file_split_in_either_order_gives_the_same_people(splits) -> None:
    _, whole, ab, ba = splits
    assert _partition(ab) == _partition(ba)
    assert _partition(ab) == _partition(whole)
