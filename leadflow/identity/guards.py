"""No chaining: merge edges may never join two people who each hold a different business address.

Connected components over merge edges are transitive: a record without an address (or with a
personal one) that looks like Ann Lee at Acme links ``ann.lee@acme.com`` and ``a.lee@acme.com``
even though the two mailboxes, issued by one company's mail admin, belong to two people. The
same holds between the batch and the warehouse. So every node carries identity labels:

- its business address (alias-folded, not free mail, not disposable, not a role mailbox such
  as info@: a role mailbox is shared, it names no one), and
- for existing people, the person itself.

Components holding at most one of each (nearly all) stay as they are. The few that hold more are
re-clustered greedily: exact edges (same address, a known address of an existing person, a
source id) first and always, then fuzzy edges strongest first. A fuzzy edge is refused when both
sides hold business addresses that differ and the edge does not run between two address holders
themselves: one person may well use ``m.tanner@`` and ``mustafa.tanner@`` (direct evidence
between the two holders decides that), but a third record that resembles both may not chain
them. Any edge is refused between two existing people a reviewer kept apart (rejected or
unmerged). The loop runs only over the edges of those conflicting components, not over all
records.

Two existing people may join through a record of the batch under exactly the rule that would
have joined their records had they arrived in one file: the same rows give the same people
whether they come as one file or as two, in either order (the load merges such people, rule
``bridged`` in ``merges``). A refused pair of existing people goes to review.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from leadflow.vocab.lists import ROLE_LOCAL_PARTS


def business_labels(email_codes: np.ndarray, business: np.ndarray) -> np.ndarray:
    """Per node: a code for its business address (-1: none or personal). Role mailboxes are
    taken out later, only where they matter (``components``)."""
    return np.where((email_codes >= 0) & business, email_codes, -1).astype(np.int64)


def _drop_roles(labels: np.ndarray, nodes: np.ndarray, email_uniques: object) -> np.ndarray:
    """labels with role mailboxes (info@, sales@, ...) among ``nodes`` set to -1."""
    used = np.unique(labels[nodes][labels[nodes] >= 0])
    if not len(used):
        return labels
    vals = pd.Series(np.asarray(pd.Index(email_uniques).take(used), dtype=object), dtype="str")
    local = vals.str.split("@", n=1).str[0].str.replace(r"\+.*$", "", regex=True)
    role = used[local.isin(ROLE_LOCAL_PARTS).to_numpy(dtype=bool)]
    if not len(role):
        return labels
    out = labels.copy()
    out[np.isin(out, role)] = -1
    return out


def _conflicting(comp: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Components holding more than one distinct non-missing label."""
    ok = labels >= 0
    if not ok.any():
        return np.array([], dtype=np.int64)
    d = pd.DataFrame({"c": comp[ok], "l": labels[ok]}).drop_duplicates()
    n = d.groupby("c").size()
    return n.index[n > 1].to_numpy()


