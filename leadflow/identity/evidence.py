"""Junk is not evidence: which name, company and phone values may count as matching evidence.

Web forms and CRM exports carry values that say nothing about a person: spreadsheet formulas
and DDE commands (``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0``, ``@SUM(1+1)``), SQL fragments
pasted by scanners, strings of symbols or emoji, form placeholders ("Select", "N/A", "test",
"asdf", "-"), and values one shared mailbox or a bot typed for hundreds of different addresses.
Two records sharing such a value are no more likely to be one person, so matching treats them as
missing. The values themselves are not touched: they stay in the landed row, and survivorship
only lets them into a golden record when no clean value exists.

Two kinds of test, both per distinct value (vectorised):

- by shape (``junk_values``), on the *raw* value before name cleaning strips the symbols that
  give a formula away, and again on the cleaned value (for callers that only have that);
- by spread (``spread_junk``): a value used with implausibly many distinct addresses (a phone
  with more than ``PHONE_MAX_EMAILS``; a company name with more than ``COMPANY_MAX_DOMAINS``
  distinct business mail domains, e.g. "Self-employed"; a full name with more than
  ``NAME_MAX_EMAILS`` distinct addresses at one business domain).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.identity.nicknames import nickname_map
from leadflow.vocab.lists import ROLE_LOCAL_PARTS

#: columns flagged by ``flag_junk`` (one bool column per evidence field)
JUNK_FIELDS = ("first_name", "last_name", "company", "phone")
JUNK_COLS = tuple(f"junk_{f}" for f in JUNK_FIELDS)

PLACEHOLDER_PHRASES = frozenset({
    "select", "select one", "please select", "choose", "choose one", "n/a", "n a", "na", "n.a.",
    "none", "null", "nil", "undefined", "nan", "unknown", "unkown", "not known", "not provided",
    "not available", "no name", "noname", "name", "first name", "last name", "firstname",
    "lastname", "surname", "company", "company name", "your company", "my company", "test",
    "testing", "test test", "tester", "test user", "testuser", "asdf", "asdfgh", "asdfasdf",
    "qwerty", "qwertz", "abc", "abcd", "abcdef", "xxx", "xxxx", "xx", "x", "xyz", "aaa", "aaaa",
    "zzz", "foo", "bar", "foobar", "blah", "sample", "example", "demo", "dummy", "fake",
    "anonymous", "anon", "user", "customer", "lead", "contact", "other", "misc", "private",
    "self", "self employed", "self-employed", "individual", "freelance", "freelancer", "student",
    "student company", "no company", "personal", "home", "retired", "unemployed", "ltd", "inc",
})

#: formulas / DDE: a leading = + - @ (or tab/CR) followed by something a spreadsheet evaluates
_FORMULA = r"^\s*[=+\-@\t\r]\s*[A-Za-z0-9(\"'|!$]"
#: SQL fragments: statements, tautologies, comments
_SQL = (r"(?i)(?:\b(?:select|insert|update|delete|drop|union|alter|create|exec|truncate)\b.*"
        r"\b(?:from|into|table|set|select|where|database)\b)|(?:'\s*(?:or|and)\s*'?\d*'?\s*=)"
        r"|(?:--\s*$)|(?:/\*)|(?:;\s*(?:drop|delete|shutdown|exec)\b)|(?:\b1\s*=\s*1\b)")
#: at least one letter of any script (names may be Cyrillic, CJK, ...)
_LETTER = r"[^\W\d_]"
#: keyboard mashes people type to get past a required field
_MASH = r"^(?:asdf\w*|qwer\w*|sdfg\w*|dfgh\w*|hjkl\w*|zxcv\w*|jkl;?\w*|test\d*|xx+\d*)$"

#: one character three or more times, nothing else (no backreferences: runs in Arrow/RE2)
_SAME3 = "|".join(f"{c}{{3,}}" for c in "abcdefghijklmnopqrstuvwxyz0123456789.-_*#?!")
_SAME3 = "(?:" + _SAME3.replace(".{", r"\.{").replace("*{", r"\*{").replace("?{", r"\?{") + ")"
_SAME_DIGIT = "(?:" + "|".join(f"{d}+" for d in "0123456789") + ")"

PHONE_MAX_EMAILS = 5        # a switchboard or a fake number, not one person's line
COMPANY_MAX_DOMAINS = 25    # one company name over this many business mail domains: a placeholder
NAME_MAX_EMAILS = 40        # one full name over this many addresses at one business domain


def _classify(u: pd.Series) -> pd.Series:
    """bool per distinct value: junk by shape."""
    s = u.astype("str").str.strip()
    low = s.str.lower().str.replace(r"\s+", " ", regex=True)
    junk = low.isin(PLACEHOLDER_PHRASES) | low.str.strip(" .-_*#").isin(PLACEHOLDER_PHRASES)
    junk |= s.str.contains(_FORMULA, regex=True)
    junk |= s.str.contains(_SQL, regex=True)
    junk |= ~s.str.contains(_LETTER, regex=True)                   # symbols, digits, emoji only
    squeezed = low.str.replace(r"\s+", "", regex=True)
    junk |= squeezed.str.fullmatch(_SAME3, na=False)                 # "aaaa", "xxxxx"
    junk |= squeezed.str.contains(_MASH, regex=True)
    junk |= s.str.contains(r"[<>{}\[\]|\\^`~]|https?://|www\.", regex=True)   # markup, URLs
    return junk.fillna(False).astype(bool)


def junk_values(values: pd.Series, phone: bool = False) -> pd.Series:
    """bool per value: junk by shape (missing values are not junk, they are just missing).

    Phones are junk when they carry a formula or no digits at all, or are one digit repeated."""
    arr = values.to_numpy(dtype=object, na_value=None)
    codes, uniq = pd.factorize(arr, use_na_sentinel=True)
    if not len(uniq):
        return pd.Series(False, index=values.index)
    u = pd.Series(uniq, dtype="str")
    if phone:
        digits = u.str.replace(r"\D", "", regex=True)
        flag = (u.str.contains(_FORMULA, regex=True) & ~u.str.strip().str.startswith("+")) \
            | u.str.contains(r"[=@|!]", regex=True) | (digits.str.len() < 5) \
            | digits.str.fullmatch(_SAME_DIGIT, na=False) \
            | digits.isin(["0123456789", "1234567890", "123456789", "01234567890"])
        flag = flag.fillna(False).astype(bool)
    else:
        flag = _classify(u)
    vals = flag.to_numpy(dtype=bool)
    return pd.Series(np.where(codes >= 0, vals[np.maximum(codes, 0)], False), index=values.index)


def flag_junk(raw: pd.DataFrame) -> pd.DataFrame:
    """``junk_<field>`` bool columns for the raw (uncleaned) values of a leads frame."""
    out = {}
    for f, col in zip(JUNK_FIELDS, JUNK_COLS):
        if f in raw.columns:
            out[col] = junk_values(raw[f], phone=(f == "phone")).to_numpy()
        else:
            out[col] = np.zeros(len(raw), dtype=bool)
    return pd.DataFrame(out, index=raw.index)


def add_junk_flags(st: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """The standardised frame with the raw values' junk flags (same index). The raw value is the
    one to judge: cleaning turns ``=HYPERLINK("http://x","Bob")`` into letters."""
    flags = flag_junk(raw)
    return st.assign(**{c: flags[c].to_numpy() for c in JUNK_COLS})


def cleaned_junk(df: pd.DataFrame, field: str) -> pd.Series:
    """Junk by shape on a standardised (or golden) frame's value of ``field``."""
    col = {"phone": "phone_e164"}.get(field, field)
    if col not in df.columns:
        return pd.Series(False, index=df.index)
    return junk_values(df[col], phone=(field == "phone"))


