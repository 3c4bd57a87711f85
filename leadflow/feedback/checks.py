"""Pure outcome logic: normalise, match to handoffs, and find what must be quarantined.

Everything here takes and returns DataFrames (no database), so it is tested directly and the
same rules apply however outcomes arrived. Vectorised: no loop over outcomes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.canonical import MATCH_KEYS, OUTCOME_STATUSES, REJECTION_REASONS, SELLING_STEPS
from leadflow.vocab.emails import normalise_address

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
    out["email_norm"] = normalise_address(out["email"]).astype("string")    # as identity reads it
    for c in ("source_record_id", "crm_id"):
        if c in out:
            out[c] = out[c].astype("string").str.strip().replace("", pd.NA)
    return out


def latest_handoffs(handoffs: pd.DataFrame) -> pd.DataFrame:
    """Each person's latest handoff (person_id, handoff_id): where a person-level key leads."""
    return (handoffs.sort_values(["person_id", "handed_off_at", "handoff_id"])
            .drop_duplicates("person_id", keep="last")[["person_id", "handoff_id"]])


def links(handoffs: pd.DataFrame, people: pd.DataFrame, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every way to reach a handoff, as rows ``key, value, scope, handoff_id, person_id``.

    ``handoffs`` (handoff_id, person_id, handed_off_at) give the handoff_id links; ``people``
    (person_id, email_norm) the email links, to the person's latest handoff. ``extra`` adds
    links already resolved elsewhere (crm_id, source_record_id; person-level ones with a null
    handoff_id go to the person's latest handoff). ``scope``: the lead source a source record id
    belongs to (None: any).
    """
    h = handoffs.astype({"handoff_id": "int64", "person_id": "int64"})
    latest = latest_handoffs(h)
    parts = [pd.DataFrame({"key": "handoff_id", "value": h["handoff_id"].astype(str), "scope": None,
                           "handoff_id": h["handoff_id"], "person_id": h["person_id"]})]
    em = people.dropna(subset=["email_norm"])[["person_id", "email_norm"]].astype({"person_id": "int64"})
    em = em.merge(latest, on="person_id", how="inner")
    parts.append(pd.DataFrame({"key": "email", "value": em["email_norm"].astype(str), "scope": None,
                               "handoff_id": em["handoff_id"], "person_id": em["person_id"]}))
    if extra is not None and len(extra):
        x = extra.copy()
        x["person_id"] = pd.to_numeric(x["person_id"]).astype("int64")
        need = x["handoff_id"].isna()
        x.loc[need, "handoff_id"] = x.loc[need, "person_id"].map(latest.set_index("person_id")["handoff_id"])
        x = x.dropna(subset=["handoff_id"])
        parts.append(x[["key", "value", "scope", "handoff_id", "person_id"]]
                     .astype({"handoff_id": "int64", "value": str}))
    out = pd.concat(parts, ignore_index=True)
    # one target per (key, value, scope): the latest handoff
    return out.sort_values(["key", "value", "handoff_id"]).drop_duplicates(["key", "value", "scope"], keep="last")


def match(df: pd.DataFrame, handoffs: pd.DataFrame, people: pd.DataFrame, extra: pd.DataFrame | None = None,
          keys: dict[str, tuple[str, ...]] | None = None, scopes: dict[str, str | None] | None = None
          ) -> pd.DataFrame:
    """Attach ``matched_handoff_id``, ``person_id``, ``match_rule`` (the key that matched, or
    ``none``) and ``keys_tried`` (the keys the row carried and was allowed to use).

    Keys are tried in ``MATCH_KEYS`` order, restricted per outcome source by ``keys``
    ({source: allowed keys}; default all). ``scopes`` ({source: lead source}) limits
    source_record_id links to the lead source the outcomes cite (``Source.record_source``).
    Vectorised: one merge per key.
    """
    out = df.copy()
    n = len(out)
    lk = links(handoffs, people, extra)
    src = out["source"].astype(str) if "source" in out else pd.Series("", index=out.index)
    scope = src.map(scopes or {}).astype(object).where(lambda s: s.notna(), None)
    hid = np.full(n, np.nan)
    pid = np.full(n, np.nan)
    rule = np.full(n, "none", dtype=object)
    tried = np.full(n, "", dtype=object)
    for key in MATCH_KEYS:
        col = "email_norm" if key == "email" else key
        if col not in out:
            continue
        allowed = (np.ones(n, dtype=bool) if keys is None
                   else src.isin([s for s, ks in keys.items() if key in ks]).to_numpy())
        val = out[col].astype("string")
        has = val.notna().to_numpy() & allowed
        tried = np.where(has, np.where(tried == "", key, tried + ", " + key), tried)
        sub = lk[lk["key"] == key]
        left = pd.DataFrame({"value": val.astype(object).to_numpy(), "scope": scope.to_numpy(),
                             "i": np.arange(n)})
        m = left.merge(sub[sub["scope"].isna()].drop(columns="scope"), on="value", how="inner")
        if key == "source_record_id":
            scoped = left.dropna(subset=["scope"]).merge(sub.dropna(subset=["scope"]), on=["value", "scope"])
            unscoped = left[left["scope"].isna()].merge(sub.drop(columns="scope"), on="value")
            m = pd.concat([scoped, unscoped], ignore_index=True).sort_values(["i", "handoff_id"])
        m = m.drop_duplicates("i", keep="last")
        i = m["i"].to_numpy()
        take = has[i] & (rule[i] == "none")
        i = i[take]
        hid[i] = m["handoff_id"].to_numpy(float)[take]
        pid[i] = m["person_id"].to_numpy(float)[take]
        rule[i] = key
    out["matched_handoff_id"] = pd.array(hid, dtype="Float64").astype("Int64")
    out["person_id"] = pd.array(pid, dtype="Float64").astype("Int64")
    out["match_rule"] = rule
    out["keys_tried"] = tried
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
    cols = ["handoff_id", "lead_created_at"] if "lead_created_at" in handoffs else ["handoff_id"]
    ho = df[["matched_handoff_id"]].merge(handoffs[cols].astype({"handoff_id": "Int64"}),
                                          left_on="matched_handoff_id", right_on="handoff_id", how="left")
    born = pd.to_datetime(ho.get("lead_created_at", pd.Series(pd.NaT, index=ho.index))).to_numpy()
    occurred = df["occurred_at"].to_numpy()
    status = df["status"]
    return {
        "missing source_outcome_id": df["source_outcome_id"].isna(),
        **unmatched_masks(df),
        "missing status": status.isna(),
        f"status not allowed (allowed: {', '.join(OUTCOME_STATUSES)})":
            status.notna() & ~status.isin(OUTCOME_STATUSES),
        "selling_step unknown": df["selling_step"].notna() & ~df["selling_step"].isin(SELLING_STEPS),
        "step_reached without selling_step": (status == "step_reached") & df["selling_step"].isna(),
        "reason_code unknown": (status == "rejected") & df["reason_code"].notna()
            & ~df["reason_code"].isin(allowed_reasons),
        "contradictory: amount < 0": (df["amount"] < 0).fillna(False),
        "missing or unreadable occurred_at": df["occurred_at"].isna(),
        # Timestamp level: a win at 10:00 of the lead's first day is fine, one at 09:00 is not.
        "contradictory: occurred before the lead was created": pd.notna(born) & pd.notna(occurred)
            & (occurred < born),
    }


def unmatched_masks(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """One reason per combination of keys tried (names only, never values: no PII)."""
    none = (df["match_rule"] == "none").to_numpy()
    tried = df["keys_tried"].astype(str).to_numpy() if "keys_tried" in df else np.full(len(df), "")
    out: dict[str, np.ndarray] = {}
    for t in sorted(set(tried[none])):
        why = (f"unmatched: no handed-off lead found by {t} (keys tried)" if t
               else "unmatched: the outcome carries none of the keys its source may match on")
        out[why] = none & (tried == t)
    return out


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
