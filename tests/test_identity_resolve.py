"""The resolver as pure functions: evidence rules, blocking, warehouse matching, precision/recall."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadflow.clean import standardise_leads
from leadflow.identity import evidence
from leadflow.identity.resolve import (
    Encoded,
    Thresholds,
    candidate_pairs,
    completed,
    match_keys,
    resolve,
    resolve_people,
)
from leadflow.identity.synth import generate, pair_metrics

ROOT = Path(__file__).resolve().parents[1]


def _frame(rows: list[dict]) -> pd.DataFrame:
    return standardise_leads(pd.DataFrame(rows))


def _same(assign: pd.DataFrame, i: int, j: int) -> bool:
    a, b = assign.iloc[i], assign.iloc[j]
    if pd.notna(a["person_id"]) or pd.notna(b["person_id"]):
        return a["person_id"] == b["person_id"]
    return a["cluster"] == b["cluster"]


BASE = {"first_name": "Robert", "last_name": "Kowalski", "email": "robert.kowalski@initech.com",
        "company": "Initech LLC", "phone": "+1 415 555 0134", "country": "US"}


@pytest.mark.parametrize("variant", [
    {"first_name": "Bob", "email": "bob.k@initech.com"},                            # nickname
    {"first_name": "Kowalski", "last_name": "Robert", "email": "rk@initech.com"},   # swapped
    {"last_name": "Kowalsky", "email": "r.kowalski@initech.com"},                   # typo
    {"email": "robert.kowalski+webinar@initech.com", "last_name": None},            # +tag alias
    {"email": "robertkowalski@gmail.com", "company": "Globex", "phone": "(415) 555-0134"},  # job change
])
def test_duplicate_variants_merge(variant: dict) -> None:
    st = _frame([BASE, {**BASE, **variant}])
    assign, _ = resolve(st)
    assert _same(assign, 0, 1)
    assert assign["match_rule"].iloc[1].startswith("fuzzy:")


@pytest.mark.parametrize("other", [
    {"first_name": "Maria", "email": "maria.kowalski@initech.com", "phone": None},  # relative/colleague
    {"email": "robert.kowalski2@initech.com", "phone": None},          # numbered mailbox: a namesake
    {"email": "robert.kowalski@umbrella.com", "company": "Umbrella", "phone": "+1 212 555 0199"},
])
def test_different_people_stay_apart(other: dict) -> None:
    st = _frame([BASE, {**BASE, **other}])
    assign, _ = resolve(st)
    assert not _same(assign, 0, 1)


def test_gmail_dots_and_same_address_are_exact() -> None:
    st = _frame([{"email": "Jane.Roe@gmail.com", "first_name": "Jane", "last_name": "Roe"},
                 {"email": " jane.roe@GMAIL.com", "first_name": "J", "last_name": "Roe"},
                 {"email": "janeroe@googlemail.com", "first_name": "Jane", "last_name": "Roe"}])
    assign, _ = resolve(st)
    assert assign["match_rule"].tolist()[:2] == ["new", "email"]
    assert _same(assign, 0, 2) and _same(assign, 0, 1)


def test_uncertain_pair_is_returned_for_review() -> None:
    st = _frame([{"email": "kai.norden@initech.com", "first_name": "Kai", "last_name": "Norden",
                  "company": "Initech"},
                 {"email": "kainorden77@gmail.com", "first_name": "Kai", "last_name": "Norden"}])
    th = Thresholds()
    assign, reviews = resolve(st, th=th)
    assert not _same(assign, 0, 1)
    assert len(reviews) == 1 and th.review <= reviews["score"].iloc[0] < th.auto


def test_matches_people_already_in_the_warehouse_and_known_aliases() -> None:
    people = _frame([BASE]).assign(person_id=[41])
    known = pd.DataFrame({"email_norm": ["rk.private@yahoo.com"], "person_id": [41]})
    st = _frame([{**BASE, "first_name": "Bobby", "email": "bobby@initech.com"},
                 {"email": "RK.private@yahoo.com"},
                 {"first_name": "Ann", "last_name": "Lee", "email": "ann@lee.dev"}])
    assign, _ = resolve(st, people, known)
    assert assign["person_id"].tolist()[:2] == [41, 41]
    assert assign["match_rule"].iloc[1] == "email"
    assert pd.isna(assign["person_id"].iloc[2]) and assign["match_rule"].iloc[2] == "new"


def test_a_record_tying_two_existing_people_joins_them_as_one_file_would() -> None:
    """robert.kowalski@ and rob.kowalski@ at one company, same name: loaded together they are one
    person (direct evidence between two mailbox holders). Loaded apart (two people) and tied by
    a later record, they become one person too: the older survives, the other is merged."""
    rob = {**BASE, "email": "rob.kowalski@initech.com", "phone": None}
    one_file, _ = resolve(_frame([BASE, rob]))
    assert one_file["cluster"].nunique() == 1
    people = _frame([BASE, rob]).assign(person_id=[1, 2])
    r = resolve_people(_frame([{**BASE, "email": "robert.kowalski@initech.com"}]), people)
    assert r.assign["person_id"].tolist() == [1]
    assert r.merged[["survivor_id", "merged_id"]].to_numpy().tolist() == [[1, 2]]
    assert r.reviews.empty


def test_a_record_resembling_two_existing_mailbox_holders_merges_nobody() -> None:
    """Jana Weber (j.weber@) and her namesake colleague (j.weber2@) are two people in the
    warehouse; a record without an address resembling both joins neither, nobody is merged, the
    pair goes to review; and a pair a reviewer kept apart is never merged."""
    jana = {"first_name": "Jana", "last_name": "Weber", "company": "Acme", "email": "j.weber@acme.io"}
    people = _frame([jana, {**jana, "email": "j.weber2@acme.io"}]).assign(person_id=[1, 2])
    r = resolve_people(_frame([{**jana, "email": None, "company": "Acme GmbH"}]), people)
    assert r.merged.empty and r.assign["person_id"].isna().all()
    assert {tuple(sorted(x)) for x in r.reviews[["a", "b"]].to_numpy().tolist()} >= {(0, 1), (0, 2)}
    rob = {**BASE, "email": "rob.kowalski@initech.com", "phone": None}
    people = _frame([BASE, rob]).assign(person_id=[1, 2])
    kept = resolve_people(_frame([BASE]), people, apart=pd.DataFrame({"person_a": [1], "person_b": [2]}))
    assert kept.merged.empty and kept.assign["person_id"].tolist() == [1]


def test_blocking_keeps_pairs_near_linear() -> None:
    def n_pairs(n: int) -> tuple[int, int]:
        keys = match_keys(standardise_leads(generate(n, seed=5)))
        return len(candidate_pairs(keys, len(keys), 60)), len(keys)
    small, n_small = n_pairs(1500)
    big, n_big = n_pairs(6000)
    growth = (big / small) / (n_big / n_small)
    assert growth < 1.5, growth          # all-pairs comparison would grow 4x faster than the input
    assert big < 5 * n_big               # a handful of candidate pairs per record


def test_precision_recall_on_synthetic_duplicates() -> None:
    df = generate(3000, seed=9)
    assign, _ = resolve(standardise_leads(df))
    pred = np.where(assign["person_id"].isna(), assign["cluster"], -1)
    m = pair_metrics(df["truth_person_id"].to_numpy(), pred)
    assert m["true_pairs"] > 500
    assert m["precision"] >= 0.99 and m["recall"] >= 0.9, m


def test_precision_recall_on_the_demo_generator(tmp_path: Path) -> None:
    from leadflow import config as cfg
    from leadflow import demo
    from leadflow.demo.truth import load_truth
    from leadflow.ingest import read_mapped
    demo.generate(tmp_path, leads=6000, seed=21, days=3)
    src = cfg.load(ROOT / "leadflow.yaml").source("web_leads")
    frames = []
    for f in sorted((tmp_path / "landing" / "web_leads").glob("*.csv")):
        frames.append(read_mapped(src, f).assign(file=f.name))
    df = pd.concat(frames, ignore_index=True)
    truth = load_truth(tmp_path).records[["file", "row_number", "truth_person_id"]]
    df = df.merge(truth, on=["file", "row_number"], how="left", validate="one_to_one")
    assert df["truth_person_id"].notna().all()
    assign, _ = resolve(standardise_leads(df))
    pred = np.where(assign["person_id"].isna(), assign["cluster"], -1)
    m = pair_metrics(df["truth_person_id"].to_numpy(), pred)
    assert m["true_pairs"] > 800
    assert m["precision"] >= 0.99 and m["recall"] >= 0.95, m


def test_a_company_known_by_its_domain_meets_one_known_by_its_name() -> None:
    """Björn at "Stark Industries" (a CRM row, family name junk) and Björn Dubois whose only
    organisation is his ``stark.com`` mailbox share no company name and no domain: a block on the
    organisation's first word brings them together, and the rare given name joins them."""
    rows = [{"first_name": "Björn", "last_name": "+cmd|' /C calc'!A0", "company": "Stark Industries Ltd",
             "source_record_id": "c1"},
            {"first_name": "Björn", "last_name": "Dubois", "email": "bjorn.dubois@stark.com"}]
    raw = pd.DataFrame(rows)
    st = evidence.add_junk_flags(standardise_leads(raw), raw)
    assert len(candidate_pairs(evidence.clean_keys(match_keys(st), st), 2, 60)) == 1
    assign, _ = resolve(st)
    assert _same(assign, 0, 1)