class _Sets:
    """Union-find whose roots carry the business addresses and existing people of their set."""

    def __init__(self, nodes: np.ndarray, email: np.ndarray, person: np.ndarray,
                 apart: frozenset[tuple[int, int]] = frozenset()) -> None:
        self.parent = {int(x): int(x) for x in nodes}
        self.email = {int(x): ({int(e)} if e >= 0 else set()) for x, e in zip(nodes, email[nodes])}
        self.person = {int(x): ({int(p)} if p >= 0 else set()) for x, p in zip(nodes, person[nodes])}
        self.apart = apart                              # existing people a reviewer kept apart
        self.bridged: set[tuple[int, int]] = set()     # existing people a record resembled both of

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int, forced: bool, direct: bool = False) -> bool:
        """Join the sets of a and b unless that links two people; ``direct``: a and b both
        hold a business address themselves (the edge is evidence between the two holders).
        Existing people join like records do (the same rows in one file would have joined),
        except a pair a reviewer kept apart (unmerged or rejected)."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        pa, pb = self.person[ra], self.person[rb]
        ea, eb = self.email[ra], self.email[rb]
        kept_apart = any((min(x, y), max(x, y)) in self.apart for x in pa for y in pb)
        if kept_apart or (not forced and not direct and ea and eb and not (ea & eb)):
            self.bridged.update((min(x, y), max(x, y)) for x in pa for y in pb)
            return False                   # a third record may not chain two mailbox holders
        self.parent[rb] = ra
        self.email[ra] = ea | eb
        self.person[ra] = pa | pb
        return True


def components(total: int, exact_a: np.ndarray, exact_b: np.ndarray, fuzzy_a: np.ndarray,
               fuzzy_b: np.ndarray, fuzzy_score: np.ndarray, email_label: np.ndarray,
               person_label: np.ndarray, email_uniques: object = None,
               apart: frozenset[tuple[int, int]] = frozenset()) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Component label per node (0..total-1) under the no-chaining rule (see module doc), and the
    node pairs left for review: existing people some record tied to both but who may not join,
    and records that resembled two mailbox holders alike with each of them. ``email_uniques``
    (the address of each label code) lets role mailboxes be recognised; ``apart``: pairs of
    ``person_label`` values that may never join (a reviewer rejected or unmerged them)."""
    ea = np.concatenate([exact_a, fuzzy_a]).astype(np.int64)
    eb = np.concatenate([exact_b, fuzzy_b]).astype(np.int64)
    g = coo_matrix((np.ones(len(ea)), (ea, eb)), shape=(total, total))
    _, comp = connected_components(g, directed=False)
    bad = np.union1d(_conflicting(comp, email_label), _conflicting(comp, person_label))
    if len(bad) and email_uniques is not None:        # a role mailbox names no one
        email_label = _drop_roles(email_label, np.flatnonzero(np.isin(comp, bad)), email_uniques)
        bad = np.union1d(_conflicting(comp, email_label), _conflicting(comp, person_label))
    if not len(bad):
        return comp, []
    comp = comp.astype(np.int64)
    in_bad = np.isin(comp, bad)
    nodes = np.flatnonzero(in_bad)
    ex = in_bad[exact_a.astype(np.int64)] if len(exact_a) else np.zeros(0, dtype=bool)
    xa, xb = exact_a[ex].astype(np.int64), exact_b[ex].astype(np.int64)
    fz = in_bad[fuzzy_a.astype(np.int64)] if len(fuzzy_a) else np.zeros(0, dtype=bool)
    sc = np.asarray(fuzzy_score, dtype=float)[fz]
    order = np.argsort(-sc, kind="stable")
    fa, fb, sc = fuzzy_a[fz][order].astype(np.int64), fuzzy_b[fz][order].astype(np.int64), sc[order]
    sets, held = _recluster(nodes, xa, xb, fa, fb, sc, email_label, person_label, set(), apart)
    if held:        # records that resemble two mailbox holders alike: they join neither
        sets, _ = _recluster(nodes, xa, xb, fa, fb, sc, email_label, person_label, held, apart)
    roots = np.array([sets.find(int(x)) for x in nodes], dtype=np.int64)
    comp[nodes] = comp.max() + 1 + pd.factorize(roots)[0]
    pairs = sorted(sets.bridged)
    keep = np.isin(fa, list(held)) | np.isin(fb, list(held))
    pairs += [(int(a), int(b)) for a, b in zip(fa[keep], fb[keep])]
    return comp, pairs


def _points(score: float) -> float:
    """Evidence points back from a score (resolve.points_to_score, inverted)."""
    score = min(max(score, 1e-9), 1 - 1e-9)
    return 10.0 - float(np.log2(1.0 / score - 1.0))


def _recluster(nodes: np.ndarray, xa: np.ndarray, xb: np.ndarray, fa: np.ndarray, fb: np.ndarray,
               sc: np.ndarray, email_label: np.ndarray, person_label: np.ndarray,
               held: set[int], apart: frozenset[tuple[int, int]] = frozenset()) -> tuple[_Sets, set[int]]:
    """Greedy clustering of conflicting components; ``held`` nodes take no fuzzy edge.

    Returns the sets and the nodes found ambiguous: a record (or existing person: the same rule
    as its records would meet in one file) without a business address of its own whose edge to
    a mailbox holder was refused while about as strong (within one point) as the edge it joined
    by."""
    sets = _Sets(nodes, email_label, person_label, apart)
    for a, b in zip(xa, xb):
        sets.union(int(a), int(b), forced=True)
    direct = (email_label[fa] >= 0) & (email_label[fb] >= 0)
    joined: dict[int, float] = {}
    found: set[int] = set()
    for a, b, d, s in zip(fa, fb, direct, sc):
        a, b = int(a), int(b)
        if a in held or b in held:
            continue
        if sets.union(a, b, forced=False, direct=bool(d)):
            for x in (a, b):
                joined.setdefault(x, float(s))
            continue
        for x in (a, b):
            if email_label[x] < 0 and x in joined \
                    and _points(float(s)) >= _points(joined[x]) - 1.0:
                found.add(x)
    return sets, found
