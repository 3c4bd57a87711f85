"""What outcomes mean for the lifecycle and for the handoff's status (pure, vectorised).

Forward stages (accepted -> SAL, a selling step beyond *approach* -> SQL, opportunity ->
opportunity, won -> customer) are walked one stage at a time, so the stored history shows
every step even when the CRM reports a jump. Lost -> recycled; rejected -> disqualified when
the reason is in ``feedback.disqualify_reasons``, else recycled (``recycle_reasons``, unknown
or missing reasons: a person is never thrown away on a guess).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FORWARD = ("lead", "mql", "sal", "sql", "opportunity", "customer")
RANK = {s: i for i, s in enumerate(FORWARD)}
RANK["suspect"] = -1
EARLY_STEPS = ("prospecting", "pre_approach", "approach")

# Handoff status after outcomes: the furthest fact wins; terminal facts last.
STATUS_RANK = {"accepted": 1, "step_reached": 2, "opportunity": 3, "rejected": 4, "lost": 5, "won": 6}
STATUS_LABEL = {"accepted": "accepted", "step_reached": "working", "opportunity": "opportunity",
                "rejected": "rejected", "lost": "lost", "won": "won"}


def forward_target(status: pd.Series, step: pd.Series) -> pd.Series:
    """The forward lifecycle stage an outcome proves (None for lost/rejected)."""
    t = status.map({"accepted": "sal", "opportunity": "opportunity", "won": "customer"})
    reached = status == "step_reached"
    t = t.where(~reached, np.where(step.isin(EARLY_STEPS), "sal", "sql"))
    return t


def plan(outs: pd.DataFrame, people: pd.DataFrame, disqualify_reasons: list[str]
         ) -> list[tuple[str, pd.DataFrame]]:
    """Ordered transitions ``(to_stage, frame of person_id, reason, occurred_at)``.

    ``outs``: newly loaded outcomes with person_id, cycle (of the handoff), status,
    selling_step, reason_code, occurred_at. ``people``: person_id, lifecycle_stage, cycle.
    Each stage is dated by the earliest outcome proving it. Outcomes of an earlier cycle than
    the person's current one are history only: they do not move the person.
    """
    if outs.empty:
        return []
    o = outs.merge(people.rename(columns={"cycle": "p_cycle"}), on="person_id", how="inner")
    o = o[o["cycle"] == o["p_cycle"]].copy()
    if o.empty:
        return []
    o["occurred_at"] = pd.to_datetime(o["occurred_at"])
    o["fwd_rank"] = forward_target(o["status"], o["selling_step"]).map(RANK).fillna(-9)
    o["cur_rank"] = o["lifecycle_stage"].map(RANK)        # NaN for recycled/disqualified
    steps: list[tuple[str, pd.DataFrame]] = []
    for stage in ("sal", "sql", "opportunity", "customer"):
        r = RANK[stage]
        sel = o[(o["cur_rank"] < r) & (o["fwd_rank"] >= r)].sort_values(["person_id", "occurred_at"])
        sel = sel.drop_duplicates("person_id", keep="first")
        if len(sel):
            steps.append((stage, pd.DataFrame({
                "person_id": sel["person_id"].astype("int64").to_numpy(),
                "reason": ("crm outcome: " + sel["status"]).to_numpy(),
                "occurred_at": sel["occurred_at"].to_numpy()})))
    reached = np.maximum(o["cur_rank"].fillna(-9),
                         o.groupby("person_id")["fwd_rank"].transform("max"))
    o["term"] = np.where(o["status"] == "lost", "recycled",
                         np.where((o["status"] == "rejected")
                                  & o["reason_code"].isin(disqualify_reasons).to_numpy(),
                                  "disqualified",
                                  np.where(o["status"] == "rejected", "recycled", None)))
    t = o[o["term"].notna() & (reached >= RANK["lead"]) & (reached < RANK["customer"])].copy()
    t["dq"] = t["term"] == "disqualified"
    t = t.sort_values(["person_id", "dq", "occurred_at"]).drop_duplicates("person_id", keep="last")
    for stage, g in t.groupby("term", sort=True):
        why = "crm outcome: " + g["status"] + np.where(
            g["status"] == "rejected", " (" + g["reason_code"].fillna("no reason").astype(str) + ")", "")
        steps.append((str(stage), pd.DataFrame({
            "person_id": g["person_id"].astype("int64").to_numpy(), "reason": why.to_numpy(),
            "occurred_at": g["occurred_at"].to_numpy()})))
    return steps


def handoff_updates(all_outs: pd.DataFrame) -> pd.DataFrame:
    """Per handoff: first_action_at (speed-to-lead) and status from all its outcomes."""
    o = all_outs.copy()
    o["rank"] = o["status"].map(STATUS_RANK).fillna(0)
    first = o.groupby("handoff_id")["occurred_at"].min().rename("first_action_at")
    top = (o.sort_values(["handoff_id", "rank", "occurred_at"]).drop_duplicates("handoff_id", keep="last")
           .set_index("handoff_id")["status"].map(STATUS_LABEL).rename("status"))
    return pd.concat([first, top], axis=1).reset_index()
