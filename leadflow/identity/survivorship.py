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


def _folded(s: pd.Series) -> pd.Series:
    """Voting form: case, surrounding/double spaces and accents ignored."""
    t = s.astype("str").str.strip().str.casefold().str.replace(r"\s+", " ", regex=True)
    return t.str.normalize("NFKD").str.replace(r"[\u0300-\u036f]", "", regex=True)


def vote(records: pd.DataFrame, key: str, fields: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Golden values per ``key`` (the index) and, per field, the row label of the record that
    supplied it. records need ``priority`` and ``record_time``; missing values never vote."""
    keys = pd.Index(pd.unique(records[key]), name=key)
    values = pd.DataFrame(index=keys)
    source = pd.DataFrame(index=keys)
    junk = {f: junk_mask(records, f) for f in set(JUNK_OF.values())}
    base = pd.DataFrame({"k": records[key].to_numpy(), "prio": records["priority"].to_numpy(),
                         "t": pd.to_datetime(records["record_time"]).to_numpy(),
                         "row": records.index.to_numpy()})
    for f in fields:
        if f in FOLLOWS or f not in records.columns:
            continue
        col = records[f]
        ok = col.notna().to_numpy().copy()
        if f in JUNK_OF:
            ok &= ~junk[JUNK_OF[f]]
        if f == "attributes":
            form = pd.Series(np.arange(len(col)), index=col.index)     # no vote: priority, recency
        elif col.dtype.kind in "biufM":
            form = col
        else:
            form = _folded(col)
        d = base[ok].assign(form=form.to_numpy()[ok])
        if d.empty:
            values[f] = pd.Series(dtype=col.dtype)
            source[f] = pd.Series(dtype="float64")
            continue
        d["n"] = d.groupby(["k", "form"], sort=False)["row"].transform("size")
        d = d.sort_values(["k", "n", "prio", "t"], ascending=[True, False, True, False], kind="stable")
        win = d.drop_duplicates("k").set_index("k")["row"]
        values[f] = col.loc[win.to_numpy()].set_axis(win.index).reindex(keys)
        source[f] = win.reindex(keys)
        for follower, leader in FOLLOWS.items():
            if leader == f and follower in records.columns:
                values[follower] = records[follower].loc[win.to_numpy()].set_axis(win.index).reindex(keys)
                source[follower] = source[f]
    for f in fields:            # fields no record had a (clean) value for
        if f not in values.columns and f in records.columns:
            values[f] = pd.Series(pd.NA, index=keys, dtype=records[f].dtype if f != "attributes" else object)
            source[f] = np.nan
    return values[[f for f in fields if f in values.columns]], source
