"""Person resolution as pure functions on DataFrames: exact email, then blocked fuzzy matching.

Why this design (figures in docs/identity.md): records are compared only inside small blocks
(same alias-folded email, same phone, same surname or given name at the same company domain or
name or organisation word, same name tokens in either order, same email local part); blocks larger than
``block_cap`` are skipped, and only pairs with at least one *incoming* record are formed, so cost
grows with the size of the batch, not with the square of the warehouse. Pairs are scored with
rapidfuzz (Jaro-Winkler, token-sort ratio; vectorised through ``process.cpdist``) into
Fellegi-Sunter style evidence points (log2 Bayes factors) that explain themselves, then turned into
a probability-like score. Above ``auto`` a pair merges, between ``review`` and ``auto`` it goes to
the review list, below it is ignored.

Nodes: incoming records are nodes 0..n-1, existing people n..n+m-1.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from leadflow.clean.names import fold
from leadflow.identity import crowding, evidence, guards, rarity, review
from leadflow.identity.nicknames import equivalent_pairs, nickname_map
from leadflow.vocab.mailboxes import normalise_emails


@dataclass(frozen=True)
class Thresholds:
    auto: float = 0.94        # merge at or above (score); 0.94 = 14 evidence points
    review: float = 0.5       # review list at or above; 0.5 = 10 evidence points
    block_cap: int = 60       # skip blocks larger than this (too common to be evidence)


# Evidence points (log2 Bayes factors, hand-set and checked on generated ground truth).
PTS = {
    "email_alias": 14.0, "phone_eq": 10.0, "phone_diff": -4.0,
    "first_eq": 4.0, "first_close": 3.0, "first_near": 0.0, "first_diff": -4.0,
    "last_eq": 6.0, "last_close": 5.0, "last_near": 2.0, "last_diff": -6.0,
    "org_eq": 5.0, "org_close": 3.5, "org_diff": -1.0,
    "local_eq": 4.0, "local_close": 2.0,
    # jsmith@ vs jsmith2@ at one company: how mail admins number a second person of that name
    "numbered_mailbox": -8.0,
    # a name only one person in the data can be (``rarity``): full name / given or family
    # name at the same organisation with the other name missing
    "rare_name": 4.0, "rare_given_org": 5.0, "rare_family_org": 3.0,
}
OFFSET = 10.0   # points at which the score is 0.5
RARE_BELOW = 14.0   # rare-name points only for pairs short of the default merge threshold


def points_to_score(points: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp2(OFFSET - points))


KEY_COLUMNS = ("email_norm", "email_key", "mdom_k", "local_k", "local_nd", "first_raw", "first_k", "last_k", "dom_k",
               "co_k", "phone_k")


def _per_unique(s: pd.Series, fn) -> pd.Series:
    """Apply a Series -> Series function once per distinct value (names repeat a lot)."""
    codes, uniq = pd.factorize(s.to_numpy(dtype=object, na_value=None), use_na_sentinel=True)
    if not len(uniq):
        return pd.Series(pd.NA, index=s.index, dtype="str")
    vals = fn(pd.Series(uniq, dtype="str")).to_numpy(dtype=object, na_value=None)
    out = np.where(codes >= 0, vals[np.maximum(codes, 0)], None)
    return pd.Series(out, index=s.index, dtype="str")


def match_keys(df: pd.DataFrame) -> pd.DataFrame:
    """Matching keys from a standardised records frame or a people (golden) frame.

    Needs email_norm, first_name, last_name, phone_e164, company_norm; uses email_key,
    email_local, email_domain, is_free_mail, company_domain when present (else derives them).
    """
    if "email_key" not in df.columns:
        em = normalise_emails(df["email_norm"])
    else:
        em = df
    nick = nickname_map()
    first = _per_unique(df["first_name"], lambda u: fold(u).str.split(" ", n=1).str[0])
    first_k = _per_unique(first, lambda u: u.map(nick).fillna(u))
    last_k = _per_unique(df["last_name"], lambda u: fold(u).str.replace(" ", "", regex=False))
    last_k = last_k.where(last_k.str.len() > 0)
    free = em["is_free_mail"].astype(bool) | em.get("is_disposable", pd.Series(False, index=df.index)).astype(bool)
    dom = em["email_domain"].where(~free)
    if "company_domain" in df.columns:
        dom = dom.fillna(df["company_domain"])
    local = em["email_local"].str.replace(r"[._\-]", "", regex=True)
    local = local.where(local.str.len() >= 5)
    local_nd = local.str.replace(r"\d+", "", regex=True)
    return pd.DataFrame({
        "email_norm": em["email_norm"], "email_key": em["email_key"], "local_k": local,
        "local_nd": local_nd,
        "mdom_k": em["email_domain"].where(~free).astype("str"),   # business mail domain
        "first_raw": first, "first_k": first_k, "last_k": last_k, "dom_k": dom.astype("str"),
        "co_k": df["company_norm"].astype("str"), "phone_k": df["phone_e164"].astype("str"),
    }, index=df.index)


class Encoded:
    """Key columns as integer codes (-1 = missing) over their distinct values.

    Blocking and scoring compare codes, not strings: one Arrow factorisation per column
    instead of string concatenation and object arrays over every record of the warehouse.
    Given and family names share one code space, so the unordered name pair (swapped names)
    is a pair of codes.
    """

    def __init__(self, keys: pd.DataFrame) -> None:
        self.n = len(keys)
        self.codes: dict[str, np.ndarray] = {}
        self.uniques: dict[str, Any] = {}
        names = pd.concat([keys["first_k"], keys["last_k"]], ignore_index=True).astype("str")
        codes, uniq = pd.factorize(names, use_na_sentinel=True)
        for i, c in enumerate(("first_k", "last_k")):
            self.codes[c] = np.asarray(codes[i * self.n:(i + 1) * self.n], dtype=np.int64)
            self.uniques[c] = uniq
        for c in KEY_COLUMNS:
            if c not in self.codes:
                codes, uniq = pd.factorize(keys[c].astype("str"), use_na_sentinel=True)
                self.codes[c] = np.asarray(codes, dtype=np.int64)
                self.uniques[c] = uniq
        # who holds an address of their own: a readable one, or (``resolve_people`` adds them)
        # one typed but unreadable (``jane@@acme.com``): still someone's identity, not a blank
        self.address_holder = self.codes["email_key"] >= 0
        # per key kind, nodes holding a value crowded in the warehouse (``crowding``)
        self.crowded: dict[str, np.ndarray] = {}

    def strings(self, c: str, *rows: np.ndarray) -> list[np.ndarray]:
        """The values of column c at each rows array as object arrays ('' where missing);
        only the distinct values those rows use become Python strings."""
        codes = [self.codes[c][r] for r in rows]
        used, inv = np.unique(np.concatenate(codes), return_inverse=True)
        uniq = self.uniques[c]
        vals = np.full(len(used), "", dtype=object)
        present = used >= 0
        if present.any():
            vals[present] = np.asarray(uniq.take(used[present]), dtype=object)
        out, start = [], 0
        for cc in codes:
            out.append(vals[inv[start:start + len(cc)]])
            start += len(cc)
        return out


def _combine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One code per (x, y) pair; -1 when either side is missing."""
    k = x * (np.int64(y.max(initial=0)) + 1) + y
    return np.where((x >= 0) & (y >= 0), k, -1)


