"""Blocking keys of people and records as 64-bit hashes: which existing people a batch can meet.

Resolution compares a record only with people sharing one of its blocks (``resolve._blocks``:
alias-folded address, phone, local part, and a given / family / both names with the company
domain or name, a given / family name with the organisation word, or both names alone). Each
person's block values are kept hashed in ``person_keys``; a batch looks up its own hashes there
and reads just those people, so the load reads what the day's records can match, not every
person in the warehouse. (A change of the key kinds needs a migration that empties
``person_keys``, as 0020 did for the organisation word: the next load rebuilds every person's
keys with ``store.build_keys`` before it reads.)

The keys are a superset of the blocks: both the typed names and the names read from the
address (``given.family@``, or ``givenfamily@`` cut where a typed name ends; resolution uses
them where a typed name is missing or junk) are keyed, and junk
values are not removed (they only make more people read). Only hashes are stored: no address,
name or phone in clear text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.identity import rarity
from leadflow.identity.evidence import names_from_address, names_from_own
from leadflow.identity.nicknames import nickname_map
from leadflow.identity.resolve import match_keys

MATCH_INPUT = ("email_norm", "first_name", "last_name", "phone_e164", "company_norm", "is_free_mail")


def _texts(x: pd.Series) -> pd.Series:
    """Values as text (missing stays missing): what the key strings are built from."""
    return x.astype("string")


def _joined(kind: str, *columns: pd.Series) -> tuple[np.ndarray, str, pd.Series]:
    """Rows where every column has a value, and their ``kind:a|b|...`` key texts, concatenated
    over those rows only (most name variants and domains are missing on most rows)."""
    ok = np.ones(len(columns[0]), dtype=bool)
    for c in columns:
        ok &= c.notna().to_numpy()
    rows = np.flatnonzero(ok)
    text = columns[0].iloc[rows]
    for c in columns[1:]:
        text = text + "|" + c.iloc[rows]
    return rows, kind, kind + ":" + text


def _distinct(variants: list[pd.Series]) -> list[pd.Series]:
    """The variants of a name (typed, read from the address, cut from the local part) with a
    value left out where an earlier variant of the same row holds it: it would only repeat
    that variant's keys (most rows' address repeats the typed name)."""
    out = [variants[0]]
    for i, v in enumerate(variants[1:], start=1):
        same = np.zeros(len(v), dtype=bool)
        for prev in variants[:i]:
            same |= (v == prev).fillna(False).to_numpy(dtype=bool)
        out.append(v.mask(same))
    return out


def _pair(first: pd.Series, last: pd.Series) -> pd.Series:
    """The unordered name pair ``a|b`` (a <= b), missing where either is."""
    first_lower = (first <= last).fillna(False).to_numpy(dtype=bool)
    return first.where(first_lower, last) + "|" + last.where(first_lower, first)


def key_values(df: pd.DataFrame, distinct: bool = True) -> pd.DataFrame:
    """``row`` (position in ``df``), ``kind`` (the block: ``e``, ``p``, ``l``, ``sd``, ``sc``,
    ``so``, ``fd``, ``fc``, ``fo``, ``n``, ``nd``, ``nc``) and ``key`` (``kind:value`` text) for
    every block value of every row (``distinct=False``: repeats within a row kept)."""
    df = df.reset_index(drop=True)
    k = match_keys(df)
    imp_first, imp_last = names_from_address(k["email_norm"].astype(object))
    imp_first = imp_first.map(nickname_map()).fillna(imp_first)
    own_first, own_last = names_from_own(k["local_nd"], k["first_raw"], k["last_k"])   # martamartinez@
    own_first = own_first.map(nickname_map()).fillna(own_first)
    firsts = _distinct([_texts(k["first_k"]), _texts(imp_first.reindex(k.index)), _texts(own_first)])
    lasts = _distinct([_texts(k["last_k"]), _texts(imp_last.reindex(k.index)), _texts(own_last)])
    dom, co = _texts(k["dom_k"]), _texts(k["co_k"])
    org = _texts(rarity.org_words(k["dom_k"], k["co_k"]))   # resolve._blocks' organisation word
    parts = [_joined("e", _texts(k["email_key"])), _joined("p", _texts(k["phone_k"])),
             _joined("l", _texts(k["local_k"]))]
    for la in lasts:
        parts += [_joined("sd", la, dom), _joined("sc", la, co), _joined("so", la, org)]
    for f in firsts:
        parts += [_joined("fd", f, dom), _joined("fc", f, co), _joined("fo", f, org)]
        for la in lasts:
            ns = _pair(f, la)
            parts += [_joined("n", ns), _joined("nd", ns, dom), _joined("nc", ns, co)]
    out = pd.DataFrame({"row": np.concatenate([r for r, _, _ in parts]),
                        "kind": np.repeat([kind for _, kind, _ in parts], [len(r) for r, _, _ in parts]),
                        "key": pd.concat([keys for _, _, keys in parts], ignore_index=True)})
    return out.drop_duplicates(["row", "key"], ignore_index=True) if distinct else out


def key_table(df: pd.DataFrame) -> pd.DataFrame:
    """``key_values`` with ``key_hash`` (signed 64-bit): what ``person_keys`` stores; one row
    per row and hash (deduplicated on the 64-bit hashes, cheaper than on the key texts)."""
    kv = key_values(df, distinct=False)
    h = pd.util.hash_pandas_object(kv["key"], index=False, categorize=True).to_numpy()
    kv["key_hash"] = h.view(np.int64)
    return kv.drop_duplicates(["row", "key_hash"], ignore_index=True)


KEY_CHUNK = 25_000


def key_hashes(df: pd.DataFrame, chunk: int = KEY_CHUNK) -> pd.DataFrame:
    """``row`` and ``key_hash`` per distinct block value of each row, built ``chunk`` rows at a
    time: a row's keys depend on that row alone, and the key texts (a dozen strings per row)
    then exist for one chunk at a time, not for a whole first load (the load's peak memory
    was in here: 2.5 GiB at 300k leads)."""
    if len(df) <= chunk:
        return key_table(df)[["row", "key_hash"]]
    df = df.reset_index(drop=True)
    return pd.concat([key_table(df.iloc[s:s + chunk])[["row", "key_hash"]].assign(row=lambda k, s=s: k["row"] + s)
                      for s in range(0, len(df), chunk)], ignore_index=True)
