"""Survivorship that keeps the truth: per field, the value most of a person's records agree on.

Why a vote and not "the most trusted source wins": one CRM row with a typo or a stale company
would otherwise overrule three web forms that agree. Values are compared in a folded form
(case, spaces and accents ignored, so "JOSÉ" and "José" are one vote); ties go to the most
trusted source (``sources[].priority``, lower wins), then to the most recent record. Junk values
(``leadflow.identity.evidence``: formulas, SQL, placeholders, symbol-only text) never vote: a
junk value stays in the landed row but never reaches a golden record, so matching against the
warehouse sees the same evidence as matching within a batch.

``vote`` also says which record supplied each field (the row label of ``records``), which
``people show`` lists per record.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.identity.evidence import junk_mask

#: the junk flag that disqualifies each field's values
JUNK_OF = {"first_name": "first_name", "last_name": "last_name", "company": "company",
           "company_norm": "company", "phone_e164": "phone"}
#: fields taken together from one record (display company follows the voted normalised one)
FOLLOWS = {"company": "company_norm"}


def _folded_codes(col: pd.Series) -> np.ndarray:
    """Voting form as integer codes (-1: missing): case, surrounding/double spaces and accents
    ignored; folded once per distinct value."""
    codes, uniq = pd.factorize(col, use_na_sentinel=True)
    if not len(uniq):
        return np.asarray(codes, dtype=np.int64)
    u = pd.Series(np.asarray(uniq, dtype=object), dtype="str")
    t = u.str.strip().str.casefold().str.replace(r"\s+", " ", regex=True)
    t = t.str.normalize("NFKD").str.replace(r"[\u0300-\u036f]", "", regex=True)
    fc = np.asarray(pd.factorize(t, use_na_sentinel=True)[0], dtype=np.int64)
    return np.where(codes >= 0, fc[np.maximum(codes, 0)], -1)


def vote(records: pd.DataFrame, key: str, fields: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Golden values per ``key`` (the index) and, per field, the row label of the record that
    supplied it. records need ``priority`` and ``record_time``; missing values never vote.
    Vectorised: one integer sort per field over (key, -votes, priority, -time)."""
    kc, kuniq = pd.factorize(records[key], use_na_sentinel=True)
    kc = np.asarray(kc, dtype=np.int64)
    keys = pd.Index(kuniq, name=key)
    prio = pd.to_numeric(records["priority"]).fillna(10**6).to_numpy(dtype=np.int64)
    tt = pd.to_datetime(records["record_time"])
    t = np.where(tt.isna().to_numpy(), 0, tt.to_numpy(dtype="datetime64[ns]").astype(np.int64))
    t = np.maximum(t, 0)
    labels = records.index.to_numpy()
    junk = {f: junk_mask(records, f) for f in set(JUNK_OF.values())}
    values: dict[str, pd.Series] = {}
    source: dict[str, np.ndarray] = {}
    for f in fields:
        if f in FOLLOWS or f not in records.columns:
            continue
        col = records[f]
        ok = col.notna().to_numpy().copy() & (kc >= 0)
        if f in JUNK_OF:
            ok &= ~junk[JUNK_OF[f]]
        if f == "attributes":
            form = np.arange(len(col), dtype=np.int64)          # no vote: priority, then recency
        elif col.dtype.kind in "biufM":
            form = np.asarray(pd.factorize(col, use_na_sentinel=True)[0], dtype=np.int64)
        else:
            form = _folded_codes(col)
        ok &= form >= 0
        idx = np.flatnonzero(ok)
        win_row = np.full(len(keys), -1, dtype=np.int64)
        if len(idx):
            k, fm = kc[idx], form[idx]
            _, inv, cnt = np.unique(k * (np.int64(fm.max()) + 1) + fm, return_inverse=True, return_counts=True)
            order = np.lexsort((-t[idx], prio[idx], -cnt[inv], k))
            ks = k[order]
            first = order[np.r_[True, ks[1:] != ks[:-1]]]
            win_row[k[first]] = idx[first]
        has = win_row >= 0
        vals = col.iloc[np.maximum(win_row, 0)].to_numpy() if len(col) else np.array([], dtype=object)
        ser = pd.Series(vals, index=keys, dtype=col.dtype if f != "attributes" else object)
        values[f] = ser.where(has) if len(ser) else ser
        src = np.full(len(keys), np.nan, dtype=object)
        src[has] = labels[win_row[has]]
        source[f] = src
        for follower, leader in FOLLOWS.items():
            if leader == f and follower in records.columns:
                fcol = records[follower]
                fv = pd.Series(fcol.iloc[np.maximum(win_row, 0)].to_numpy() if len(fcol) else [],
                               index=keys, dtype=fcol.dtype)
                values[follower] = fv.where(has) if len(fv) else fv
                source[follower] = src
    for f in fields:            # fields missing from the records entirely
        if f not in values and f in records.columns:
            values[f] = pd.Series(pd.NA, index=keys, dtype=records[f].dtype if f != "attributes" else object)
            source[f] = np.full(len(keys), np.nan, dtype=object)
    order_f = [f for f in fields if f in values]
    out_v = pd.DataFrame({f: values[f] for f in order_f}, index=keys)
    out_s = pd.DataFrame({f: source[f] for f in order_f}, index=keys)
    return out_v, out_s