def _blocks(enc: Encoded, names_only: bool = False) -> Iterator[tuple[np.ndarray, int | None]]:
    """The blocking keys (codes, -1 where the rule does not apply), one rule at a time;
    ``names_only``: the rules on names and organisations alone (what ``completed`` changes)."""
    c = enc.codes
    f, la, dom, co = c["first_k"], c["last_k"], c["dom_k"], c["co_k"]
    ns = _combine(np.minimum(f, la), np.maximum(f, la))        # the unordered name pair
    ns = np.where((f >= 0) & (la >= 0), ns, -1)
    ns = np.where(ns >= 0, pd.factorize(ns)[0], -1)             # dense, so combining cannot overflow
    crowded = enc.crowded      # values crowded in the warehouse: their blocks are skipped

    def cut(key: np.ndarray, kind: str) -> np.ndarray:
        return np.where(crowded[kind], -1, key) if kind in crowded else key
    weak = crowding.WEAK_CAP     # keys that are evidence only in small groups: local part alone, name alone
    if not names_only:
        yield cut(c["email_key"], "e"), None
        yield c["phone_k"], None      # a crowded phone is junk already (``resolve_people``)
        yield cut(c["local_k"], "l"), weak
    for x, kind in ((la, "s"), (f, "f"), (ns, "n")):
        yield cut(_combine(x, dom), kind + "d"), None
        yield cut(_combine(x, co), kind + "c"), None
    org = rarity.org_of(enc)      # the organisation's word: a company name meets the domain it names
    for x, kind in ((la, "s"), (f, "f")):
        yield cut(_combine(x, org), kind + "o"), None
    yield cut(ns, "n"), weak


