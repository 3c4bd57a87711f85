"""Vectorised string mess on numpy object arrays: typos, case and whitespace noise, phone
formats, e-mail aliases.

Speed matters (a million rows in seconds), so strings stay numpy object arrays: concatenation is
``np.add`` (a C loop), transformations of low-cardinality columns run once per distinct value
(``umap``), and per-row string surgery touches only the masked subset. Positions that vary per
row are grouped by position (a handful of groups), never looped per row.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from leadflow.demo import pools as P


def S(a: np.ndarray | pd.Series) -> pd.Series:
    """A pandas string Series of an object array (for the few .str operations on subsets)."""
    return pd.Series(np.asarray(a, dtype=object), dtype="str")


def O(s: pd.Series | np.ndarray) -> np.ndarray:  # noqa: E743
    """Back to a numpy object array, missing as None."""
    a = s.to_numpy(dtype=object, na_value=None) if isinstance(s, pd.Series) else np.asarray(s, dtype=object)
    return a


def cat(*parts: np.ndarray | str) -> np.ndarray:
    """Element-wise string concatenation of object arrays and scalars (no missing values)."""
    arrays: list[Any] = [p if isinstance(p, str) else np.asarray(p, dtype=object) for p in parts]
    return reduce(np.add, arrays)


def istr(a: np.ndarray) -> np.ndarray:
    """Integers to decimal strings (object array)."""
    return np.asarray(a).astype(np.int64).astype(str).astype(object)


def umap(values: np.ndarray, fn: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """Apply a Series->Series string transform once per distinct value, then broadcast back."""
    codes, uniq = pd.factorize(np.asarray(values, dtype=object))
    res = O(fn(S(np.asarray(uniq, dtype=object))))
    out = res[codes] if len(res) else np.full(len(codes), None, dtype=object)
    out[codes < 0] = None
    return out


def on(values: np.ndarray, mask: np.ndarray, fn: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """Apply a string transform only where ``mask`` (and the value is present)."""
    out = np.array(values, dtype=object, copy=True)
    m = mask & pd.notna(out)
    if m.any():
        out[m] = O(fn(S(out[m])))
    return out


def typo(rng: np.random.Generator, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One keyboard-style typo (drop, swap, double, replace) at a position inside the word."""
    out = np.array(values, dtype=object, copy=True)
    idx = np.flatnonzero(mask & pd.notna(out))
    if idx.size == 0:
        return out
    s = S(out[idx])
    n = s.str.len().to_numpy()
    ok = n >= 4
    idx, s, n = idx[ok], s[ok].reset_index(drop=True), n[ok]
    pos = 1 + (rng.random(len(idx)) * (n - 2)).astype(int)      # 1 .. n-2
    op = rng.integers(0, 4, len(idx))
    res = np.empty(len(idx), dtype=object)
    vowels = np.array(list("aeiou"), dtype=object)[rng.integers(0, 5, len(idx))]
    for p in np.unique(pos):
        m = pos == p
        ss = s[m]
        head, ch, nxt = O(ss.str[:p]), O(ss.str[p]), O(ss.str[p + 1])
        tail1, tail2 = O(ss.str[p + 1:]), O(ss.str[p + 2:])
        o = op[m]
        res[m] = np.select([o == 0, o == 1, o == 2],
                           [cat(head, tail1),                 # drop a letter
                            cat(head, nxt, ch, tail2),        # swap neighbours
                            cat(head, ch, ch, tail1)],        # double a letter
                           default=cat(head, vowels[m], tail1))  # replace with a vowel
    out[idx] = res
    return out


def case_noise(rng: np.random.Generator, values: np.ndarray, share_upper: float,
               share_lower: float) -> np.ndarray:
    """Some values all upper-case, some all lower-case."""
    u = rng.random(len(values))
    out = on(values, u < share_upper, lambda s: s.str.upper())
    return on(out, (u >= share_upper) & (u < share_upper + share_lower), lambda s: s.str.lower())


