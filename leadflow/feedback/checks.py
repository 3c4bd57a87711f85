"""Pure outcome logic: normalise, match to handoffs, and find what must be quarantined.

Everything here takes and returns DataFrames (no database), so it is tested directly and the
same rules apply however outcomes arrived. Vectorised: no loop over outcomes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.canonical import OUTCOME_STATUSES, REJECTION_REASONS, SELLING_STEPS

# An outcome belongs to one "family" per handoff; a family holds one fact, so a second row in
# the same family is a duplicate (same status) or a contradiction (different status).
FAMILY = {"accepted": "response", "rejected": "response", "won": "close", "lost": "close",
          "opportunity": "opportunity"}


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Canonical spelling for codes (trimmed, lower case) and typed columns."""
    out = df.copy()
    for c in ("status", "reason_code", "selling_step"):
        s = out[c].astype("string").str.strip().str.lower().str.replace(" ", "_", regex=False)
        out[c] = s.replace("", pd.NA)
    out["source_outcome_id"] = out["source_outcome_id"].astype("string").str.strip().replace("", pd.NA)
    out["amount"] = pd.to_numeric(out["amount"], errors="coerce")
    out["occurred_at"] = pd.to_datetime(out["occurred_at"], errors="coerce")
    out["handoff_id"] = pd.to_numeric(out["handoff_id"], errors="coerce").astype("Int64")
    out["email_norm"] = out["email"].astype("string").str.strip().str.lower().replace("", pd.NA)
    return out


