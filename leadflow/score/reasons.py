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
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from leadflow.config import FitRule, Scoring

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


def per_distinct(frame: pd.DataFrame, words: Callable[[pd.DataFrame], Any]) -> pd.Categorical:
    """``words(rows)`` computed once per distinct row of ``frame`` and spread to every row.

    A million leads share a few thousand (title, size, industry) combinations and a few hundred
    (touch count, days ago) pairs, so wording each distinct one and storing codes keeps reason
    building proportional to the vocabulary, not to the number of leads."""
    n = len(frame)
    key = np.zeros(n, dtype=np.int64)
    for c in frame.columns:
        codes, uniq = pd.factorize(frame[c], use_na_sentinel=True)
        key, _ = pd.factorize(key * (len(uniq) + 1) + (codes + 1))
    key = key.astype(np.int64, copy=False)
    if n == 0:
        return pd.Categorical([], categories=pd.Index([], dtype=object))
    # factorize numbers codes in order of first appearance: code g first occurs at first[g]
    first = np.flatnonzero(~pd.Series(key).duplicated().to_numpy())
    texts = np.asarray(words(frame.iloc[first].reset_index(drop=True)), dtype=object)
    return _categorical(key, texts)


def _categorical(codes: np.ndarray, texts: np.ndarray) -> pd.Categorical:
    """Rows' texts as a categorical: ``texts[codes]`` with equal texts merged."""
    c2, u2 = pd.factorize(pd.Series(texts, dtype=object))
    return pd.Categorical.from_codes(c2[codes], categories=pd.Index(u2, dtype=object))


def _const(text: str, n: int) -> pd.Categorical:
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8),
                                     categories=pd.Index([text], dtype=object))

def ago(days: pd.Series) -> pd.Series:
    """'today', 'yesterday', '5 days ago' from an age in days."""
    d = np.floor(np.asarray(days, dtype=float)).astype(np.int64)
    txt = pd.Series(d, index=days.index).astype(str) + " days ago"
    return txt.mask(d == 1, "yesterday").mask(d <= 0, "today")


def times(count: pd.Series) -> pd.Series:
    c = np.asarray(count, dtype=np.int64)
    txt = pd.Series(c, index=count.index).astype(str) + " times"
    return txt.mask(c == 2, "twice").mask(c == 1, "once")


def _long(row: np.ndarray, weight: np.ndarray, text: Any, topic: Any) -> pd.DataFrame:
    return pd.DataFrame({"row": row, "weight": weight, "text": text, "topic": topic})


def _empty() -> pd.DataFrame:
    return _long(np.array([], dtype=np.int64), np.array([], dtype=float),
                 _const("", 0), _const("", 0))


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


PROFILE_TEXT_FIELDS = ("job_title", "company_size", "industry")


def fit_candidates(people: pd.DataFrame, contrib: pd.DataFrame, scoring: Scoring) -> pd.DataFrame:
    """Reason candidates from fit-rule points (profile rules folded into one line)."""
    parts = []
    pos = np.arange(len(people))
    profile_cols = [f"fit_{i}" for i, r in enumerate(scoring.fit_rules) if r.field in PROFILE_FIELDS]
    if profile_cols:
        w = contrib[profile_cols].to_numpy().sum(axis=1)
        hit = w != 0
        if hit.any():
            sub = people.loc[hit, [c for c in PROFILE_TEXT_FIELDS if c in people.columns]]
            txt = per_distinct(sub, profile_text)
            parts.append(_long(pos[hit], w[hit], txt, _const("profile", int(hit.sum()))))
    for i, r in enumerate(scoring.fit_rules):
        if r.field in PROFILE_FIELDS:
            continue
        w = contrib[f"fit_{i}"].to_numpy()
        hit = w != 0
        if not hit.any():
            continue
        if r.field in people.columns:
            sub = people.loc[hit, [r.field]]
            def words(u: pd.DataFrame, r: FitRule = r) -> pd.Series:
                return render(r.reason, {"value": u[r.field].astype("string").fillna("")}, u.index)

            txt = per_distinct(sub, words)
        else:
            txt = _const(render(r.reason, {"value": pd.Series([""])}, pd.RangeIndex(1)).iloc[0],
                         int(hit.sum()))
        parts.append(_long(pos[hit], w[hit], txt, _const(f"field:{r.field}", int(hit.sum()))))
    return pd.concat(parts, ignore_index=True) if parts else _empty()


