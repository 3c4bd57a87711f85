"""Phone numbers to E.164 with phonenumbers, using the lead's country for national formats.

phonenumbers works one value at a time (~20 µs a number), so the work is cut three ways:

1. numbers are reduced vectorised to their dialable digits (which collapses the many formats of
   one number) and only unique (digits, country) pairs are looked at;
2. numbers written with their international prefix (+ or 00) become E.164 directly
   (8-15 digits, no leading 0 after the prefix; ``+44 (0)20 ...`` is left to phonenumbers);
3. national numbers are grouped by the *decisions phonenumbers takes on them*: the region, the
   number of digits, the length of the national (trunk) prefix its metadata strips, and whether
   the number with and without that prefix fits the region's general number pattern. Every
   number of such a group takes the same path through ``phonenumbers.parse`` (which only ever
   strips that prefix and prepends the country code) and gets the same possible-length verdict,
   so phonenumbers parses one representative per group and the rest are computed vectorised.
   Numbers that could take another path (starting with the region's international dialling
   prefix or its country code, regions whose metadata rewrites rather than strips prefixes, e.g.
   BR, AR, JP) are parsed one by one as before. tests/test_clean.py checks the result equals
   phonenumbers on random numbers of many regions.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import PhoneMetadata

from leadflow.vocab._unique import SPACE

_EXTENSION = rf"{SPACE}*(?:x|ext\.?|extension|#|;ext=){SPACE}*[0-9]{{1,6}}{SPACE}*$"
# a field listing numbers: '020 7946 0958 / 07700 900123', '...; ...', '... or ...'
_LIST_TAIL = rf"{SPACE}*(?:[/;|]|\bor\b).*$"


def _parse(digits: str, region: str | None) -> str | None:
    try:
        n = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(n):
        return None
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


def _parse_each(d: pd.Series, region: str | None) -> pd.Series:
    """phonenumbers, one call per value (values are unique already)."""
    return pd.Series([_parse(x, region) for x in d], index=d.index, dtype="str")


@lru_cache(maxsize=512)
def _metadata(region: str) -> tuple[str, str | None, str | None, str | None] | None:
    """(country code, international prefix, national prefix for parsing, general pattern), or
    None when the region's prefixes are rewritten (transform rule) rather than stripped."""
    md = PhoneMetadata.metadata_for_region(region, None)
    if md is None or md.national_prefix_transform_rule:
        return None
    return (str(md.country_code), md.international_prefix, md.national_prefix_for_parsing,
            md.general_desc.national_number_pattern if md.general_desc else None)


def _fullmatch(s: pd.Series, pattern: str | None) -> np.ndarray:
    if not pattern:
        return np.zeros(len(s), dtype=bool)
    return s.str.fullmatch(pattern).fillna(False).to_numpy(bool)


def _national(d: pd.Series, region: str) -> pd.Series:
    """E.164 (or NA) for unique national-format digit strings of one region (see module doc)."""
    meta = _metadata(region)
    if meta is None:
        return _parse_each(d, region)
    cc, idd, nat, general = meta
    try:
        odd = d.str.startswith(cc).to_numpy(bool)
        if idd:
            odd = odd | d.str.match(f"(?:{idd})").fillna(False).to_numpy(bool)
        if nat:
            cut = d.str.extract(f"^((?:{nat}))", expand=True)[0].str.len().fillna(0).to_numpy(np.int64)
        else:
            cut = np.zeros(len(d), dtype=np.int64)
        rest = d.copy()
        for k in np.unique(cut[cut > 0]):
            rest[cut == k] = d[cut == k].str[int(k):]
        fits_full, fits_rest = _fullmatch(d, general), _fullmatch(rest, general)
    except (ValueError, TypeError, NotImplementedError):   # a pattern the vectorised engine rejects
        return _parse_each(d, region)
    out = pd.Series(pd.NA, index=d.index, dtype="str")
    if odd.any():
        out[odd] = _parse_each(d[odd], region).to_numpy()
    sig = pd.DataFrame({"n": d.str.len().to_numpy(), "cut": cut, "f": fits_full, "r": fits_rest})[~odd]
    sig = sig.reset_index(drop=True)
    if not len(sig):
        return out
    group = sig.groupby(["n", "cut", "f", "r"], sort=False).ngroup().to_numpy()
    first = ~pd.Series(group).duplicated().to_numpy()
    reps = d[~odd][first]
    rep_out = _parse_each(reps, region)
    # what phonenumbers did to the representative: kept k leading digits out (0 or the prefix)
    rep_cut = sig["cut"].to_numpy()[first]
    strip = np.full(len(reps), -1, dtype=np.int64)
    for k in (0, None):
        kk = np.zeros(len(reps), dtype=np.int64) if k == 0 else rep_cut
        tail = pd.Series([x[int(j):] for x, j in zip(reps, kk)], index=reps.index, dtype="str")
        hit = ((("+" + cc) + tail) == rep_out).fillna(False).to_numpy(bool)
        strip = np.where((strip < 0) & hit, kk, strip)
    invalid = rep_out.isna().to_numpy()
    # per group: -2 = NA, -1 = unexplained (parse each), k >= 0 = strip k digits
    g_rule = pd.Series(np.where(invalid, -2, strip), index=group[first])
    member_rule = g_rule.reindex(group).to_numpy()
    dd = d[~odd]
    res = pd.Series(pd.NA, index=dd.index, dtype="str")
    for k in np.unique(member_rule[member_rule >= 0]):
        m = member_rule == k
        res[m] = ("+" + cc + dd[m].str[int(k):]).to_numpy()
    unexplained = member_rule == -1
    if unexplained.any():
        res[unexplained] = _parse_each(dd[unexplained], region).to_numpy()
    out[~odd] = res.to_numpy()
    return out


