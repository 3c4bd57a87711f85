"""Vectorised string mess: typos, case and whitespace noise, phone formats, e-mail aliases.

Each function takes arrays (or Series) plus a boolean mask and returns a new object array;
positions vary per row, so work is grouped by position (a handful of groups), never per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.demo import pools as P


def S(a: np.ndarray | pd.Series) -> pd.Series:
    """A pandas string Series view of an object array (missing stays missing)."""
    return pd.Series(np.asarray(a, dtype=object), dtype="str")


def typo(rng: np.random.Generator, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One keyboard-style typo (drop, swap, double, replace) at a position inside the word."""
    out = values.copy()
    idx = np.flatnonzero(mask & pd.notna(values))
    if idx.size == 0:
        return out
    s = S(values[idx])
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
        head, ch, nxt, tail2 = ss.str[:p], ss.str[p], ss.str[p + 1], ss.str[p + 2:]
        tail1 = ss.str[p + 1:]
        o = op[m]
        res[m] = np.select(
            [o == 0, o == 1, o == 2],
            [(head + tail1).to_numpy(object),                     # drop a letter
             (head + nxt + ch + tail2).to_numpy(object),          # swap neighbours
             (head + ch + ch + tail1).to_numpy(object)],          # double a letter
            default=(head + S(vowels[m]).to_numpy(object) + tail1).to_numpy(object))  # replace
    out[idx] = res
    return out


def case_noise(rng: np.random.Generator, values: np.ndarray, share_upper: float,
               share_lower: float) -> np.ndarray:
    """Some values all upper-case, some all lower-case."""
    out = values.copy()
    u = rng.random(len(values))
    s = S(values)
    up, lo = u < share_upper, (u >= share_upper) & (u < share_upper + share_lower)
    out[up] = s[up].str.upper().to_numpy(object)
    out[lo] = s[lo].str.lower().to_numpy(object)
    return out


def space_noise(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    """Leading/trailing or doubled inner whitespace on a share of values."""
    out = values.copy()
    m = (rng.random(len(values)) < share) & pd.notna(values)
    s = S(values[m])
    kind = rng.integers(0, 3, m.sum())
    out[m] = np.select([kind == 0, kind == 1],
                       [(" " + s).to_numpy(object), (s + "  ").to_numpy(object)],
                       default=s.str.replace(" ", "  ", n=1).radd(" ").to_numpy(object))
    return out


def nickname(rng: np.random.Generator, first: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Formal first names replaced by a nickname; returns (names, applied mask)."""
    out = first.copy()
    s = pd.Series(first, dtype=object)
    has = s.isin(list(P.NICKNAMES)).to_numpy() & mask
    opts = s[has].map(P.NICKNAMES)
    k = rng.integers(0, 3, has.sum())
    out[has] = [o[i % len(o)] for o, i in zip(opts.to_numpy(), k)] if has.any() else []
    return out, has


def phone_render(rng: np.random.Generator, cc: np.ndarray, nsn: np.ndarray, iso: np.ndarray) -> np.ndarray:
    """Phone numbers in the formats people type: +44 20 ..., (020) ..., 0044 ..., 020-..., E.164."""
    out = np.full(len(nsn), None, dtype=object)
    has = pd.notna(nsn)
    c, n = S(cc[has]), S(nsn[has])
    us = np.isin(iso[has], ["US", "CA"])
    trunk_c = {c_["iso"]: c_["trunk"] for c_ in P.COUNTRIES}
    trunk = S(pd.Series(iso[has]).map(trunk_c).to_numpy(object))
    a, b, d = n.str[:3], n.str[3:-4], n.str[-4:]
    pa, pb = n.str[:2], n.str[2:]
    fmt = rng.choice(5, size=has.sum(), p=[0.3, 0.25, 0.1, 0.2, 0.15])
    intl = np.where(us, ("+" + c + " " + a + "-" + b + "-" + d).to_numpy(object),
                    ("+" + c + " " + pa + " " + pb.str[:-4] + " " + d).to_numpy(object))
    nat = np.where(us, ("(" + a + ") " + b + "-" + d).to_numpy(object),
                   ("(" + trunk + pa + ") " + pb.str[:-4] + " " + d).to_numpy(object))
    zz = ("00" + c + " " + pa + " " + pb).to_numpy(object)
    e164 = ("+" + c + n).to_numpy(object)
    dash = np.where(us, (a + "." + b + "." + d).to_numpy(object),
                    (trunk + pa + "-" + pb.str[:-4] + "-" + d).to_numpy(object))
    out[has] = np.select([fmt == 0, fmt == 1, fmt == 2, fmt == 3], [intl, nat, zz, e164], default=dash)
    return out


def insert_dot(rng: np.random.Generator, local: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Gmail ignores dots in the local part: john.smith -> jo.hn.smith (same mailbox)."""
    out = local.copy()
    idx = np.flatnonzero(mask)
    s = S(local[idx])
    n = s.str.len().to_numpy()
    pos = 1 + (rng.random(len(idx)) * np.maximum(n - 2, 1)).astype(int)
    res = np.empty(len(idx), dtype=object)
    for p in np.unique(pos):
        m = pos == p
        ss = s[m]
        res[m] = (ss.str[:p] + "." + ss.str[p:]).str.replace("..", ".", regex=False).to_numpy(object)
    out[idx] = res
    return out


def invalid_email(rng: np.random.Generator, email: np.ndarray) -> np.ndarray:
    """Typical broken addresses: no @, double @, comma for dot, inner space, no TLD, junk."""
    s = S(email)
    k = rng.integers(0, 6, len(email))
    return np.select(
        [k == 0, k == 1, k == 2, k == 3, k == 4],
        [s.str.replace("@", "", regex=False).to_numpy(object),
         s.str.replace("@", "@@", regex=False).to_numpy(object),
         s.str.replace(r"\.([a-z]+)$", r",\1", regex=True).to_numpy(object),
         s.str.replace("@", " @", regex=False).to_numpy(object),
         s.str.replace(r"\.[a-z.]+$", "", regex=True).to_numpy(object)],
        default=np.array(["n/a", "test", "none@none", "asdf@asdf"], dtype=object)[rng.integers(0, 4, len(email))])