def engagement_candidates(contrib: pd.DataFrame, positions: pd.Series, scoring: Scoring,
                          key: str = "person_id") -> pd.DataFrame:
    """Reason candidates from per-type engagement points; ``positions`` maps key -> row."""
    if contrib.empty:
        return _empty()
    c = contrib[contrib["points"] != 0]
    row = c[key].map(positions)
    c = c[row.notna()]
    row = row[row.notna()].astype(np.int64)
    parts = []
    for tt, sub in c.groupby("touch_type", sort=False, observed=True):
        rule = scoring.engagement.get(str(tt))
        template = (rule.reason if rule is not None and rule.reason else
                    TOUCH_REASONS.get(str(tt), str(tt).replace("_", " ").capitalize() + " {ago}"))
        # the wording depends only on (whole days ago, count): word each pair once
        keys = pd.DataFrame({"days": np.floor(sub["last_age_days"].to_numpy(dtype=float)),
                             "count": sub["count"].to_numpy(dtype=np.int64)})
        def words(u: pd.DataFrame, template: str = template) -> pd.Series:
            return render(template, {"ago": ago(u["days"]), "times": times(u["count"]),
                                     "count": u["count"]}, u.index)
        parts.append(_long(row.loc[sub.index].to_numpy(), sub["points"].to_numpy(),
                           per_distinct(keys, words), _const(f"touch:{tt}", len(sub))))
    return pd.concat(parts, ignore_index=True) if parts else _empty()


def model_candidates(attributions: pd.DataFrame | np.ndarray, features: pd.DataFrame,
                     labels: Mapping[str, str], topics: Mapping[str, str] | None = None,
                     min_points: float = 1.0, names: list[str] | None = None) -> pd.DataFrame:
    """Reason candidates from model attributions (one column per input feature, log-odds).

    ``attributions`` is a frame with one column per feature, or a matrix with ``names``."""
    parts = []
    topics = topics or {}
    if isinstance(attributions, pd.DataFrame):
        names = list(attributions.columns)
        attributions = attributions.to_numpy()
    a = np.asarray(attributions) * np.float32(LOGODDS_TO_POINTS)
    names = list(names or [])
    # only each row's three largest attributions can make its top three: wording the rest
    # would be wasted string work on a million rows
    if a.shape[1] > 3:
        top = np.argpartition(-np.abs(a), 2, axis=1)[:, :3]
    else:
        top = np.broadcast_to(np.arange(a.shape[1]), (a.shape[0], a.shape[1]))
    rows = np.repeat(np.arange(a.shape[0]), top.shape[1])
    cols = top.ravel()
    w = a[rows, cols].astype(float)
    ok = np.abs(w) >= min_points
    rows, cols, w = rows[ok], cols[ok], w[ok]
    order = np.argsort(cols, kind="stable")
    rows, cols, w = rows[order], cols[order], w[order]
    bounds = np.searchsorted(cols, np.arange(len(names) + 1))
    for j, name in enumerate(names):
        lo, hi = bounds[j], bounds[j + 1]
        if lo == hi:
            continue
        r, wj = rows[lo:hi], w[lo:hi]
        val = features[name].iloc[r].reset_index(drop=True) if name in features.columns \
            else pd.Series(np.nan, index=np.arange(hi - lo))
        label = labels.get(name, name.replace("_", " ").capitalize())
        keys = pd.DataFrame({"value": _value_key(val), "up": wj > 0})
        def words(u: pd.DataFrame, label: str = label) -> np.ndarray:
            direction = np.where(u["up"].to_numpy(dtype=bool), " (raises the odds)",
                                 " (lowers the odds)")
            return (label + ": " + _value_words(u["value"]).to_numpy(dtype=object) + direction)
        parts.append(_long(r, wj, per_distinct(keys, words),
                           _const(topics.get(name, f"field:{name}"), hi - lo)))
    return pd.concat(parts, ignore_index=True) if parts else _empty()