def junk_mask(df: pd.DataFrame, field: str) -> np.ndarray:
    """Flags from ``add_junk_flags`` when present (they include the cleaned value's shape), else
    junk by shape on the cleaned value."""
    col = f"junk_{field}"
    if col in df.columns:
        return df[col].fillna(False).to_numpy(dtype=bool)
    return cleaned_junk(df, field).to_numpy()


def _codes(s: pd.Series) -> np.ndarray:
    return np.asarray(pd.factorize(s, use_na_sentinel=True)[0], dtype=np.int64)


def _spread(value: np.ndarray, by: np.ndarray, limit: int) -> np.ndarray:
    """True where code ``value`` occurs with more than ``limit`` distinct ``by`` codes (-1: missing)."""
    ok = (value >= 0) & (by >= 0)
    if not ok.any():
        return np.zeros(len(value), dtype=bool)
    pair = np.unique(value[ok] * (np.int64(by.max()) + 1) + by[ok])
    n = np.bincount(pair // (np.int64(by.max()) + 1), minlength=int(value.max()) + 1)
    return (value >= 0) & (n[np.maximum(value, 0)] > limit)


def spread_junk(keys: pd.DataFrame) -> dict[str, np.ndarray]:
    """Values used with implausibly many distinct addresses, on match keys (records + people).

    Returns masks for ``phone_k``, ``co_k`` and the name (first_k and last_k together)."""
    addr, dom = _codes(keys["email_key"]), _codes(keys["mdom_k"])
    phone = _spread(_codes(keys["phone_k"]), addr, PHONE_MAX_EMAILS)
    company = _spread(_codes(keys["co_k"]), dom, COMPANY_MAX_DOMAINS)
    f, la = _codes(keys["first_k"]), _codes(keys["last_k"])
    ok = (f >= 0) & (la >= 0) & (dom >= 0)
    full = np.full(len(keys), -1, dtype=np.int64)
    if ok.any():
        trip = pd.DataFrame({"f": f[ok], "l": la[ok], "d": dom[ok]})
        full[ok] = trip.groupby(["f", "l", "d"], sort=False).ngroup().to_numpy()
    name = _spread(full, addr, NAME_MAX_EMAILS)
    return {"phone_k": phone, "co_k": company, "name": name}


def names_from_address(email_norm: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Given and family name read from a ``given.family@`` local part (``_``/``-`` too; digits and
    +tags dropped; a one-letter given name is an initial, so only the family name is read).

    Used only where the typed name is missing or junk: the address the person typed is then the
    best evidence of their name, and a record whose name field says "Select" can still match."""
    def parse(u: pd.Series) -> pd.DataFrame:
        local = u.str.split("@", n=1).str[0].str.replace(r"\+.*$", "", regex=True)
        role = local.isin(ROLE_LOCAL_PARTS)
        parts = local.str.replace(r"\d+", "", regex=True).str.split(r"[._\-]", regex=True)
        two = (parts.str.len() == 2) & ~role
        f = parts.str[0].where(two).astype("str")
        la = parts.str[1].where(two).astype("str")
        f = f.where(f.str.len() >= 2)
        la = la.where(la.str.len() >= 2)
        return pd.DataFrame({"f": f, "l": la})
    codes, uniq = pd.factorize(email_norm.to_numpy(dtype=object, na_value=None), use_na_sentinel=True)
    if not len(uniq):
        empty = pd.Series(pd.NA, index=email_norm.index, dtype="str")
        return empty, empty
    got = parse(pd.Series(uniq, dtype="str"))
    out = []
    for c in ("f", "l"):
        vals = got[c].to_numpy(dtype=object, na_value=None)
        out.append(pd.Series(np.where(codes >= 0, vals[np.maximum(codes, 0)], None), index=email_norm.index,
                             dtype="str"))
    return out[0], out[1]


def names_from_own(local: pd.Series, first: pd.Series, last: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Given and family name read from a local part without separators (``martamartinez@``)
    that starts or ends with the typed given (family) name: the rest, at least 2 letters, is the
    other name. ``local``: local part with separators and digits removed; ``first``/``last``:
    folded typed names. Returns (given, family) where the other typed name spells part of the
    local part, else NA; callers use them only where a typed name is missing or junk (or as
    extra blocking keys). Vectorised (numpy string functions), no name list needed: the
    person's own typed name says where to cut."""
    def arr(x: pd.Series) -> np.ndarray:
        return x.astype("string").fillna("").to_numpy(dtype=str)
    loc, f, la = arr(local), arr(first), arr(last)

    def rest(name: np.ndarray) -> np.ndarray:
        ok = (name != "") & (loc != "") & (np.strings.str_len(name) >= 2)
        sep = np.where(ok, name, "\x01")            # no empty separator; never in a local part
        head = np.strings.partition(loc, sep)         # (before, name, after): name at the start
        tail = np.strings.rpartition(loc, sep)        # (before, name, after): name at the end
        got = np.where(ok & (head[0] == "") & (head[1] != ""), head[2],
                       np.where(ok & (tail[2] == "") & (tail[1] != ""), tail[0], ""))
        return np.where(np.strings.str_len(got) >= 2, got, "")
    out = []
    for got in (rest(la), rest(f)):             # given from the family name, family from the given
        vals = got.astype(object)
        vals[got == ""] = None
        out.append(pd.Series(vals, index=local.index, dtype="str"))
    return out[0], out[1]


def clean_keys(keys: pd.DataFrame, *frames: pd.DataFrame) -> pd.DataFrame:
    """Match keys (of ``frames`` stacked in order) with junk values set to missing: junk by
    shape in each frame (its ``junk_*`` flags, or its cleaned values), or by spread."""
    shape = {f: np.concatenate([junk_mask(fr, f) for fr in frames]) if frames else
             np.zeros(len(keys), dtype=bool) for f in JUNK_FIELDS}
    spread = spread_junk(keys)
    first = shape["first_name"] | spread["name"]
    last = shape["last_name"] | spread["name"]
    out = keys.copy(deep=False)
    for c in ("first_raw", "first_k"):
        out[c] = out[c].mask(first)
    out["last_k"] = out["last_k"].mask(last)
    need = (out["first_k"].isna() | out["last_k"].isna()) & out["email_norm"].notna()
    if need.any():            # only records whose typed name is missing or junk
        imp_first, imp_last = names_from_address(out.loc[need, "email_norm"])
        out["first_raw"] = out["first_raw"].fillna(imp_first.reindex(out.index))
        imp_k = imp_first.map(nickname_map()).fillna(imp_first).astype("str")
        out["first_k"] = out["first_k"].fillna(imp_k.reindex(out.index))
        out["last_k"] = out["last_k"].fillna(imp_last.reindex(out.index))
    one = (out["first_k"].isna() != out["last_k"].isna()) & out["local_nd"].notna()
    if one.any():             # ``martamartinez@`` and one typed name: the rest is the other name
        o = out.loc[one]
        own_first, own_last = names_from_own(o["local_nd"], o["first_raw"], o["last_k"])
        out["first_raw"] = out["first_raw"].fillna(own_first.reindex(out.index))
        own_k = own_first.map(nickname_map()).fillna(own_first).astype("str")
        out["first_k"] = out["first_k"].fillna(own_k.reindex(out.index))
        out["last_k"] = out["last_k"].fillna(own_last.reindex(out.index))
    out["co_k"] = out["co_k"].mask(shape["company"] | spread["co_k"])
    out["phone_k"] = out["phone_k"].mask(shape["phone"] | spread["phone_k"])
    # dom_k stays: it comes from the address or a website field, not from typed free text
    return out


def _spells(local: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The local part (separators and digits removed) spells this given + family name."""
    f, la = pd.Series(first, dtype="str"), pd.Series(last, dtype="str")
    loc = pd.Series(local, dtype="str")
    ok = (loc != "") & (f != "") & (la != "")
    hit = (loc == f + la) | (loc == la + f) | (loc == f.str[0] + la)
    return (ok & hit).fillna(False).to_numpy(dtype=bool)


def _domain_names(dom: np.ndarray, company: np.ndarray) -> np.ndarray:
    """A business mail domain's name part equals (or starts/is the start of) a company name."""
    d = pd.Series(dom, dtype="str").str.split(".", n=1).str[0].str.replace("-", "", regex=False)
    c = pd.Series(company, dtype="str").str.replace(" ", "", regex=False)
    ok = (d.str.len() >= 4) & (c.str.len() >= 4)
    hit = (d == c) | pd.Series([x.startswith(y) or y.startswith(x) for x, y in zip(d.fillna(""), c.fillna(""))],
                               index=d.index)
    return (ok & hit).fillna(False).to_numpy(dtype=bool)


def address_points(enc: object, a: np.ndarray, b: np.ndarray, pts: dict[str, float]) -> np.ndarray:
    """Evidence the address itself gives where a record's typed field is missing or junk.

    - name: one record's local part spells the other record's given + family name
      (``ameliesilva@``, ``a.silva@``) and its own given / family name is missing: that name
      counts as agreeing (an initial only as a close given name);
    - company: one record has no company but a business domain whose name is the other
      record's company (``soylent.fr`` and "Soylent"), and the other has no business domain
      (else the domains were compared already): the company counts as agreeing.
    ``enc`` is resolve.Encoded (codes and strings of the match keys)."""
    out = np.zeros(len(a))
    if not len(a):
        return out
    c = enc.codes  # type: ignore[attr-defined]
    has = {k: (c[k][a] >= 0, c[k][b] >= 0) for k in ("local_nd", "first_raw", "last_k", "co_k", "mdom_k")}
    # only pairs where a side lacks a name (and has a local part) or lacks a company (and has a
    # business domain) can gain anything: strings are built for those pairs alone
    for side in (0, 1):
        def own(k: str, side: int = side) -> np.ndarray:
            return has[k][side]

        def oth(k: str, side: int = side) -> np.ndarray:
            return has[k][1 - side]

        x, y = (a, b) if side == 0 else (b, a)
        name = own("local_nd") & ~(own("first_raw") & own("last_k")) & oth("first_raw") & oth("last_k")
        idx = np.flatnonzero(name)
        if len(idx):
            loc, = enc.strings("local_nd", x[idx])  # type: ignore[attr-defined]
            f_own, f_o = enc.strings("first_raw", x[idx], y[idx])  # type: ignore[attr-defined]
            l_own, l_o = enc.strings("last_k", x[idx], y[idx])  # type: ignore[attr-defined]
            sp = _spells(loc, f_o, l_o)
            full = sp & ((loc == f_o + l_o) | (loc == l_o + f_o))
            out[idx] += np.where(sp & (l_own == ""), pts["last_eq"], 0.0)
            out[idx] += np.where(full & (f_own == ""), pts["first_eq"], 0.0)
            out[idx] += np.where(sp & ~full & (f_own == ""), pts["first_close"], 0.0)   # initial agrees
        org = ~own("co_k") & own("mdom_k") & oth("co_k") & ~oth("mdom_k")
        idx = np.flatnonzero(org)
        if len(idx):
            d_own, = enc.strings("mdom_k", x[idx])  # type: ignore[attr-defined]
            c_o, = enc.strings("co_k", y[idx])  # type: ignore[attr-defined]
            out[idx] += np.where(_domain_names(d_own, c_o), pts["org_eq"], 0.0)
    return out