def match(df: pd.DataFrame, handoffs: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """Attach ``matched_handoff_id``, ``person_id`` and ``match_rule`` (handoff_id | email | none).

    ``handoffs``: handoff_id, person_id, cycle, run_date, handed_off_at (the candidates' and the
    emailed people's handoffs). ``people``: person_id, email_norm. By handoff id first; else by
    email to that person's latest handoff.
    """
    out = df.copy()
    h = handoffs[["handoff_id", "person_id"]].copy()
    h["handoff_id"] = h["handoff_id"].astype("Int64")
    by_id = out[["handoff_id"]].merge(h, on="handoff_id", how="left")
    hit = by_id["person_id"].notna().to_numpy()
    out["matched_handoff_id"] = pd.array(np.where(hit, by_id["handoff_id"].astype("Float64").to_numpy(
        dtype=float, na_value=np.nan), np.nan), dtype="Float64").astype("Int64")
    out["person_id"] = pd.array(pd.to_numeric(by_id["person_id"]).astype("Float64"), dtype="Int64")
    out["match_rule"] = np.where(by_id["person_id"].notna(), "handoff_id", "none")

    latest = (handoffs.sort_values(["person_id", "handed_off_at", "handoff_id"])
              .drop_duplicates("person_id", keep="last")[["person_id", "handoff_id"]])
    em = (people.dropna(subset=["email_norm"])[["person_id", "email_norm"]]
          .merge(latest, on="person_id", how="inner"))
    by_mail = out[["email_norm"]].merge(em, on="email_norm", how="left")
    use_mail = (out["match_rule"] == "none").to_numpy() & by_mail["handoff_id"].notna().to_numpy()
    out.loc[use_mail, "matched_handoff_id"] = by_mail.loc[use_mail, "handoff_id"].astype("Int64").to_numpy()
    out.loc[use_mail, "person_id"] = by_mail.loc[use_mail, "person_id"].astype("Int64").to_numpy()
    out.loc[use_mail, "match_rule"] = "email"
    return out


def reasons_from(masks: dict[str, pd.Series | np.ndarray], index: pd.Index) -> pd.Series:
    """Per row, the list of reason texts whose mask is true (empty list: no problem).

    Masks are evaluated vectorised; lists are only built for the (few) failing rows.
    """
    m = pd.DataFrame({k: np.asarray(v, dtype=bool) for k, v in masks.items()}, index=index)
    out = pd.Series([[] for _ in range(len(index))], index=index, dtype=object)
    bad = m.any(axis=1)
    if bad.any():
        names = np.array(list(m.columns), dtype=object)
        sub = m[bad].to_numpy()
        out.loc[bad[bad].index] = pd.Series([list(names[r]) for r in sub], index=bad[bad].index)
    return out


def row_masks(df: pd.DataFrame, handoffs: pd.DataFrame,
              extra_reasons: list[str] | tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Checks a matched outcome row must pass on its own, as {reason text: failing mask}."""
    allowed_reasons = sorted(set(REJECTION_REASONS) | set(extra_reasons))
    ho = df[["matched_handoff_id"]].merge(
        handoffs[["handoff_id", "run_date"]].astype({"handoff_id": "Int64"}),
        left_on="matched_handoff_id", right_on="handoff_id", how="left")
    run_day = pd.to_datetime(ho["run_date"]).to_numpy()
    occurred = df["occurred_at"].dt.normalize().to_numpy()
    status = df["status"]
    return {
        "missing source_outcome_id": df["source_outcome_id"].isna(),
        "unmatched: no handoff with this handoff_id and no handed-off person with this email":
            df["match_rule"] == "none",
        "missing status": status.isna(),
        f"status not allowed (allowed: {', '.join(OUTCOME_STATUSES)})":
            status.notna() & ~status.isin(OUTCOME_STATUSES),
        "selling_step unknown": df["selling_step"].notna() & ~df["selling_step"].isin(SELLING_STEPS),
        "step_reached without selling_step": (status == "step_reached") & df["selling_step"].isna(),
        "reason_code unknown": (status == "rejected") & df["reason_code"].notna()
            & ~df["reason_code"].isin(allowed_reasons),
        "contradictory: amount < 0": (df["amount"] < 0).fillna(False),
        "missing or unreadable occurred_at": df["occurred_at"].isna(),
        "contradictory: occurred before the handoff": pd.notna(run_day) & pd.notna(occurred)
            & (occurred < run_day),
    }


def family_reasons(cand: pd.DataFrame, existing: pd.DataFrame) -> pd.Series:
    """Duplicates and contradictions across rows of the same handoff (incl. loaded outcomes).

    Within each (handoff, family) the first fact wins: loaded outcomes first, then by
    occurred_at and source order. Later rows with the same status are duplicates, with another
    status (won after lost, rejected after accepted) contradictions. ``step_reached`` families
    are per selling step. ``cand`` must carry ``_order`` (its position) and be valid so far.
    """
    def fam(d: pd.DataFrame) -> pd.Series:
        f = d["status"].map(FAMILY)
        step = "step:" + d["selling_step"].astype("string").fillna("")
        return f.where(f.notna(), step.where(d["status"] == "step_reached"))

    c = pd.DataFrame({"hid": cand["matched_handoff_id"], "status": cand["status"],
                      "fam": fam(cand), "at": cand["occurred_at"], "existing": 0,
                      "order": cand["_order"], "idx": cand.index})
    e = pd.DataFrame({"hid": existing["handoff_id"].astype("Int64"), "status": existing["status"],
                      "fam": fam(existing), "at": pd.to_datetime(existing["occurred_at"]),
                      "existing": 1, "order": -1, "idx": -1})
    both = pd.concat([e, c], ignore_index=True).dropna(subset=["fam"])
    both = both.sort_values(["hid", "fam", "existing", "at", "order"],
                            ascending=[True, True, False, True, True], kind="mergesort")
    first_status = both.groupby(["hid", "fam"], sort=False)["status"].transform("first")
    first_existing = both.groupby(["hid", "fam"], sort=False)["existing"].transform("first")
    is_first = ~both.duplicated(["hid", "fam"], keep="first")
    both["why"] = None
    dup = ~is_first & (both["status"] == first_status)
    con = ~is_first & (both["status"] != first_status)
    where = np.where(first_existing == 1, "a loaded outcome", "an earlier outcome")
    both.loc[dup, "why"] = ("duplicate: handoff already has " + both["status"] + " (" + where + ")")[dup]
    both.loc[con, "why"] = ("contradictory: " + both["status"] + " after " + first_status
                            + " for the same handoff (" + where + ")")[con]
    hits = both[(both["existing"] == 0) & both["why"].notna()]
    out = pd.Series([[] for _ in range(len(cand))], index=cand.index, dtype=object)
    if len(hits):
        out.loc[hits["idx"].to_numpy()] = pd.Series([[w] for w in hits["why"]],
                                                    index=hits["idx"].to_numpy())
    return out
