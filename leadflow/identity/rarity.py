"""Rare names: a name that only one person in the data can be is evidence of that person.

A pair tied by nothing but a full name (a CRM row with a junk company against a mailbox
record) scores 10 points, short of the 14 that merge; so does a given name at the same company
when the other record's family name is junk. Fellegi-Sunter's term-frequency idea says such
agreement is strong when the value is rare. Here "rare" is stricter than "seldom": every record
and person bearing the name (the *group*) must be consistent with a single person: at most one
organisation (first word of the company name or of the business domain) and one phone, and for
a full name at most one identity holding an address (the cluster the records form without rare
names: a business and a personal address already joined by other evidence are one identity).
Then

- a full name (given and family equal, either order)              gets ``rare_name`` points,
- a given name at the same organisation, family name missing       gets ``rare_given_org``,
- a family name at the same organisation, given name missing       gets ``rare_family_org``
  (the record missing the name must hold no address or phone of its own: a bare name at the
  company, not a colleague we cannot place),

provided nothing in the pair contradicts it (different phones or organisations, a numbered
mailbox) and the two do not hold two different addresses (a personal address without an
organisation is as likely a namesake as the same person: a name never ties two mailboxes).

Rarity depends on what has arrived: a namesake at another company may come in a later file.
It only ever goes one way (more rows can only add organisations, phones and addresses), so a
link made on a rare name is marked (``+rare`` on the records' rule, ``<rule>+rare`` on
merges) and reopened when a later batch makes its group no longer rare (``broken``): the load
then splits the person back into its address groups and resolves them again with the batch, as
if all the rows had come in one file (``leadflow.identity.load``, ``ops.reopen``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from leadflow.identity import crowding

GROUP_CAP = 8      # a name borne by more nodes than this is not rare, whatever they show


def stem_words(values: pd.Series) -> pd.Series:
    """The organisation a company name or a domain names: its first word, at least 3 letters
    (``umbrella-corp.de`` -> umbrella, "Stark Industries" -> stark; NA otherwise)."""
    codes, uniq = pd.factorize(values.astype("string"), use_na_sentinel=True)   # once per distinct value
    first = pd.Series(uniq, dtype="string").str.split(r"[\s.\-_]+", regex=True).str[0]
    first = first.where(first.str.len() >= 3).to_numpy(dtype=object, na_value=None)
    out = np.where(codes >= 0, first[np.maximum(codes, 0)] if len(first) else None, None)
    return pd.Series(out, index=values.index, dtype="string")


def org_words(dom: pd.Series, co: pd.Series) -> pd.Series:
    """Per row the organisation word blocking and rare names go by (``org_of`` as text): the
    business domain's first word, else the company name's."""
    return stem_words(dom).fillna(stem_words(co))


def org_stems(enc: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per node two organisation codes (-1: none): the first word of the company name and the
    first word of the business domain (``stem_words``), in one code space, so a CRM row's
    company and a mailbox's domain compare."""
    def stem(col: str) -> pd.Series:
        codes = enc.codes[col]
        uniq = pd.Series(np.asarray(enc.uniques[col], dtype=object), dtype="str")
        first = stem_words(uniq)
        out = pd.Series(pd.NA, index=range(len(codes)), dtype="str")
        ok = codes >= 0
        if ok.any() and len(uniq):
            out[ok] = first.to_numpy(dtype=object, na_value=None)[codes[ok]]
        return out
    cached = getattr(enc, "_org_stems", None)
    if cached is not None:
        return cached
    co, dom = stem("co_k"), stem("dom_k")
    codes, _ = pd.factorize(pd.concat([co, dom], ignore_index=True), use_na_sentinel=True)
    n = len(co)
    out = np.asarray(codes[:n], dtype=np.int64), np.asarray(codes[n:], dtype=np.int64)
    enc._org_stems = out
    return out


def org_of(enc: Any) -> np.ndarray:
    """Per node one organisation code (-1: none): the domain's word where there is a business
    domain, else the company name's (the organisation rare names and blocking go by)."""
    co, dom = org_stems(enc)
    return np.where(dom >= 0, dom, co)


def _groups(enc: Any) -> dict[str, np.ndarray]:
    """Per node its group code for each kind of rare evidence (-1: not in such a group);
    computed once per encoding."""
    cached = getattr(enc, "_rare_groups", None)
    if cached is not None:
        return cached
    c = enc.codes
    f, la = c["first_k"], c["last_k"]
    co, dom = org_stems(enc)
    org = org_of(enc)
    big = np.int64(max(int(f.max(initial=0)), int(la.max(initial=0)), int(org.max(initial=0))) + 1)
    full = np.where((f >= 0) & (la >= 0), np.minimum(f, la) * big + np.maximum(f, la), -1)
    given = np.where((f >= 0) & (org >= 0), f * big + org, -1)
    family = np.where((la >= 0) & (org >= 0), la * big + org, -1)
    out = {"full": full, "given": given, "family": family, "org": org, "co": co, "dom": dom}
    enc._rare_groups = out
    return out


