"""Opt-out signals of delivered rows, read before typing, so a row rejected or quarantined for
another reason (a bad timestamp, a failed check) still stops contact with its person.

A signal is kept when the row's address is readable (a valid normalised address) and either
its ``opt_out`` / ``do_not_call`` value says so or cannot be read (an unreadable flag means
"do not contact"), or it is an ``unsubscribe`` touch. Only the address's SHA-256 is kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.vocab.booleans import opt_out_flags
from leadflow.vocab.emails import addresses_listed, email_hash

# canonical field -> the signal it carries (people.opt_out / people.do_not_contact)
FLAG_SIGNALS = {"opt_out": "opt_out", "do_not_call": "do_not_contact"}

COLUMNS = ("row_number", "email_hash", "signal")
FIELDS = ("email", *FLAG_SIGNALS, "touch_type")   # the canonical fields signals are read from


def empty() -> pd.DataFrame:
    return pd.DataFrame({"row_number": pd.Series(dtype="int64"), "email_hash": pd.Series(dtype=object),
                         "signal": pd.Series(dtype=object)})


def contact_signals(kind: str, values: dict[str, pd.Series], rows: np.ndarray) -> pd.DataFrame:
    """(row_number, email_hash, signal) per signalling row; ``values`` are a chunk's mapped,
    value-mapped fields before typing (missing fields are absent)."""
    if "email" not in values:
        return empty()
    n = len(rows)
    parts = []
    wanted: list[tuple[str, np.ndarray]] = []
    if kind == "inbound_leads":
        for fld, sig in FLAG_SIGNALS.items():
            if fld in values:
                wanted.append((sig, opt_out_flags(values[fld]).to_numpy(dtype=bool)))
    elif kind == "touches" and "touch_type" in values:
        tt = values["touch_type"].astype("str").str.strip().str.lower()
        wanted.append(("unsubscribe", (tt == "unsubscribe").fillna(False).to_numpy(dtype=bool)))
    hit = np.zeros(n, dtype=bool)
    for _, m in wanted:
        hit |= m
    if not hit.any():
        return empty()
    idx = np.flatnonzero(hit)
    # every address a row lists ('a@x.com; b@y.com') is blocked, not only the one it loads under
    listed = addresses_listed(values["email"].iloc[idx])
    at = idx[listed["row"].to_numpy()]
    hashes = email_hash(listed["address"].astype(object)).to_numpy(dtype=object)
    for sig, m in wanted:
        sel = m[at]
        parts.append(pd.DataFrame({"row_number": np.asarray(rows)[at][sel].astype("int64"),
                                   "email_hash": hashes[sel], "signal": sig}))
    out = pd.concat(parts, ignore_index=True)
    return out[out["email_hash"].notna()].reset_index(drop=True)
