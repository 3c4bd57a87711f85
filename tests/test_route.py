"""Routing: owner first, territory, weighted round-robin, caps, out of office, fallback; SLA."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from leadflow.config import Routing
from leadflow.route import route
from leadflow.route.allocate import allocate
from leadflow.route.sla import business_due

D = date(2026, 11, 26)   # a Thursday


def _routing(**kw) -> Routing:
    doc = {"reps": [
        {"id": "ann", "name": "Ann", "weight": 3, "capacity_per_day": 1000, "timezone": "Europe/Berlin"},
        {"id": "bob", "name": "Bob", "weight": 1, "capacity_per_day": 1000, "timezone": "America/New_York"},
        {"id": "cat", "name": "Cat", "capacity_per_day": 1000,
         "out_of_office": [{"start": "2026-11-20", "end": "2026-11-30"}]},
        {"id": "dan", "name": "Dan", "capacity_per_day": 1000}],
        "territories": [{"name": "dach_ent", "countries": ["DE", "AT", "CH"], "min_company_size": 1000,
                         "reps": ["dan", "cat"]}]}
    doc.update(kw)
    return Routing.model_validate(doc)


def _leads(n: int, **cols) -> pd.DataFrame:
    base = {"person_id": np.arange(1, n + 1), "priority": np.linspace(90, 10, n),
            "country": ["US"] * n, "company_size": [50] * n, "domain": [None] * n,
            "account_id": [None] * n, "account_owner": [None] * n}
    base.update(cols)
    return pd.DataFrame(base)


def test_account_owner_first_then_named_accounts_and_ooo_owner_skipped() -> None:
    r = _routing(account_owners={"named.test": "bob"})
    df = _leads(4, account_id=[1, 2, 3, 4], domain=["a.test", "named.test", "c.test", "d.test"],
                account_owner=["dan", None, "cat", "ghost"])
    out = route(df, r, D).set_index("person_id")
    assert out.loc[1, "owner_rep"] == "dan" and out.loc[1, "route_rule"] == "account_owner"
    assert out.loc[2, "owner_rep"] == "bob" and out.loc[2, "route_rule"] == "account_owner"
    assert "routing.account_owners" in out.loc[2, "route_reason"]["matched"]
    # cat is out of office: the lead goes on to round-robin, and the reason says why.
    assert out.loc[3, "route_rule"] == "round_robin" and out.loc[3, "owner_rep"] != "cat"
    assert out.loc[3, "route_reason"]["skipped"][0] == {"rule": "account_owner", "owner": "cat",
                                                         "why": "owner out of office"}
    assert out.loc[4, "route_reason"]["skipped"][0]["why"] == "owner is not a configured rep"


def test_territory_by_country_and_size_skips_ooo_rep() -> None:
    df = _leads(4, country=["DE", "de", "DE", "FR"], company_size=[5000, 2000, 10, 5000])
    out = route(df, _routing(), D).set_index("person_id")
    assert out.loc[[1, 2], "route_rule"].tolist() == ["territory:dach_ent"] * 2
    assert out.loc[[1, 2], "owner_rep"].tolist() == ["dan", "dan"]          # cat is out of office
    assert {"rule": "territory:dach_ent", "rep": "cat", "why": "out of office"} in \
        out.loc[1, "route_reason"]["skipped"]
    assert out.loc[[3, 4], "route_rule"].tolist() == ["round_robin"] * 2    # too small / wrong country


def test_weighted_round_robin_follows_weights_and_never_uses_ooo_reps() -> None:
    out = route(_leads(500), _routing(), D)
    n = out["owner_rep"].value_counts()
    assert "cat" not in n
    # weights ann 3, bob 1, dan 1 -> 300 / 100 / 100
    assert (n["ann"], n["bob"], n["dan"]) == (300, 100, 100)
    # Highest-priority lead goes to the highest-weight rep; order is interleaved, not blocks.
    assert out.iloc[0]["owner_rep"] == "ann"
    assert set(out.head(5)["owner_rep"]) >= {"ann", "bob", "dan"}


def test_caps_count_todays_handoffs_and_overflow_to_fallback() -> None:
    r = _routing(reps=[{"id": "ann", "name": "Ann", "capacity_per_day": 3},
                       {"id": "bob", "name": "Bob", "capacity_per_day": 2}], territories=[])
    out = route(_leads(8), r, D, today_counts={"ann": 1})
    n = out["owner_rep"].value_counts().to_dict()
    assert n == {"ann": 2, "bob": 2, "unassigned": 4}
    fb = out[out["owner_rep"] == "unassigned"]
    assert (fb["route_rule"] == "fallback").all()
    # the lowest-priority leads are the ones left over
    assert fb["priority"].max() < out[out["owner_rep"] != "unassigned"]["priority"].min()
    assert any("capacity" in s["why"] for s in fb.iloc[0]["route_reason"]["skipped"])


def test_fallback_when_nobody_is_configured_or_available() -> None:
    out = route(_leads(2), Routing(), D)
    assert out["owner_rep"].tolist() == ["unassigned"] * 2
    r = _routing(reps=[{"id": "ann", "name": "Ann", "out_of_office": [{"start": D, "end": D}]}],
                 territories=[], fallback_queue="sdr_pool")
    out = route(_leads(2), r, D)
    assert out["owner_rep"].tolist() == ["sdr_pool"] * 2
    assert {"rule": "round_robin", "rep": "ann", "why": "out of office"} in out.iloc[0]["route_reason"]["skipped"]


def test_routing_is_deterministic_and_order_independent() -> None:
    df = _leads(200, country=np.where(np.arange(200) % 3 == 0, "DE", "US"), company_size=[5000] * 200)
    a = route(df, _routing(), D).sort_values("person_id")
    b = route(df.sample(frac=1, random_state=3), _routing(), D).sort_values("person_id")
    assert a["owner_rep"].tolist() == b["owner_rep"].tolist()


def test_colleagues_from_one_account_go_to_one_rep_when_the_cap_allows() -> None:
    r = _routing(reps=[{"id": "ann", "name": "Ann", "capacity_per_day": 3},
                       {"id": "bob", "name": "Bob", "capacity_per_day": 3}], territories=[])
    df = _leads(5, account_id=[7, 8, 7, 7, 8])
    out = route(df, r, D).set_index("person_id")
    assert out.loc[[1, 3, 4], "owner_rep"].nunique() == 1
    assert out.loc[[2, 5], "owner_rep"].nunique() == 1
    assert out["owner_rep"].value_counts().max() <= 3


def test_allocate_never_exceeds_caps_with_big_accounts() -> None:
    units = np.array(["a"] * 4 + ["b"] * 3 + list("cdefg"))
    got, used = allocate(units, np.array([1.0, 1.0]), np.array([0, 0]), np.array([5, 5]))
    counts = np.bincount(got[got >= 0], minlength=2)
    assert counts.tolist() == [5, 5] and (got == -1).sum() == 2


@pytest.mark.parametrize("start,hours,tz,expected", [
    # Thu 23:59 UTC = Fri 00:59 Berlin -> Fri 09:00 + 4h = 13:00 Berlin = 12:00 UTC
    (datetime(2026, 11, 26, 23, 59, 59), 4, "Europe/Berlin", datetime(2026, 11, 27, 12, 0)),
    # Fri 23:59 UTC, NY 18:59 Fri -> Mon 09:00 + 4h = 13:00 NY = 18:00 UTC
    (datetime(2026, 11, 27, 23, 59, 59), 4, "America/New_York", datetime(2026, 11, 30, 18, 0)),
    # 24 business hours = three 8-hour days
    (datetime(2026, 11, 26, 23, 59, 59), 24, "UTC", datetime(2026, 12, 1, 17, 0)),
    # during business hours: Mon 10:00 UTC + 3h
    (datetime(2026, 11, 30, 10, 0), 3, "UTC", datetime(2026, 11, 30, 13, 0)),
])
def test_sla_due_in_business_hours(start, hours, tz, expected) -> None:
    assert business_due(start, hours, tz) == expected
