"""Crowded blocking keys: values so common in the warehouse that resolution skips their block.

Resolution compares records only inside blocks, and skips a block larger than its cap
(``Thresholds.block_cap``; ``WEAK_CAP`` for a local part or a name pair alone): a name
borne by hundreds of people is no evidence. Reading those hundreds of people only to skip
their block made a day's load grow with the warehouse (at 885k people, 127k people read for
14k records, 88k of them only through crowded local parts and name pairs). So the load counts
each of the batch's keys in ``person_keys`` first, reads people only through keys within their
cap, and passes the crowded values to resolution, which treats them as the full read would have:

- the block of a crowded value is skipped for every node (``node_masks``), so the few holders
  read through other keys do not form the small block the full read would not have formed;
- a crowded phone counts as junk (shared by more people than any real phone);
- a crowded name is not rare (``rarity.rare_masks``): more people bear it than ``GROUP_CAP``.

A key's holders are a superset of its block (both typed names and the names read from an
address are keyed), so a value is crowded only when at least that many people hold it; the
rule can only skip a comparison the full read would have made when most of those holders
carry the name only in their address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

WEAK_CAP = 20      # keys that are evidence only in small groups: a local part or a name pair alone
WEAK_KINDS = ("l", "n")
SINGLE = {"e": "email_key", "p": "phone_k", "l": "local_k"}
# composite kinds: (name part, other column); name part "first_k", "last_k" or the unordered pair
COMPOSITE = {"sd": ("last_k", "dom_k"), "sc": ("last_k", "co_k"), "so": ("last_k", "org"),
             "fd": ("first_k", "dom_k"), "fc": ("first_k", "co_k"), "fo": ("first_k", "org"),
             "nd": ("pair", "dom_k"), "nc": ("pair", "co_k"), "n": ("pair", None)}


def caps(block_cap: int) -> dict[str, int]:
    """Per key kind, the most holders a value may have before its block is skipped."""
    weak = min(block_cap, WEAK_CAP)
    return {k: (weak if k in WEAK_KINDS else block_cap) for k in (*SINGLE, *COMPOSITE)}


def crowded_keys(keys: pd.DataFrame, holders: pd.Series, kind_caps: Mapping[str, int]) -> pd.DataFrame:
    """The rows of ``keys`` (``kind``, ``key``, ``key_hash``) whose value more people hold
    (``holders``: count per key_hash) than their kind's cap."""
    n = keys["key_hash"].map(holders).fillna(0).to_numpy()
    cap = keys["kind"].map(kind_caps).fillna(np.inf).to_numpy()
    return keys[n > cap]


def by_kind(crowded: pd.DataFrame) -> dict[str, list[str]]:
    """Crowded values (the text after ``kind:``) per kind."""
    if crowded.empty:
        return {}
    values = crowded["key"].str.split(":", n=1).str[1]
    return {str(k): sorted(set(v)) for k, v in values.groupby(crowded["kind"].to_numpy())}


def _codes(enc: Any, col: str, values: Iterable[str]) -> np.ndarray:
    """Codes of ``values`` in ``enc``'s column (-1 where the value is not there)."""
    return pd.Index(enc.uniques[col]).get_indexer(pd.Index(list(values), dtype=object))


def _name_part(enc: Any, part: str, texts: pd.Series) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """Per node its code for ``part`` and per crowded text the same code, with the text's rest."""
    if part != "pair":
        head = texts.str.split("|", n=1)
        return enc.codes[part], _codes(enc, "first_k", head.str[0]), head.str[1]
    split = texts.str.split("|", n=2)
    a, b = _codes(enc, "first_k", split.str[0]), _codes(enc, "first_k", split.str[1])
    nodes = (enc.codes["first_k"], enc.codes["last_k"])
    big = np.int64(max(int(nodes[0].max(initial=0)), int(nodes[1].max(initial=0)), 0) + 1)
    node_pair = np.where((nodes[0] >= 0) & (nodes[1] >= 0),
                         np.minimum(*nodes) * big + np.maximum(*nodes), -1)
    text_pair = np.where((a >= 0) & (b >= 0), np.minimum(a, b) * big + np.maximum(a, b), -1)
    return node_pair, text_pair, split.str[2]


def _texts(enc: Any, col: str, nodes: np.ndarray) -> np.ndarray:
    """The nodes' values of ``col`` as text ("" where missing); ``org``: the organisation word
    blocking uses (``rarity.org_of``: the business domain's first word, else the company's)."""
    if col != "org":
        return np.asarray(enc.strings(col, nodes)[0], dtype=object)
    from leadflow.identity.rarity import org_words

    def text(c: str) -> pd.Series:
        return pd.Series(enc.strings(c, nodes)[0], dtype="str").replace("", pd.NA)
    return org_words(text("dom_k"), text("co_k")).fillna("").to_numpy(dtype=object)


def node_masks(enc: Any, crowded: Mapping[str, Iterable[str]]) -> dict[str, np.ndarray]:
    """Per kind, which nodes hold a crowded value of it (their block for that value is skipped)."""
    out: dict[str, np.ndarray] = {}
    for kind, values in crowded.items():
        texts = pd.Series(list(values), dtype=object)
        if not len(texts):
            continue
        if kind in SINGLE:
            code = _codes(enc, SINGLE[kind], texts)
            out[kind] = np.isin(enc.codes[SINGLE[kind]], code[code >= 0])
            continue
        if kind not in COMPOSITE:
            continue
        part, other = COMPOSITE[kind]
        node_x, text_x, rest = _name_part(enc, part, texts)
        if other is None:
            out[kind] = np.isin(node_x, text_x[text_x >= 0]) & (node_x >= 0)
            continue
        # the other part compared as text, for the nodes whose name part is crowded only
        near = np.flatnonzero(np.isin(node_x, text_x[text_x >= 0]) & (node_x >= 0))
        want = pd.MultiIndex.from_arrays([text_x, rest.fillna("").to_numpy(dtype=object)])
        have = pd.MultiIndex.from_arrays([node_x[near], _texts(enc, other, near)])
        mask = np.zeros(len(node_x), dtype=bool)
        mask[near] = np.asarray(have.isin(want))
        out[kind] = mask
    return out


def not_rare(masks: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Per rare-name kind (``rarity``: full, given, family), the nodes whose name group is
    crowded in the warehouse, so not rare whatever the nodes read show."""
    def any_of(*kinds: str) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        for k in kinds:
            if k in masks:
                out |= masks[k]
        return out
    return {"full": any_of("n", "nd", "nc"), "given": any_of("fd", "fc", "fo"),
            "family": any_of("sd", "sc", "so")}