def _first_listed(s: pd.Series) -> pd.Series:
    """A value listing two numbers (6+ digits on each side of '/', ';', '|' or 'or') -> the first."""
    maybe = np.zeros(len(s), dtype=bool)
    for sep in ("/", ";", "|", " or "):        # plain substring tests first: few values hold one
        maybe |= s.str.contains(sep, regex=False).fillna(False).to_numpy(bool)
    if not maybe.any():
        return s
    c = s[maybe]
    first = c.str.replace(_LIST_TAIL, "", regex=True)
    n_first = first.str.count(r"\d")
    listed = ((n_first >= 6) & (c.str.count(r"\d") - n_first >= 6)).fillna(False).to_numpy(bool)
    out = s.copy()
    out[np.flatnonzero(maybe)[listed]] = first[listed].to_numpy()
    return out


@lru_cache(maxsize=1)
def _trunk_codes() -> str:
    """A regex for '+<code>0': a country whose trunk prefix is 0 and whose numbers never start
    with it (GB, DE, FR, AU, ...; not IT, where the 0 is part of the number)."""
    codes = [str(cc) for cc, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()
             if regions[0] != "001" and getattr(PhoneMetadata.metadata_for_region(regions[0], None),
                                                "national_prefix", None) == "0"]
    return r"^\+(?:" + "|".join(sorted(codes)) + ")0"


def _trunk_after_code(digits: pd.Series) -> np.ndarray:
    """'+44 020 ...': the trunk prefix typed in international form; phonenumbers strips it."""
    return digits.str.contains(_trunk_codes(), regex=True).fillna(False).to_numpy(bool)


def to_e164(phone: pd.Series, country: pd.Series | None = None) -> pd.Series:
    """E.164 strings (``+4930123456``) or NA when the number is not a possible number.

    ``country`` is ISO alpha-2 (NA: the number must carry its own +country code). Possible,
    not strictly valid, numbers are kept: matching needs the same key for the same number,
    and the metadata's notion of a valid range lags behind real allocations.
    """
    s = _first_listed(phone.astype("str").str.lower().str.replace(_EXTENSION, "", regex=True))
    plus = s.str.strip().str.match(r"^(?:\+|00)").fillna(False).astype(bool)
    digits = s.str.replace(r"\D", "", regex=True)
    digits = digits.where(~(plus & digits.str.startswith("00")), digits.str[2:])
    digits = digits.where(digits.str.len().between(6, 17))
    digits = ("+" + digits).where(plus, digits)
    region = (country.astype("str").str.upper() if country is not None
              else pd.Series(pd.NA, index=phone.index, dtype="str"))
    region = region.where(region.str.fullmatch(r"[A-Z]{2}").fillna(False).astype(bool), "ZZ")
    # fast path: an explicit international number needs no metadata to be written as E.164
    # (''+44 (0)20...'' style trunk digits are left to phonenumbers)
    intl = plus & digits.notna() & ~s.str.contains(r"\(0\)", regex=True).fillna(False).astype(bool) \
        & digits.str.len().between(9, 16).fillna(False).astype(bool) \
        & ~digits.str.startswith("+0").fillna(False).astype(bool) & ~_trunk_after_code(digits)
    keys = pd.DataFrame({"d": digits, "r": region})[~intl.to_numpy()].dropna(subset=["d"])
    uniq = keys.drop_duplicates().reset_index(drop=True)
    parsed = pd.Series(pd.NA, index=uniq.index, dtype="str")
    with_plus = uniq["d"].str.startswith("+").to_numpy(bool)
    if with_plus.any():        # '+44 (0)20 ...' and odd lengths: phonenumbers decides
        parsed[with_plus] = _parse_each(uniq["d"][with_plus], None)
    # without + and without a country a number cannot be placed (phonenumbers agrees): NA
    for region_code, grp in uniq[~with_plus & (uniq["r"] != "ZZ").to_numpy()].groupby("r"):
        parsed[grp.index] = _national(grp["d"], str(region_code))
    lookup = pd.Series(parsed.to_numpy(), index=pd.MultiIndex.from_frame(uniq), dtype="str")
    out = pd.Series(pd.NA, index=phone.index, dtype="str")
    out[intl.to_numpy()] = digits[intl.to_numpy()]
    if len(keys):
        out.loc[keys.index] = lookup.reindex(pd.MultiIndex.from_frame(keys)).to_numpy()
    return out