def test_a_person_completed_from_its_records_meets_its_mailbox() -> None:
    """A CRM row "Oliver" at Acme (family name junk) and a personal ``oliver.brandt54@`` record
    share a phone: together they are Oliver Brandt at Acme, and join his Acme mailbox, although
    neither record alone could (a colleague Oliver Moreau at Acme makes the bare given name
    common; the personal record shows no organisation)."""
    rows = [{"first_name": "Oliver", "last_name": "Brandt", "company": "Acme Inc.", "email": "oliver.brandt@acme.io"},
            {"first_name": "Oliver", "last_name": "+cmd|' /C calc'!A0", "company": "ACME LLC",
             "phone": "+49 30 1062599", "source_record_id": "c1"},
            {"first_name": "asdf", "last_name": "Brandt", "email": "oliver.brandt54@yahoo.com",
             "phone": "0049 301062599"},
            {"first_name": "Oliver", "last_name": "Moreau", "company": "Acme", "email": "o.moreau@acme.io"}]
    raw = pd.DataFrame(rows)
    assign, _ = resolve(evidence.add_junk_flags(standardise_leads(raw), raw))
    assert _same(assign, 0, 1) and _same(assign, 0, 2) and not _same(assign, 0, 3)
    assert assign["match_rule"].str.endswith("+person").any()