def space_noise(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    """Leading/trailing or doubled inner whitespace on a share of values."""
    out = np.array(values, dtype=object, copy=True)
    m = (rng.random(len(values)) < share) & pd.notna(out)
    v = out[m]
    kind = rng.integers(0, 3, m.sum())
    out[m] = np.select([kind == 0, kind == 1], [cat(" ", v), cat(v, "  ")],
                       default=cat(" ", O(S(v).str.replace(" ", "  ", n=1))))
    return out


def nickname(rng: np.random.Generator, first: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Formal first names replaced by a nickname; returns (names, applied mask)."""
    out = np.array(first, dtype=object, copy=True)
    codes, uniq = pd.factorize(out)
    known = np.isin(np.asarray(uniq, dtype=object), list(P.NICKNAMES))
    has = mask & (codes >= 0) & np.append(known, False)[codes]
    if has.any():
        k = rng.integers(0, 3, has.sum())
        lens = np.array([len(o) for o in P.NICKNAMES.values()])
        flat = np.array([n for o in P.NICKNAMES.values() for n in o], dtype=object)
        start = dict(zip(P.NICKNAMES, np.cumsum(lens) - lens))
        base = pd.Series(out[has]).map(start).to_numpy(int)
        ln = pd.Series(out[has]).map(dict(zip(P.NICKNAMES, lens))).to_numpy(int)
        out[has] = flat[base + k % ln]
    return out, has


def phone_render(rng: np.random.Generator, cc: np.ndarray, pre: np.ndarray, sub: np.ndarray,
                 iso: np.ndarray) -> np.ndarray:
    """Phone numbers as people type them: +44 20 ..., (020) ..., 0044 ..., 020-..., E.164.

    ``pre`` is the area/mobile prefix, ``sub`` the subscriber number (int, -1 for none).
    """
    out = np.full(len(sub), None, dtype=object)
    has = sub >= 0
    c, a = cc[has], pre[has]
    s = sub[has].astype(np.int64)
    head, tail = istr(s // 10_000), np.char.zfill(istr(s % 10_000).astype(str), 4).astype(object)
    nanp = np.isin(iso[has], ["US", "CA"])
    trunk = pd.Series(iso[has]).map({x["iso"]: x["trunk"] for x in P.COUNTRIES}).to_numpy(object)
    fmt = rng.choice(5, size=has.sum(), p=[0.3, 0.25, 0.1, 0.2, 0.15])
    res = np.empty(len(s), dtype=object)
    for f in range(5):
        for us in (True, False):
            m = (fmt == f) & (nanp == us)
            if not m.any():
                continue
            c_, a_, h_, t_, k_ = c[m], a[m], head[m], tail[m], trunk[m]
            if f == 0:
                res[m] = cat("+", c_, " ", a_, "-", h_, "-", t_) if us else cat("+", c_, " ", a_, " ", h_, " ", t_)
            elif f == 1:
                res[m] = cat("(", a_, ") ", h_, "-", t_) if us else cat("(", k_, a_, ") ", h_, " ", t_)
            elif f == 2:
                res[m] = cat("00", c_, " ", a_, " ", h_, t_)
            elif f == 3:
                res[m] = cat("+", c_, a_, h_, t_)
            else:
                res[m] = cat(a_, ".", h_, ".", t_) if us else cat(k_, a_, "-", h_, "-", t_)
    out[has] = res
    return out


def insert_dot(rng: np.random.Generator, local: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Gmail ignores dots in the local part: john.smith -> jo.hn.smith (same mailbox)."""
    out = np.array(local, dtype=object, copy=True)
    idx = np.flatnonzero(mask)
    s = S(out[idx])
    n = s.str.len().to_numpy()
    pos = 1 + (rng.random(len(idx)) * np.maximum(n - 2, 1)).astype(int)
    res = np.empty(len(idx), dtype=object)
    for p in np.unique(pos):
        m = pos == p
        ss = s[m]
        res[m] = O((ss.str[:p] + "." + ss.str[p:]).str.replace("..", ".", regex=False))
    out[idx] = res
    return out


def invalid_email(rng: np.random.Generator, email: np.ndarray) -> np.ndarray:
    """Typical broken addresses: no @, double @, comma for dot, inner space, no TLD, junk."""
    s = S(email)
    k = rng.integers(0, 6, len(email))
    return np.select(
        [k == 0, k == 1, k == 2, k == 3, k == 4],
        [O(s.str.replace("@", "", regex=False)),
         O(s.str.replace("@", "@@", regex=False)),
         O(s.str.replace(r"\.([a-z]+)$", r",\1", regex=True)),
         O(s.str.replace("@", " @", regex=False)),
         O(s.str.replace(r"\.[a-z.]+$", "", regex=True))],
        default=np.array(["n/a", "test", "none@none", "asdf@asdf"], dtype=object)[rng.integers(0, 4, len(email))])