def candidate_pairs(keys: pd.DataFrame | Encoded, n_new: int, cap: int,
                    fresh: np.ndarray | None = None, names_only: bool = False) -> pd.DataFrame:
    """Unique (a, b) node pairs sharing a block, a < b, at least one of them incoming (or
    ``fresh``: existing people reopened by this batch, compared as if their records came now);
    ``names_only``: name and organisation blocks only."""
    enc = keys if isinstance(keys, Encoded) else Encoded(keys)
    out = []
    total = np.int64(enc.n)
    is_new = np.arange(enc.n) < n_new
    if fresh is not None:
        is_new |= fresh
    for key, own_cap in _blocks(enc, names_only):
        limit = min(cap, own_cap) if own_cap else cap
        ok = key >= 0
        if not ok.any():
            continue
        nodes = np.flatnonzero(ok)
        c = pd.factorize(key[ok])[0]
        size = np.bincount(c)
        new_in = np.bincount(c, weights=is_new[nodes].astype(float))
        keep = (size[c] >= 2) & (size[c] <= limit) & (new_in[c] > 0)
        nodes, c = nodes[keep], c[keep]
        if not len(nodes):
            continue
        blk = pd.DataFrame({"node": nodes, "c": c})
        left = blk[is_new[blk["node"].to_numpy()]]
        m = left.merge(blk, on="c", suffixes=("_a", "_b"))
        m = m[m["node_a"] != m["node_b"]]
        a = np.minimum(m["node_a"].to_numpy(), m["node_b"].to_numpy())
        b = np.maximum(m["node_a"].to_numpy(), m["node_b"].to_numpy())
        out.append(a.astype(np.int64) * total + b)      # one int per pair: fast unique
    if not out:
        return pd.DataFrame({"a": np.array([], np.int64), "b": np.array([], np.int64)})
    code = np.unique(np.concatenate(out))
    return pd.DataFrame({"a": code // total, "b": code % total})


def _sim(x: np.ndarray, y: np.ndarray, scorer) -> np.ndarray:
    if not len(x):
        return np.zeros(0)
    return process.cpdist(list(x), list(y), scorer=scorer, workers=-1).astype(float)


def _name_points(fa, fb, la, lb, ra=None, rb=None) -> tuple[np.ndarray, np.ndarray]:
    """Evidence for one orientation of given/family names; missing sides give 0."""
    hf = (fa != "") & (fb != "")
    hl = (la != "") & (lb != "")
    sf = _sim(fa, fb, JaroWinkler.normalized_similarity)
    sl = _sim(la, lb, JaroWinkler.normalized_similarity)
    eq = fa == fb
    if ra is not None:        # nickname table: raw given names that may be one person
        chk = ~eq & hf
        if chk.any():
            eq = eq.copy()
            eq[chk] = pd.Series(ra[chk] + "|" + rb[chk]).isin(equivalent_pairs()).to_numpy()
    pf = np.select([eq, sf >= 0.92, sf >= 0.85], [PTS["first_eq"], PTS["first_close"], PTS["first_near"]],
                   PTS["first_diff"])
    pl = np.select([la == lb, sl >= 0.92, sl >= 0.85], [PTS["last_eq"], PTS["last_close"], PTS["last_near"]],
                   PTS["last_diff"])
    return np.where(hf, pf, 0.0), np.where(hl, pl, 0.0)


def score_pairs(keys: pd.DataFrame | Encoded, pairs: pd.DataFrame) -> pd.DataFrame:
    """Evidence points, score and a readable rule for each candidate pair; ``rare_kind``: which
    rare-name evidence the pair could take (``rarity.KINDS``; added by ``rarity.apply`` once
    the records are clustered without it)."""
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    # factorised columns: same-column equality is an integer comparison, and only the
    # strings the pairs use are materialised for rapidfuzz
    enc = keys if isinstance(keys, Encoded) else Encoded(keys)

    def both(c: str) -> tuple[np.ndarray, np.ndarray]:
        x, y = enc.strings(c, a, b)
        return x, y

    def same(c: str) -> np.ndarray:
        codes = enc.codes[c]
        ca = codes[a]
        return (ca >= 0) & (ca == codes[b])

    fa, fb = both("first_k")
    la, lb = both("last_k")
    p1f, p1l = _name_points(fa, fb, la, lb, *both("first_raw"))
    p2f, p2l = _name_points(fa, lb, la, fb)          # swapped given/family names
    swapped = (p2f + p2l) > (p1f + p1l)
    name_pts = np.where(swapped, p2f + p2l, p1f + p1l)
    name_full = np.where(swapped, (p2f > 0) & (p2l > 0), (p1f > 0) & (p1l > 0))

    email = same("email_key")
    pc = enc.codes["phone_k"]
    has_p = (pc[a] >= 0) & (pc[b] >= 0)
    phone_same = same("phone_k")
    phone_pts = np.where(has_p, np.where(phone_same, PTS["phone_eq"], PTS["phone_diff"]), 0.0)
    dc = enc.codes["dom_k"]
    ca, cb = both("co_k")
    dom_eq = same("dom_k")
    co_eq = same("co_k")
    has_c = (ca != "") & (cb != "")
    co_sim = np.zeros(len(a))
    need = has_c & ~co_eq
    co_sim[need] = _sim(ca[need], cb[need], fuzz.token_sort_ratio) / 100.0
    has_org = has_c | ((dc[a] >= 0) & (dc[b] >= 0))
    org_pts = np.select([dom_eq | co_eq, has_c & (co_sim >= 0.9), has_org],
                        [PTS["org_eq"], PTS["org_close"], PTS["org_diff"]], 0.0)
    xa, xb = both("local_k")
    has_l = (xa != "") & (xb != "") & ~email
    ls = _sim(xa, xb, JaroWinkler.normalized_similarity)
    local_eq, nd_eq = same("local_k"), same("local_nd")
    numbered = has_l & same("mdom_k") & ~local_eq & nd_eq
    local_pts = np.where(has_l, np.select([numbered, local_eq, nd_eq | (ls >= 0.9)],
                                          [PTS["numbered_mailbox"], PTS["local_eq"], PTS["local_close"]], 0.0), 0.0)

    pts = name_pts + phone_pts + org_pts + local_pts + np.where(email, PTS["email_alias"], 0.0)
    pts = pts + evidence.address_points(enc, a, b, PTS)       # the address stands in for junk fields
    # what a rare name could add (``rarity``): nothing contradicts the pair, it is short of a
    # merge, and two different addresses are two identities a name never ties on its own
    held = enc.address_holder
    clean = (phone_pts >= 0) & (org_pts >= 0) & (local_pts >= 0) & (pts < RARE_BELOW) & ~(held[a] & held[b] & ~email)
    # a given (family) name at the company ties only a record that has nothing else of its
    # own: a record missing the other name but holding an address or a phone is someone we
    # cannot place (its mailbox would have spelled the name, and the address evidence counted it)
    own = held | (enc.codes["phone_k"] >= 0)
    bare = lambda xa_, xb_: ((xa_ == "") & ~own[a]) | ((xb_ == "") & ~own[b])  # noqa: E731
    rare_kind = rarity.kinds(enc, a, b, clean, name_pts == PTS["first_eq"] + PTS["last_eq"],
                             (p1f == PTS["first_eq"]) & bare(la, lb), (p1l == PTS["last_eq"]) & bare(fa, fb))
    parts = [("email_alias", email), ("name" , name_full), ("swapped", swapped & name_full),
             ("phone", phone_same), ("org", org_pts > 0), ("local", local_pts > 0)]
    bits = np.zeros(len(a), dtype=np.int64)
    for i, (_, mask) in enumerate(parts):
        bits |= mask.astype(np.int64) << i
    uniq, inv = np.unique(bits, return_inverse=True)
    labels = np.array(["fuzzy:" + "+".join(lbl for i, (lbl, _) in enumerate(parts) if u >> i & 1)
                       for u in uniq], dtype=object)
    rule = labels[inv] if len(bits) else np.array([], dtype=object)
    return pairs.assign(points=pts, score=points_to_score(pts), rule=rule, rare_kind=rare_kind,
                        rare=np.zeros(len(a), dtype=bool))


@dataclass(frozen=True)
class Resolved:
    """What resolution decided: per record (``assign``, with ``rare``: its person holds a link
    only a rare name made), the uncertain pairs (``reviews``), existing people that records of
    the batch joined (``merged``: survivor_id, merged_id, score, rare; the older person, lower
    id, survives), and existing people whose rare-name merge this batch breaks (``reopen``:
    person ids; the load splits them and resolves again)."""
    assign: pd.DataFrame
    reviews: pd.DataFrame
    merged: pd.DataFrame
    reopen: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))


