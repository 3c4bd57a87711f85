"""Qualification and suppression rules as pure functions over a candidates frame.

Kept free of SQL so tests can exercise every rule with a small DataFrame, and so the same rules
run at queue time and again (suppression only) just before writing and at delivery.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from leadflow.config import Qualification

GRADE_RANK = {"A": 0, "B": 1, "C": 2, "D": 3}

# Suppression reasons, in the order they are checked (the first that applies is logged).
SUPPRESSION_REASONS = ("erased", "opt_out", "do_not_contact", "competitor", "customer",
                       "open_deal", "disqualified")

# Stages whose people are already with sales this cycle: not queued again, not suppressed.
WITH_SALES = ("sal", "sql")


def _bool(s: pd.Series) -> pd.Series:
    return s.fillna(False).astype(bool)


def qualify(df: pd.DataFrame, q: Qualification, as_of: datetime) -> pd.DataFrame:
    """Add ``qualified_by`` (hand_raiser | threshold | probability | None) and ``status``.

    Needs grade, score, probability, hand_raiser, lifecycle_stage, recycled_at, has_handoff.
    status: ``qualified`` | ``not_qualified`` | ``recycle_wait`` (recycled too recently, no
    hand-raise) | ``already_queued`` (handoff exists for the target cycle) | ``with_sales``.
    """
    out = df.copy()
    rank = out["grade"].map(GRADE_RANK)
    threshold = (rank <= GRADE_RANK[q.min_grade]).fillna(False) & \
        (pd.to_numeric(out["score"], errors="coerce") >= q.min_score).fillna(False)
    prob = pd.Series(False, index=out.index)
    if q.min_probability is not None:
        prob = (pd.to_numeric(out["probability"], errors="coerce") >= q.min_probability).fillna(False)
    hand = _bool(out["hand_raiser"])
    # default: an object None, the same value np.select makes of a bare None (which numpy's stubs reject)
    out["qualified_by"] = np.select([hand, threshold.astype(bool), prob.astype(bool)],
                                    ["hand_raiser", "threshold", "probability"],
                                    default=np.array(None, dtype=object))
    recycled_at = pd.to_datetime(out["recycled_at"])
    too_soon = (out["lifecycle_stage"] == "recycled") & \
        (recycled_at > pd.Timestamp(as_of - timedelta(days=q.recycle_after_days))).fillna(False)
    status = np.select(
        [out["qualified_by"].isna(),
         _bool(out["has_handoff"]),
         out["lifecycle_stage"].isin(WITH_SALES),
         too_soon & ~hand],
        ["not_qualified", "already_queued", "with_sales", "recycle_wait"], default="qualified")
    out["status"] = status
    qb = out["qualified_by"].astype(object)
    out["qualified_by"] = qb.where(qb.notna() & ~out["status"].isin(["not_qualified", "recycle_wait"]), None)
    return out


def email_domain(email: pd.Series) -> pd.Series:
    return email.astype("string").str.rsplit("@", n=1).str[-1].str.lower()


def suppression_reason(df: pd.DataFrame, q: Qualification) -> pd.Series:
    """The first suppression reason per person (None: may be contacted).

    Needs erased_at, opt_out, do_not_contact, is_competitor, email_norm, account_domain,
    is_customer, has_open_deal, lifecycle_stage.
    """
    comp_domains = {d.lower().lstrip("@") for d in q.competitor_domains}
    competitor = _bool(df["is_competitor"])
    if comp_domains:
        competitor |= email_domain(df["email_norm"]).isin(comp_domains).fillna(False).astype(bool)
        competitor |= df["account_domain"].astype("string").str.lower().isin(comp_domains) \
            .fillna(False).astype(bool)
    stage = df["lifecycle_stage"]
    conds = [
        df["erased_at"].notna(),
        _bool(df["opt_out"]),
        _bool(df["do_not_contact"]),
        competitor,
        _bool(df["is_customer"]) | (stage == "customer"),
        _bool(df["has_open_deal"]) | (stage == "opportunity"),
        stage == "disqualified",
    ]
    return pd.Series(np.select(conds, list(SUPPRESSION_REASONS), default=np.array(None, dtype=object)),
                     index=df.index, dtype=object)


def priority(df: pd.DataFrame) -> pd.Series:
    """Order of the lead list: hand-raisers first, then model probability (or rule score)."""
    base = pd.to_numeric(df["probability"], errors="coerce") * 100
    base = base.where(base.notna(), pd.to_numeric(df["score"], errors="coerce")).fillna(0.0)
    return (base + np.where(_bool(df["hand_raiser"]), 100.0, 0.0)).round(4)