def _value_key(val: pd.Series) -> pd.Series:
    """What a value's wording depends on: numbers rounded as shown, everything else as is."""
    if pd.api.types.is_bool_dtype(val):
        return val.astype("boolean")
    if pd.api.types.is_numeric_dtype(val):
        num = pd.to_numeric(val, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return pd.Series(np.where(np.abs(num) >= 10, np.round(num), np.round(num, 1)),
                         index=val.index)
    return val


def _value_words(key: pd.Series) -> pd.Series:
    """Readable values: whole numbers above 10, one decimal below, 'not given' for missing."""
    if pd.api.types.is_bool_dtype(key):
        return key.map({True: "yes", False: "no"}).astype("string").fillna("not given")
    if pd.api.types.is_numeric_dtype(key):
        txt = key.astype(float).astype("string").str.replace(r"\.0$", "", regex=True)
        return txt.fillna("not given")
    return key.astype("string").fillna("not given")


NO_SIGNAL = "No strong fit or engagement signals yet"


def _codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy(), col.cat.categories.to_numpy(dtype=object)
    codes, uniq = pd.factorize(col.astype(object))
    return codes, np.asarray(uniq, dtype=object)


def top_reasons(n_rows: int, *candidates: pd.DataFrame, k: int = 3,
                min_points: float = 0.5) -> list[list[str]]:
    """The ``k`` largest candidates per row (by absolute points, one per topic); contributions
    under ``min_points`` (e.g. a touch decayed to nothing) are not worth a rep's attention.

    Works on integer codes throughout (text and topic are categoricals); strings are looked up
    only for the winners, and rows with the same winners share one list."""
    cands = [c for c in candidates if not c.empty]
    out_empty: list[list[str]] = [[NO_SIGNAL] for _ in range(n_rows)]
    if not cands:
        return out_empty
    text_parts, topic_parts = [], []
    for c in cands:
        text_parts.append(_codes(c["text"]))
        topic_parts.append(_codes(c["topic"]))
    # one vocabulary for texts (and one for topics) across all candidate sources
    def merged(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        vocab = pd.Index(np.concatenate([u for _, u in parts]), dtype=object)
        ucodes, uniq = pd.factorize(vocab)
        offs = np.cumsum([0] + [len(u) for _, u in parts])
        codes = np.concatenate([ucodes[offs[i] + c] for i, (c, _) in enumerate(parts)])
        return codes, np.asarray(uniq, dtype=object)
    text, vocab = merged(text_parts)
    topic, _ = merged(topic_parts)
    row = np.concatenate([c["row"].to_numpy(dtype=np.int64) for c in cands])
    size = np.abs(np.concatenate([c["weight"].to_numpy(dtype=float) for c in cands]))
    ok = size >= min_points
    row, size, text, topic = row[ok], size[ok], text[ok], topic[ok]
    if not len(row):
        return out_empty
    order = np.lexsort((-size, row))                      # by row, largest first, stable
    row, text, topic = row[order], text[order], topic[order]
    first = ~pd.Series(row * (int(topic.max()) + 1) + topic).duplicated().to_numpy()
    row, text = row[first], text[first]                   # one per topic: its largest
    rank = np.arange(len(row)) - np.searchsorted(row, row, side="left")
    keep = rank < k
    slots = np.full((n_rows, k), -1, dtype=np.int64)
    slots[row[keep], rank[keep]] = text[keep]
    # rows with the same winners share one list: word each distinct combination once
    key = np.zeros(n_rows, dtype=np.int64)
    for j in range(k):
        key, _ = pd.factorize(key * (len(vocab) + 1) + (slots[:, j] + 1))
    first_row = np.flatnonzero(~pd.Series(key).duplicated().to_numpy())
    win = slots[first_row]                                # per distinct combination, not per lead
    filled = (win >= 0).sum(axis=1)                       # ranks fill from 0: a prefix
    words = np.append(vocab, NO_SIGNAL).astype(object)
    combos = np.empty(len(first_row), dtype=object)
    for c in range(k + 1):
        sel = np.flatnonzero(filled == c)
        if len(sel):
            ids = win[sel, :c] if c else np.full((len(sel), 1), len(vocab))
            combos[sel] = pd.Series(words[ids].tolist(), dtype=object).to_numpy()
    return combos[key].tolist()