def _rare(key: np.ndarray, values: list[list[np.ndarray]], nodes: np.ndarray | None = None) -> np.ndarray:
    """Per node: its group (``key``, restricted to ``nodes`` when given) is consistent with one
    person: at most GROUP_CAP members, and at most one distinct value in each entry of
    ``values`` (an entry pools several columns: a company word and a domain word are one
    organisation only when they are the same word)."""
    sel = np.flatnonzero(key >= 0) if nodes is None else nodes[key[nodes] >= 0]
    out = np.zeros(len(key), dtype=bool)
    if not len(sel):
        return out
    g = key[sel]
    size = pd.Series(g).value_counts()
    ok = size <= GROUP_CAP
    for cols in values:
        v = pd.DataFrame({"g": np.concatenate([g] * len(cols)), "v": np.concatenate([c[sel] for c in cols])})
        v = v[v["v"] >= 0]
        ok &= v.groupby("g")["v"].nunique().reindex(size.index).fillna(0) <= 1
    out[sel] = np.isin(g, ok[ok].index.to_numpy())
    return out


KINDS = {1: ("full", "rare_name"), 2: ("given", "rare_given_org"), 3: ("family", "rare_family_org")}


def kinds(enc: Any, a: np.ndarray, b: np.ndarray, clean: np.ndarray, name_eq: np.ndarray,
          first_eq: np.ndarray, last_eq: np.ndarray) -> np.ndarray:
    """Per pair, which rare-name evidence it could take (0: none; ``KINDS``): ``clean`` nothing
    contradicts it, ``name_eq`` both names equal (either order), ``first_eq`` / ``last_eq``
    given / family name equal with the other missing on a side; and both sides in one group."""
    out = np.zeros(len(a), dtype=np.int8)
    if not len(a) or not clean.any():
        return out
    g = _groups(enc)
    for k, cond in ((3, last_eq), (2, first_eq), (1, name_eq)):    # the stronger kind wins
        key = g[KINDS[k][0]]
        out[clean & cond & (key[a] >= 0) & (key[a] == key[b])] = k
    return out


def apply(enc: Any, scored: pd.DataFrame, identity: np.ndarray, pts: dict[str, float]) -> pd.DataFrame:
    """``scored`` with the rare-name points added where the pair's group is rare (``rare``
    True, rule ``+rare``). ``identity``: per node, its cluster before rare names count (the
    records and people one address-holding identity spans)."""
    kind = scored["rare_kind"].to_numpy()
    if not (kind > 0).any():
        return scored
    rare = rare_masks(enc, identity=identity)
    a = scored["a"].to_numpy()
    hit = np.zeros(len(kind), dtype=bool)
    add = np.zeros(len(kind))
    for k, (group, name) in KINDS.items():
        m = (kind == k) & rare[group][a]
        hit |= m
        add[m] = pts[name]
    out = scored.assign(points=scored["points"].to_numpy() + add, rare=hit)
    rule = out.loc[hit, "rule"].astype(str)
    out.loc[hit, "rule"] = rule + np.where(rule.str.endswith(":"), "rare", "+rare")
    return out


def rare_masks(enc: Any, nodes: np.ndarray | None = None,
               identity: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per node and kind (full, given, family): is its group rare among ``nodes`` (default all):
    one organisation (company or domain word) and one phone among all bearers; for a full name
    also one identity holding an address (``identity``: cluster per node, default each node
    itself: a person's business and personal address are one identity once something other
    than the name joined them); for a given (family) name at an organisation, one family
    (given) name."""
    g = _groups(enc)
    c = enc.codes
    ident = np.arange(len(c["email_key"])) if identity is None else np.asarray(identity, dtype=np.int64)
    holder = np.where(enc.address_holder, ident, -1)
    one = [[g["co"], g["dom"]], [c["phone_k"]]]
    out = {"full": _rare(g["full"], [*one, [holder]], nodes),
           "given": _rare(g["given"], [[c["last_k"]], *one], nodes),
           "family": _rare(g["family"], [[c["first_k"]], *one], nodes)}
    # a name crowded in the warehouse is borne by more people than were read: not rare
    crowded = crowding.not_rare(getattr(enc, "crowded", {}), len(ident))
    return {k: v & ~crowded[k] for k, v in out.items()}


def broken(enc: Any, n_new: int, marked: np.ndarray, identity: np.ndarray) -> np.ndarray:
    """Existing nodes among ``marked`` (people holding a rare-name merge) whose group, rare
    among the existing people alone, is no longer rare once the batch's records count: the
    batch brought a namesake (another organisation, phone or address), so the merge is
    reopened. ``identity`` as in ``rare_masks``, for all nodes."""
    out = np.zeros(len(marked), dtype=bool)
    if not marked.any():
        return out
    before = rare_masks(enc, np.arange(n_new, len(marked)))
    now = rare_masks(enc, identity=identity)
    for k in before:
        out |= before[k] & ~now[k]
    return out & marked
