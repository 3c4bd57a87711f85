"""Routing: who gets each qualified lead, and a recorded "why this owner".

Order of rules (``routing:`` in leadflow.yaml):
1. ``account_owner`` — the account's owner: ``routing.account_owners`` (named accounts by domain)
   first, else ``accounts.owner_rep`` (set sticky by the first handoff of an owner-less account).
   Owners get their accounts whatever their daily cap (the leads still count against it), but not
   while out of office.
2. ``territory:<name>`` — the first territory (config order) whose countries and company-size band
   match; weighted round-robin among its available reps.
3. ``round_robin`` — leads no territory matches: weighted round-robin among all available reps.
4. ``fallback`` — nobody fits (all candidate reps out of office or at their cap): the fallback queue.

Colleagues from the same account in one run are routed together (to one rep). Everything is
computed from the input and the day's existing handoff counts, so a re-run routes the same way.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from leadflow.config import Routing
from leadflow.route.allocate import allocate

ROUTE_COLUMNS = ("owner_rep", "route_rule", "route_reason")


def rep_table(routing: Routing, run_date: date, today_counts: dict[str, int]) -> pd.DataFrame:
    """One row per configured rep: weight, cap, used today, remaining, out of office today."""
    rows = []
    for r in routing.reps:
        ooo = any(o.start <= run_date <= o.end for o in r.out_of_office)
        used = int(today_counts.get(r.id, 0))
        rows.append({"rep": r.id, "weight": r.weight, "cap": r.capacity_per_day, "used": used,
                     "remaining": max(r.capacity_per_day - used, 0), "ooo": ooo,
                     "timezone": r.timezone})
    return pd.DataFrame(rows, columns=["rep", "weight", "cap", "used", "remaining", "ooo", "timezone"])


def _territory(leads: pd.DataFrame, routing: Routing) -> pd.Series:
    """Name of the first matching territory per lead (None where none matches)."""
    out = pd.Series([None] * len(leads), index=leads.index, dtype=object)
    country = leads["country"].astype("string").str.upper()
    size = pd.to_numeric(leads["company_size"], errors="coerce")
    for t in routing.territories:
        m = pd.Series(True, index=leads.index)
        if t.countries:
            m &= country.isin([c.upper() for c in t.countries]).fillna(False).astype(bool)
        if t.min_company_size is not None:
            m &= (size >= t.min_company_size).fillna(False).astype(bool)
        if t.max_company_size is not None:
            m &= (size <= t.max_company_size).fillna(False).astype(bool)
        out = out.where(out.notna() | ~m, t.name)
    return out


def route(leads: pd.DataFrame, routing: Routing, run_date: date,
          today_counts: dict[str, int] | None = None) -> pd.DataFrame:
    """Add owner_rep, route_rule and route_reason (dict) to ``leads``.

    ``leads`` needs person_id, priority, country, company_size, domain, account_id, account_owner.
    ``today_counts``: handoffs already given to each rep on ``run_date`` (caps and fairness).
    """
    reps = rep_table(routing, run_date, today_counts or {})
    rep_idx = {r: i for i, r in enumerate(reps["rep"])}
    df = leads.copy()
    df = df.sort_values(["priority", "person_id"], ascending=[False, True], kind="stable")
    df["owner_rep"] = None
    df["route_rule"] = None

    # 1. account owner: named accounts in config, then the stored owner.
    owners_cfg = {k.lower(): v for k, v in routing.account_owners.items()}
    named = df["domain"].astype("string").str.lower().map(owners_cfg).astype(object)
    named = named.where(named.notna(), None)
    owner = named.where(named.notna(), df["account_owner"])
    owner_known = owner.isin(list(rep_idx))
    ooo_reps = set(reps.loc[reps["ooo"], "rep"])
    owner_ooo = owner.isin(list(ooo_reps))
    take_owner = owner_known & ~owner_ooo
    df.loc[take_owner, "owner_rep"] = owner[take_owner]
    df.loc[take_owner, "route_rule"] = "account_owner"
    owner_why = np.select(
        [owner.isna(), ~owner_known, owner_ooo],
        ["no account owner", "owner is not a configured rep", "owner out of office"], default="")
    df["_owner"] = owner
    df["_owner_why"] = owner_why
    df["_owner_src"] = np.where(named.notna(), "routing.account_owners", "accounts.owner_rep")
    used = reps["used"].to_numpy(dtype=float).copy()
    remaining = reps["remaining"].to_numpy(dtype=np.int64).copy()
    if take_owner.any():
        n_by = df.loc[take_owner, "owner_rep"].value_counts()
        for rep, n in n_by.items():
            i = rep_idx[rep]
            used[i] += n
            remaining[i] = max(remaining[i] - n, 0)

    # 2./3. territory, else everyone: weighted round-robin per pool.
    df["territory"] = _territory(df, routing)
    rest = df["owner_rep"].isna()
    df["_pool_reason"] = None
    pools: list[tuple[str | None, list[str]]] = [(t.name, list(t.reps)) for t in routing.territories]
    pools.append((None, list(reps["rep"])))
    for name, members in pools:
        in_pool = rest & (df["territory"].isna() if name is None else df["territory"] == name)
        if not in_pool.any():
            continue
        sub = df[in_pool]
        idx = np.array([rep_idx[m] for m in members], dtype=np.int64)
        unavailable = {m: ("out of office" if m in ooo_reps else "at daily capacity")
                       for m in members if m in ooo_reps or remaining[rep_idx[m]] <= 0}
        # Units: one per account (colleagues stay together), else one per person; first-seen order.
        unit_key = np.where(sub["account_id"].notna(),
                            "a" + sub["account_id"].astype("string").fillna(""),
                            "p" + sub["person_id"].astype("string"))
        rem = remaining[idx].copy()
        rem[np.isin(idx, [rep_idx[m] for m in ooo_reps])] = 0
        unit_rep, used_after = allocate(np.asarray(unit_key), reps["weight"].to_numpy(dtype=float)[idx],
                                        used[idx], rem)
        used[idx] = used_after
        remaining[idx] = np.where(rem > 0, np.maximum(reps["cap"].to_numpy()[idx] - used_after, 0), 0)
        assigned = unit_rep >= 0
        rule = "round_robin" if name is None else f"territory:{name}"
        sub_idx = sub.index
        df.loc[sub_idx[assigned], "owner_rep"] = np.array(members, dtype=object)[unit_rep[assigned]]
        df.loc[sub_idx[assigned], "route_rule"] = rule
        df.loc[sub_idx, "_pool_reason"] = [
            {"pool": rule, "reps": members, "unavailable": unavailable}] * len(sub_idx)
        if (~assigned).any():
            df.loc[sub_idx[~assigned], "_pool_reason"] = [
                {"pool": rule, "reps": members, "unavailable": unavailable,
                 "why_fallback": "every rep in the pool is out of office or at daily capacity"}
            ] * int((~assigned).sum())

    # 4. fallback queue.
    fb = df["owner_rep"].isna()
    df.loc[fb, "owner_rep"] = routing.fallback_queue
    df.loc[fb, "route_rule"] = "fallback"
    if not routing.reps:
        df.loc[fb, "_pool_reason"] = [{"pool": "round_robin", "reps": [],
                                       "why_fallback": "no reps configured"}] * int(fb.sum())
    df["route_reason"] = _reasons(df)
    df = df.drop(columns=[c for c in df.columns if c.startswith("_")])
    return df.sort_values(["priority", "person_id"], ascending=[False, True], kind="stable")


def _reasons(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The stored 'why this owner': rule, owner, territory and each alternative skipped."""
    out = []
    for rule, rep, owner, why, src, terr, pool in zip(
            df["route_rule"], df["owner_rep"], df["_owner"], df["_owner_why"], df["_owner_src"],
            df["territory"], df["_pool_reason"]):
        r: dict[str, Any] = {"rule": rule, "owner": rep}
        if rule == "account_owner":
            r["matched"] = f"account owner from {src}"
        else:
            r["skipped"] = [{"rule": "account_owner", "owner": owner if isinstance(owner, str) else None,
                             "why": why}]
            r["territory"] = terr if isinstance(terr, str) else None
            if isinstance(pool, dict):
                r["pool"] = pool.get("reps")
                if pool.get("unavailable"):
                    r["skipped"] += [{"rule": pool["pool"], "rep": k, "why": v}
                                     for k, v in pool["unavailable"].items()]
                if rule == "fallback":
                    r["skipped"].append({"rule": pool["pool"], "why": pool.get("why_fallback", "")})
            r["matched"] = {"round_robin": "no territory matched: weighted round-robin over all reps",
                            "fallback": "nobody available: fallback queue"}.get(
                rule, f"territory {terr}: weighted round-robin")
        out.append(r)
    return out


__all__ = ["route", "rep_table", "ROUTE_COLUMNS"]
