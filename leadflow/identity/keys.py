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


def _s(x: pd.Series) -> pd.Series:
    return x.astype("string")


def key_values(df: pd.DataFrame) -> pd.DataFrame:
    """``row`` (position in ``df``), ``kind`` (the block: ``e``, ``p``, ``l``, ``sd``, ``sc``,
    ``so``, ``fd``, ``fc``, ``fo``, ``n``, ``nd``, ``nc``) and ``key`` (``kind:value`` text) for
    every block value of every row."""
    df = df.reset_index(drop=True)
    k = match_keys(df)
    imp_first, imp_last = names_from_address(k["email_norm"].astype(object))
    imp_first = imp_first.map(nickname_map()).fillna(imp_first)
    own_first, own_last = names_from_own(k["local_nd"], k["first_raw"], k["last_k"])   # martamartinez@
    own_first = own_first.map(nickname_map()).fillna(own_first)
    firsts = [_s(k["first_k"]), _s(imp_first.reindex(k.index)), _s(own_first)]
    lasts = [_s(k["last_k"]), _s(imp_last.reindex(k.index)), _s(own_last)]
    dom, co = _s(k["dom_k"]), _s(k["co_k"])
    org = _s(rarity.org_words(k["dom_k"], k["co_k"]))   # resolve._blocks' organisation word
    parts: list[tuple[str, pd.Series]] = [("e", _s(k["email_key"])), ("p", _s(k["phone_k"])),
                                          ("l", _s(k["local_k"]))]
    for i, la in enumerate(lasts):
        parts += [(f"sd{i}", la + "|" + dom), (f"sc{i}", la + "|" + co), (f"so{i}", la + "|" + org)]
    for i, f in enumerate(firsts):
        parts += [(f"fd{i}", f + "|" + dom), (f"fc{i}", f + "|" + co), (f"fo{i}", f + "|" + org)]
        for j, la in enumerate(lasts):
            first_lower = (f <= la).fillna(False).astype(bool)
            ns = f.where(first_lower, la) + "|" + la.where(first_lower, f)   # the unordered pair
            parts += [(f"n{i}{j}", ns), (f"nd{i}{j}", ns + "|" + dom), (f"nc{i}{j}", ns + "|" + co)]
    frames = []
    for name, v in parts:
        v = v.dropna()
        kind = name.rstrip("0123456789")
        frames.append(pd.DataFrame({"row": v.index.to_numpy(), "kind": kind, "key": (kind + ":" + v).to_numpy()}))
    out = pd.concat(frames, ignore_index=True)
    return out.drop_duplicates(["row", "key"], ignore_index=True)


def key_table(df: pd.DataFrame) -> pd.DataFrame:
    """``key_values`` with ``key_hash`` (signed 64-bit): what ``person_keys`` stores."""
    kv = key_values(df)
    h = pd.util.hash_pandas_object(kv["key"], index=False, categorize=True).to_numpy()
    return kv.assign(key_hash=h.view(np.int64))


def key_hashes(df: pd.DataFrame) -> pd.DataFrame:
    """``row`` and ``key_hash`` per distinct block value of each row."""
    return key_table(df)[["row", "key_hash"]].drop_duplicates(ignore_index=True)