def resolve(records: pd.DataFrame, people: pd.DataFrame | None = None,
            known_emails: pd.DataFrame | None = None, th: Thresholds = Thresholds(),
            preassigned: pd.Series | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``resolve_people`` without the merged existing people (their records already point at the
    survivor): (assign, reviews)."""
    r = resolve_people(records, people, known_emails, th, preassigned)
    return r.assign, r.reviews


def resolve_people(records: pd.DataFrame, people: pd.DataFrame | None = None,
                   known_emails: pd.DataFrame | None = None, th: Thresholds = Thresholds(),
                   preassigned: pd.Series | None = None,
                   apart: pd.DataFrame | None = None,
                   crowded: Mapping[str, Iterable[str]] | None = None) -> Resolved:
    """Resolve incoming standardised records against each other and existing people.

    records: standardised leads (index ignored; positional). people: existing golden records
    with person_id (+ email_norm, names, phone_e164, company_norm, is_free_mail). known_emails:
    (email_norm, person_id) of every address already resolved (person_records), so an alias
    seen on an older record still matches exactly. preassigned: person ids (Int64, NA where
    unknown) per record, e.g. from a source record id seen before (rule 'source_key').
    apart: (person_a, person_b) pairs of existing people that must never join (rejected reviews).
    crowded: block values (per key kind) held by more people in the warehouse than their cap,
    whose holders were not read (``crowding``): their blocks are skipped as the full read would.
    Optional bool columns of ``people``: ``rare_linked`` (holds a rare-name merge), ``fresh``
    (reopened: compared with everyone as if its records came in this batch),
    ``unreadable_address`` (a record typed an address that could not be read).

    assign, one row per record in order: person_id (existing, or NA), cluster (label shared by
    records forming one new person), match_rule, match_score. reviews: node pairs (a, b) whose
    score is in [review, auto) and which did not end up together, with score and evidence; node
    >= n means existing person people.iloc[node - n]. merged: existing people joined through
    records of the batch, exactly as their records would have joined had they come in one file
    (``guards``); each merged person's records belong to the survivor in ``assign``.
    """
    people = people if people is not None else pd.DataFrame(columns=["person_id"])
    g = _Graph(len(records), len(people),
               people["person_id"].to_numpy() if len(people) else np.array([], dtype=np.int64))
    rk = match_keys(records.reset_index(drop=True))
    enc = _encode(rk, records, people, g.n)
    enc.address_holder = enc.address_holder | _unreadable_addresses(records, people)
    enc.crowded = crowding.node_masks(enc, crowded or {})
    if "p" in enc.crowded:      # a phone more people hold than a block may: junk, like a spread one
        enc.codes["phone_k"] = np.where(enc.crowded["p"], -1, enc.codes["phone_k"])
    exact_person, is_pre = _exact_people(rk["email_norm"], people, known_emails, preassigned)
    exact_nodes = _known_nodes(exact_person, g)
    flag = {c: np.concatenate([np.zeros(g.n, dtype=bool), people[c].fillna(False).to_numpy(dtype=bool)])
            if c in people.columns and len(people) else np.zeros(g.total, dtype=bool)
            for c in ("rare_linked", "fresh")}
    scored = score_pairs(enc, candidate_pairs(enc, g.n, th.block_cap, flag["fresh"]))
    labels = _Labels(guards.business_labels(enc.codes["email_key"], enc.codes["mdom_k"] >= 0),
                     enc.uniques["email_key"])
    same_address, apart_nodes = _same_address_edges(rk["email_norm"]), _apart_nodes(g, apart)
    reopen = np.array([], dtype=np.int64)
    # the clusters the records form on their own evidence (no rare name, no completion)
    plain, _ = _components(g, same_address, exact_nodes, scored[scored["score"] >= th.auto], labels, apart_nodes)
    if (scored["rare_kind"] > 0).any() or flag["rare_linked"].any():
        # rarity counts the identities (clusters) holding an address
        scored = rarity.apply(enc, scored, plain, PTS)
        scored["score"] = points_to_score(scored["points"].to_numpy())
        reopen = g.person_ids[rarity.broken(enc, g.n, flag["rare_linked"],
                                            _apart_from_rare(g, same_address, exact_nodes, scored, labels,
                                                             apart_nodes, flag["rare_linked"], th, plain))[g.n:]]
        reopen = reopen.astype(np.int64)
    scored["reviewable"] = review.reviewable(enc, scored)      # a review queue worth a person's time
    scored = _with_completed(enc, scored, plain, g.n, th, flag["fresh"])   # a person's records complete each other
    del enc
    auto = scored[scored["score"] >= th.auto]
    comp, guard_reviews = _components(g, same_address, exact_nodes, auto, labels, apart_nodes)
    assign_node, merged = _attach(g, comp, auto, flag["fresh"])
    bridge_reviews = [(a, b, th.auto, "bridged") for a, b in guard_reviews]
    cluster = pd.Series(comp[:g.n], index=rk.index)
    rule, score = _match_rules(g, rk, auto, exact_person, is_pre, assign_node, cluster)
    rare_comp = _rare_components(comp, auto)
    merged = merged.assign(rare=np.isin(comp[g.node_of(merged["merged_id"].to_numpy()).astype(np.int64)], rare_comp)
                           if len(merged) else np.zeros(0, dtype=bool))
    assign = pd.DataFrame({
        "person_id": _person_ids(g, assign_node),
        "cluster": cluster.to_numpy(),
        "match_rule": rule.to_numpy(), "match_score": score.to_numpy(),
        "rare": np.isin(comp[:g.n], rare_comp),
    })
    return Resolved(assign, _review_pairs(g, scored, assign_node, cluster, bridge_reviews, th, merged), merged,
                    reopen)


#: what a person's other records may fill in where a record lacks it (missing or junk)
COMPLETED = ("first_k", "first_raw", "last_k", "co_k")


def completed(enc: Encoded, comp: np.ndarray) -> tuple[Encoded, np.ndarray]:
    """``enc`` with each node's missing name and company codes taken from its component where
    the component holds exactly one value, and which nodes were filled. A CRM row "Oliver" at
    Acme that a phone ties to a personal ``oliver.brandt54@`` record is Oliver Brandt at Acme:
    the person, not each record, is compared with the rest (as a later file compares a record
    with a person's golden record). The business domain is not filled: it says whose mailbox
    a record holds (numbered mailboxes, the address standing in for a company)."""
    out = _subset(enc)
    filled = np.zeros(len(comp), dtype=bool)
    for col in COMPLETED:
        x = enc.codes[col]
        ok = x >= 0
        if not ok.any() or ok.all():
            continue
        d = pd.DataFrame({"c": comp[ok], "v": x[ok]}).drop_duplicates()
        n = d.groupby("c")["v"].agg(["nunique", "first"])
        one = n.loc[n["nunique"] == 1, "first"]
        fill = pd.Series(comp).map(one).to_numpy(dtype=float)
        need = ~ok & ~np.isnan(fill)
        if need.any():
            y = x.copy()
            y[need] = fill[need].astype(np.int64)
            out.codes[col] = y
            filled |= need
    return out, filled


def _subset(enc: Encoded, nodes: np.ndarray | None = None) -> Encoded:
    """A copy of ``enc`` whose codes may be replaced without touching it (cached groups left
    behind), restricted to ``nodes`` when given (renumbered 0..len-1; same code spaces)."""
    out = Encoded.__new__(Encoded)
    out.__dict__.update({k: v for k, v in enc.__dict__.items() if not k.startswith("_")})
    at: slice | np.ndarray = slice(None) if nodes is None else nodes
    out.n = enc.n if nodes is None else len(nodes)
    out.codes = {c: v[at] for c, v in enc.codes.items()}
    out.address_holder = enc.address_holder[at]
    out.crowded = {k: v[at] for k, v in enc.crowded.items()}
    return out


def _with_completed(enc: Encoded, scored: pd.DataFrame, comp: np.ndarray, n_new: int, th: Thresholds,
                    fresh: np.ndarray) -> pd.DataFrame:
    """``scored`` plus the merges completed records make (``completed``): pairs of two
    components, one side a record of the batch (or a reopened person) that took a name or
    company from its component, reaching the merge threshold; rule ending ``+person``. Review
    pairs come from the records alone."""
    full, filled = completed(enc, comp)
    filled &= (np.arange(len(comp)) < n_new) | fresh
    if not filled.any():
        return scored
    # every name / organisation block holds a name: only nodes sharing one with a filled node
    # can pair with it
    f, la = full.codes["first_k"], full.codes["last_k"]
    names = np.union1d(f[filled], la[filled])
    near = np.flatnonzero(np.isin(f, names[names >= 0]) | np.isin(la, names[names >= 0]))
    sub = _subset(full, near)
    pairs = candidate_pairs(sub, 0, th.block_cap, filled[near], names_only=True)
    pairs = pd.DataFrame({"a": near[pairs["a"].to_numpy()], "b": near[pairs["b"].to_numpy()]})
    pairs = pairs[comp[pairs["a"].to_numpy()] != comp[pairs["b"].to_numpy()]]
    if not len(pairs):
        return scored
    more = score_pairs(full, pairs.reset_index(drop=True))
    more = more[more["score"] >= th.auto]
    if not len(more):
        return scored
    more = more.assign(rule=more["rule"].astype(str) + "+person", reviewable=False)
    out = pd.concat([scored, more], ignore_index=True)
    return out.sort_values("points", ascending=False, kind="stable").drop_duplicates(["a", "b"])


def _apart_from_rare(g: _Graph, same_address: tuple[np.ndarray, np.ndarray], exact_nodes: pd.Series,
                     scored: pd.DataFrame, labels: _Labels, apart: frozenset[tuple[int, int]],
                     rare_linked: np.ndarray, th: Thresholds, plain: np.ndarray) -> np.ndarray:
    """The identities (clusters) by which a later namesake is judged (``rarity.broken``): as
    ``plain``, but a record of the batch joins a person holding a rare-name link only by exact
    evidence (its address, its source id). The person's golden record carries values of the
    records the rare name tied to it (a company, say); had all the rows come in one file, those
    records would not have lent them to the rest, so what they let a new record match decides
    nothing about whether the name is still rare."""
    if not rare_linked.any():
        return plain
    auto = scored[scored["score"] >= th.auto]
    touch = rare_linked[auto["a"].to_numpy()] | rare_linked[auto["b"].to_numpy()]
    if not touch.any():
        return plain
    comp, _ = _components(g, same_address, exact_nodes, auto[~touch], labels, apart)
    return comp


def _rare_components(comp: np.ndarray, auto: pd.DataFrame) -> np.ndarray:
    """Components held together by at least one edge only a rare name made (``rarity``): the
    people a later namesake may reopen."""
    if not len(auto) or not auto["rare"].any():
        return np.array([], dtype=np.int64)
    r = auto[auto["rare"].to_numpy(dtype=bool)]
    ca, cb = comp[r["a"].to_numpy()], comp[r["b"].to_numpy()]
    return np.unique(ca[ca == cb])


@dataclass(frozen=True)
class _Graph:
    """Node numbering: incoming records 0..n-1, existing people n..n+m-1."""
    n: int
    m: int
    person_ids: np.ndarray

    @property
    def total(self) -> int:
        return self.n + self.m

    def node_of(self, person_ids: np.ndarray) -> np.ndarray:
        """Nodes of existing people by person id (NaN for an unknown id)."""
        lookup = pd.Series(np.arange(self.m) + self.n, index=self.person_ids) if self.m \
            else pd.Series(dtype=np.int64)
        return lookup.reindex(person_ids).to_numpy()

    def knows(self, person_ids: pd.Series) -> np.ndarray:
        return person_ids.isin(self.person_ids).to_numpy() if self.m else np.zeros(len(person_ids), bool)


def _encode(rk: pd.DataFrame, records: pd.DataFrame, people: pd.DataFrame, n: int) -> Encoded:
    """Integer codes of the incoming records' keys followed by the existing people's; junk
    values (formulas, placeholders, values shared by too many addresses) carry no evidence."""
    if not len(people):
        return Encoded(evidence.clean_keys(rk, records))
    pk = match_keys(people.reset_index(drop=True))
    pk.index = pk.index + n
    return Encoded(evidence.clean_keys(pd.concat([rk, pk]), records, people))


def _unreadable_addresses(records: pd.DataFrame, people: pd.DataFrame) -> np.ndarray:
    """Per node: an address was typed but could not be read (records: the raw ``email`` is
    there, ``email_norm`` is not, and it is not filler; existing people: their
    ``unreadable_address`` flag)."""
    if "email" in records.columns:
        raw = records["email"].astype("str").str.strip()
        filler = records["is_placeholder_address"] if "is_placeholder_address" in records.columns else False
        rec = (raw.notna() & (raw != "") & records["email_norm"].isna() & ~filler).to_numpy(dtype=bool)
    else:
        rec = np.zeros(len(records), dtype=bool)
    ex = people["unreadable_address"].fillna(False).to_numpy(dtype=bool) \
        if "unreadable_address" in people.columns and len(people) else np.zeros(len(people), dtype=bool)
    return np.concatenate([rec, ex])


@dataclass(frozen=True)
class _Labels:
    """Per node, the business mailbox it holds (the no-chaining rule), and each label's address."""
    email: np.ndarray
    uniques: Any


def _exact_people(email: pd.Series, people: pd.DataFrame, known_emails: pd.DataFrame | None,
                  preassigned: pd.Series | None) -> tuple[pd.Series, np.ndarray]:
    """Per record, the person it is exactly: a preassigned id, else the owner of its address
    (the golden record's own address wins over one seen on an older record). Also returns
    which records were preassigned."""
    exact = pd.Series(pd.NA, index=email.index, dtype="Int64")
    if len(people) or (known_emails is not None and len(known_emails)):
        none = pd.DataFrame(columns=["email_norm", "person_id"])
        known = pd.concat([people[["email_norm", "person_id"]].dropna() if len(people) else none,
                           known_emails if known_emails is not None else none]).drop_duplicates("email_norm")
        exact = email.map(dict(zip(known["email_norm"], known["person_id"]))).astype("Int64")
    is_pre = np.zeros(len(email), dtype=bool)
    if preassigned is not None:
        pre = pd.Series(np.asarray(preassigned), index=email.index).astype("Int64")
        is_pre = pre.notna().to_numpy()
        exact = pre.fillna(exact)
    return exact, is_pre


def _known_nodes(exact_person: pd.Series, g: _Graph) -> pd.Series:
    """Record -> node of the existing person it exactly is (only people in this resolution)."""
    ex = exact_person.dropna()
    ex = ex[g.knows(ex)]
    return pd.Series(g.node_of(ex.to_numpy()), index=ex.index)


def _same_address_edges(email: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Records of one address in the batch, chained to its first record."""
    grp = email.dropna()
    hub = pd.Series(grp.index, index=grp.index).groupby(grp.values).transform("first")
    same = hub[hub != hub.index]
    return same.index.to_numpy(), same.to_numpy()


def _apart_nodes(g: _Graph, apart: pd.DataFrame | None) -> frozenset[tuple[int, int]]:
    """Pairs of existing people that must stay apart, as (node, node) with the smaller first."""
    if apart is None or not len(apart) or not g.m:
        return frozenset()
    x = g.node_of(apart["person_a"].to_numpy())
    y = g.node_of(apart["person_b"].to_numpy())
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok].astype(np.int64), y[ok].astype(np.int64)
    return frozenset(zip(np.minimum(x, y).tolist(), np.maximum(x, y).tolist()))


def _components(g: _Graph, same_address: tuple[np.ndarray, np.ndarray], exact_nodes: pd.Series,
                auto: pd.DataFrame, labels: _Labels,
                apart: frozenset[tuple[int, int]] = frozenset()) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Connected component of every node under the no-chaining rule (``guards``): exact edges
    (same address, known person) and automatic fuzzy edges, never joining two business
    mailboxes or two existing people through a third record. Also the pairs it sent to review."""
    exact_a = np.concatenate([same_address[0], exact_nodes.index.to_numpy()])
    exact_b = np.concatenate([same_address[1], exact_nodes.to_numpy()])
    nodes = np.arange(g.total)
    return guards.components(g.total, exact_a, exact_b, auto["a"].to_numpy(), auto["b"].to_numpy(),
                             auto["score"].to_numpy(), labels.email, np.where(nodes >= g.n, nodes, -1),
                             labels.uniques, apart)


def _attach(g: _Graph, comp: np.ndarray, auto: pd.DataFrame,
            fresh: np.ndarray | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Each record's existing person node (NaN: a new person), and the existing people merged.

    A component reaching one existing person joins it. A component reaching several (the guards
    let them join: the same rows in one file would have been one person) joins the oldest of
    them (lowest person id); the others are merged into it, with the weakest automatic score
    of an edge between the batch and those people. Components of ``fresh`` (reopened) people
    count even without a record of the batch: their rows are resolved again now.
    """
    n = g.n
    comp_new = comp[:n]
    empty = pd.DataFrame({"survivor_id": pd.Series(dtype=np.int64), "merged_id": pd.Series(dtype=np.int64),
                          "score": pd.Series(dtype=float)})
    if not g.m:
        return np.full(n, np.nan), empty
    ex = pd.DataFrame({"c": comp[n:], "node": np.arange(n, g.total), "pid": g.person_ids})
    live = np.unique(comp_new) if fresh is None else np.union1d(comp_new, comp[n:][fresh[n:]])
    ex = ex[ex["c"].isin(live)].sort_values(["c", "pid"], kind="stable")
    survivor = ex.drop_duplicates("c").set_index("c")["node"]
    assign_node = pd.Series(comp_new).map(survivor).to_numpy().astype(float)
    gone = ex[ex.duplicated("c")]
    if not len(gone):
        return assign_node, empty
    touching = auto[(auto["a"] < n) != (auto["b"] < n)]
    ex_node = np.maximum(touching["a"].to_numpy(), touching["b"].to_numpy())
    weakest = pd.Series(touching["score"].to_numpy()).groupby(comp[ex_node]).min()
    merged = pd.DataFrame({
        "survivor_id": g.person_ids[survivor.reindex(gone["c"]).to_numpy() - n].astype(np.int64),
        "merged_id": gone["pid"].to_numpy().astype(np.int64),
        "score": weakest.reindex(gone["c"]).to_numpy(dtype=float),
    })
    return assign_node, merged


def _match_rules(g: _Graph, rk: pd.DataFrame, auto: pd.DataFrame, exact_person: pd.Series,
                 is_pre: np.ndarray, assign_node: np.ndarray, cluster: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Why each record is where it is, and how sure: its best automatic edge; 'email' for an
    address seen before (1.0); 'source_key' for a preassigned person; 'new' for the first
    record of a new person."""
    edges = auto[["a", "b", "score", "rule"]]
    both = pd.concat([edges.rename(columns={"a": "rec", "b": "other"}),
                      edges.rename(columns={"b": "rec", "a": "other"})])
    best = both[both["rec"] < g.n].sort_values("score", ascending=False).drop_duplicates("rec").set_index("rec")
    rule = pd.Series("new", index=rk.index, dtype=object)
    score = pd.Series(np.nan, index=rk.index)
    has = rk.index.isin(best.index)
    rule[has] = best.loc[rk.index[has], "rule"].to_numpy()
    score[has] = best.loc[rk.index[has], "score"].to_numpy()
    new_person = np.isnan(assign_node)
    exact = exact_person.notna().to_numpy() & ~new_person
    email = rk["email_norm"]
    is_email = (email.notna() & email.duplicated()).to_numpy() | exact
    rule[is_email] = "email"
    score[is_email] = 1.0
    rule[is_pre & exact] = "source_key"
    founder = new_person & ~cluster.duplicated().to_numpy()
    rule[founder] = "new"
    score[founder] = np.nan
    return rule, score


def _person_ids(g: _Graph, assign_node: np.ndarray) -> Any:
    pid = pd.array(np.full(g.n, pd.NA), dtype="Int64")
    ok = ~np.isnan(assign_node)
    if ok.any():
        pid[ok] = g.person_ids[assign_node[ok].astype(np.int64) - g.n]
    return pid


def _review_pairs(g: _Graph, scored: pd.DataFrame, assign_node: np.ndarray, cluster: pd.Series,
                  bridge_reviews: list[tuple[int, int, float, str]], th: Thresholds,
                  merged: pd.DataFrame) -> pd.DataFrame:
    """Uncertain pairs (score in [review, auto)) whose nodes ended apart, plus bridged people."""
    final = np.where(np.isnan(assign_node), -1 - cluster.to_numpy(), assign_node)
    ex_final = np.arange(g.n, g.total, dtype=float)
    if len(merged):     # a merged person is its survivor now
        ex_final[g.node_of(merged["merged_id"].to_numpy()).astype(np.int64) - g.n] = \
            g.node_of(merged["survivor_id"].to_numpy())
    final_all = np.concatenate([final, ex_final])
    rv = scored[(scored["score"] >= th.review) & (scored["score"] < th.auto) & scored["reviewable"]]
    rv = rv[final_all[rv["a"].to_numpy()] != final_all[rv["b"].to_numpy()]]
    reviews = rv[["a", "b", "score", "rule"]].reset_index(drop=True)
    if bridge_reviews:
        reviews = pd.concat([reviews, pd.DataFrame(bridge_reviews, columns=["a", "b", "score", "rule"])],
                            ignore_index=True)
    return reviews