def test_a_component_with_two_family_names_completes_nothing() -> None:
    """The CRM row "Oliver" at Acme tied by a phone to records of two family names (a shared
    line) takes neither name: it stays ambiguous between the two Olivers."""
    rows = [{"first_name": "Oliver", "last_name": "-", "company": "Acme", "phone": "+49 30 1062599",
             "source_record_id": "c1"},
            {"first_name": "Oliver", "last_name": "Brandt", "company": "Acme", "email": "oliver.brandt@acme.io"},
            {"first_name": "Oliver", "last_name": "Moreau", "company": "Acme", "email": "o.moreau@acme.io"}]
    raw = pd.DataFrame(rows)
    st = evidence.add_junk_flags(standardise_leads(raw), raw)
    enc = Encoded(evidence.clean_keys(match_keys(st), st))
    full, filled = completed(enc, np.array([0, 0, 0]))
    assert not filled[0]
    full, filled = completed(enc, np.array([0, 0, 1]))
    assert filled[0] and full.strings("last_k", np.array([0]))[0][0] == "brandt"


def test_an_existing_person_resembling_two_mailbox_holders_alike_joins_neither() -> None:
    """Ruth Okafor with a personal address at Nakatomi resembles ruthokafor@ and its numbered
    colleague ruthokafor2@ alike. As a record of the same file she joins neither (step 4);
    as a person already in the warehouse she follows the same rule, so the split does not
    decide whom she joins."""
    ruth = {"first_name": "Ruth", "last_name": "Okafor", "company": "Nakatomi GmbH",
            "email": "ruth.okafor10@yahoo.com", "phone": "(030) 473-7917", "country": "DE"}
    boxes = [{**ruth, "email": "ruthokafor2@nakatomi.nl", "phone": None},
             {**ruth, "email": "ruthokafor@nakatomi.nl", "phone": None}]
    one_file, _ = resolve(_frame([ruth, *boxes]))
    assert one_file["cluster"].nunique() == 3
    r = resolve_people(_frame(boxes), _frame([ruth]).assign(person_id=[7]))
    assert r.assign["person_id"].isna().all() and r.assign["cluster"].nunique() == 2
