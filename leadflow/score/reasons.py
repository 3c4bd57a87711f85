"""Reasons a sales rep can read: the three biggest contributions to a lead's score, in words.

Candidates come from three places, all put on one scale (points out of 100):
- fit rules: the rule's points, worded by its ``reason`` (may use ``{value}``); rules on who the
  person is (title, seniority, function, company size, industry) fold into one profile line such
  as "VP of Marketing at a 500-person software company";
- engagement: the decayed points of each touch type, e.g. "Requested a demo 2 days ago";
- the model: per-row attributions in log-odds (coefficient x standardised value), scaled by 25
  (the steepest slope of the logistic curve, 1/4, times 100) so they compare with points.
Candidates are ranked by absolute size, one per topic, top three kept. Built with vectorised
string concatenation, so a million leads take seconds.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

import numpy as np
import pandas as pd

from leadflow.config import Scoring

PROFILE_FIELDS = ("job_title", "seniority", "job_function", "company_size", "industry")
LOGODDS_TO_POINTS = 25.0

TOUCH_REASONS: dict[str, str] = {
    "demo_request": "Requested a demo {ago}",
    "contact_sales": "Asked to talk to sales {ago}",
    "pricing_page": "Viewed the pricing page {times} (last {ago})",
    "webinar": "Attended a webinar {ago}",
    "event_visit": "Visited us at an event {ago}",
    "form_fill": "Filled in a form {times} (last {ago})",
    "download": "Downloaded content {times} (last {ago})",
    "email_click": "Clicked an email {times} (last {ago})",
    "email_open": "Opened an email {times} (last {ago})",
    "page_view": "Viewed {count} pages on the website (last {ago})",
    "unsubscribe": "Unsubscribed from emails {ago}",
}


def render(template: str, fields: Mapping[str, pd.Series], index: pd.Index) -> pd.Series:
    """Fill ``{name}`` placeholders from Series, vectorised (no per-row format calls)."""
    out = pd.Series("", index=index, dtype=object)
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if name is not None:
            val = fields.get(name)
            out = out + (val.astype(str).to_numpy() if val is not None else "{" + name + "}")
    return out


def ago(days: pd.Series) -> pd.Series:
    """'today', 'yesterday', '5 days ago' from an age in days."""
    d = np.floor(np.asarray(days, dtype=float)).astype(np.int64)
    txt = pd.Series(d, index=days.index).astype(str) + " days ago"
    return txt.mask(d == 1, "yesterday").mask(d <= 0, "today")


def times(count: pd.Series) -> pd.Series:
    c = np.asarray(count, dtype=np.int64)
    txt = pd.Series(c, index=count.index).astype(str) + " times"
    return txt.mask(c == 2, "twice").mask(c == 1, "once")


def _long(row: np.ndarray, weight: np.ndarray, text: np.ndarray, topic: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"row": row, "weight": weight, "text": text, "topic": topic})


def _company_size_text(size: pd.Series) -> pd.Series:
    num = pd.to_numeric(size, errors="coerce")
    txt = num.round().astype("Int64").astype("string").fillna("")
    big = (num >= 1000).fillna(False)
    if big.any():
        txt[big] = txt[big].str.replace(r"(\d)(?=(\d{3})+$)", r"\1,", regex=True)
    return txt


def profile_text(people: pd.DataFrame) -> pd.Series:
    """'VP of Marketing at a 500-person software company', leaving out what is unknown."""
    idx = people.index
    def col(name: str) -> pd.Series:
        if name not in people.columns:
            return pd.Series("", index=idx, dtype=object)
        return people[name].astype("string").fillna("").str.strip().astype(object)
    title = col("job_title")
    size = _company_size_text(people["company_size"]) if "company_size" in people.columns \
        else pd.Series("", index=idx)
    size = size.astype(object)
    industry = col("industry").str.lower()
    company = "company"
    desc = np.where(industry != "", industry + " " + company, company)
    desc = np.where(size != "", size + "-person " + desc, desc)
    desc = pd.Series(desc, index=idx, dtype=object)
    article = np.where(desc.str.match(r"^[aeiou8]|^11[,-]|^18[,-]"), "an ", "a ")
    head = np.where(title != "", title + " at ", "Works at ")
    return pd.Series(head + article + desc, index=idx, dtype=object)


def fit_candidates(people: pd.DataFrame, contrib: pd.DataFrame, scoring: Scoring) -> pd.DataFrame:
    """Reason candidates from fit-rule points (profile rules folded into one line)."""
    parts = []
    pos = np.arange(len(people))
    profile_cols = [f"fit_{i}" for i, r in enumerate(scoring.fit_rules) if r.field in PROFILE_FIELDS]
    if profile_cols:
        w = contrib[profile_cols].to_numpy().sum(axis=1)
        hit = w != 0
        if hit.any():
            txt = profile_text(people.loc[hit]).to_numpy()
            parts.append(_long(pos[hit], w[hit], txt, np.full(hit.sum(), "profile", dtype=object)))
    for i, r in enumerate(scoring.fit_rules):
        if r.field in PROFILE_FIELDS:
            continue
        w = contrib[f"fit_{i}"].to_numpy()
        hit = w != 0
        if not hit.any():
            continue
        sub = people.loc[hit]
        val = sub[r.field] if r.field in sub.columns else pd.Series("", index=sub.index)
        txt = render(r.reason, {"value": val.astype("string").fillna("")}, sub.index).to_numpy()
        parts.append(_long(pos[hit], w[hit], txt, np.full(hit.sum(), f"field:{r.field}", dtype=object)))
    return pd.concat(parts, ignore_index=True) if parts else _long(*([np.array([])] * 4))


def engagement_candidates(contrib: pd.DataFrame, positions: pd.Series, scoring: Scoring,
                          key: str = "person_id") -> pd.DataFrame:
    """Reason candidates from per-type engagement points; ``positions`` maps key -> row."""
    if contrib.empty:
        return _long(*([np.array([])] * 4))
    c = contrib[contrib["points"] != 0]
    row = c[key].map(positions)
    c = c[row.notna()]
    row = row[row.notna()].astype(np.int64)
    parts = []
    for tt, sub in c.groupby("touch_type", sort=False):
        rule = scoring.engagement.get(str(tt))
        template = (rule.reason if rule is not None and rule.reason else
                    TOUCH_REASONS.get(str(tt), str(tt).replace("_", " ").capitalize() + " {ago}"))
        fields = {"ago": ago(sub["last_age_days"]), "times": times(sub["count"]),
                  "count": sub["count"].astype(np.int64)}
        txt = render(template, fields, sub.index).to_numpy()
        parts.append(_long(row.loc[sub.index].to_numpy(), sub["points"].to_numpy(), txt,
                           np.full(len(sub), f"touch:{tt}", dtype=object)))
    return pd.concat(parts, ignore_index=True)


def model_candidates(attributions: pd.DataFrame, features: pd.DataFrame,
                     labels: Mapping[str, str], topics: Mapping[str, str] | None = None,
                     min_points: float = 1.0) -> pd.DataFrame:
    """Reason candidates from model attributions (one column per input feature, log-odds)."""
    parts = []
    topics = topics or {}
    a = attributions.to_numpy(dtype=float) * LOGODDS_TO_POINTS
    # only each row's three largest attributions can make its top three: wording the rest
    # would be wasted string work on a million rows
    keep = np.zeros_like(a, dtype=bool)
    if a.shape[1] > 3:
        top = np.argpartition(-np.abs(a), 2, axis=1)[:, :3]
        np.put_along_axis(keep, top, True, axis=1)
    else:
        keep[:] = True
    for j, name in enumerate(attributions.columns):
        w = a[:, j]
        hit = keep[:, j] & (np.abs(w) >= min_points)
        if not hit.any():
            continue
        val = features[name].iloc[np.flatnonzero(hit)] if name in features.columns \
            else pd.Series("", index=np.flatnonzero(hit))
        vtxt = _value_text(val).to_numpy()
        direction = np.where(w[hit] > 0, " (raises the odds)", " (lowers the odds)")
        txt = labels.get(name, name.replace("_", " ").capitalize()) + ": " + vtxt + direction
        parts.append(_long(np.flatnonzero(hit), w[hit], txt.astype(object),
                           np.full(hit.sum(), topics.get(name, f"field:{name}"), dtype=object)))
    return pd.concat(parts, ignore_index=True) if parts else _long(*([np.array([])] * 4))


def _value_text(val: pd.Series) -> pd.Series:
    """Readable values: whole numbers above 10, one decimal below, 'not given' for missing."""
    if pd.api.types.is_bool_dtype(val):
        return val.map({True: "yes", False: "no"}).astype("string").fillna("not given")
    if pd.api.types.is_numeric_dtype(val):
        num = pd.to_numeric(val, errors="coerce").astype(float)
        r = np.where(np.abs(num) >= 10, np.round(num), np.round(num, 1))
        txt = pd.Series(r, index=val.index).astype("string").str.replace(r"\.0$", "", regex=True)
        return txt.fillna("not given")
    return val.astype("string").fillna("not given")


NO_SIGNAL = "No strong fit or engagement signals yet"


def top_reasons(n_rows: int, *candidates: pd.DataFrame, k: int = 3,
                min_points: float = 0.5) -> list[list[str]]:
    """The ``k`` largest candidates per row (by absolute points, one per topic); contributions
    under ``min_points`` (e.g. a touch decayed to nothing) are not worth a rep's attention."""
    cand = pd.concat([c for c in candidates if not c.empty], ignore_index=True) \
        if any(not c.empty for c in candidates) else None
    out: list[list[str]] = [[NO_SIGNAL] for _ in range(n_rows)]
    if cand is None:
        return out
    cand = cand.assign(size=cand["weight"].abs())
    cand = cand[cand["size"] >= min_points]
    if cand.empty:
        return out
    cand = cand.sort_values(["row", "size"], ascending=[True, False], kind="stable")
    cand = cand.drop_duplicates(["row", "topic"], keep="first")
    rank = cand.groupby("row", sort=False).cumcount().to_numpy()
    keep = rank < k
    rows = cand["row"].to_numpy(dtype=np.int64)[keep]
    texts = cand["text"].to_numpy(dtype=object)[keep]
    rank = rank[keep]
    slots = np.full((n_rows, k), None, dtype=object)      # row x rank, filled where known
    slots[rows, rank] = texts
    has = np.zeros(n_rows, dtype=bool)
    has[rows] = True
    for r in np.flatnonzero(has):
        out[r] = [t for t in slots[r] if t is not None]
    return out
