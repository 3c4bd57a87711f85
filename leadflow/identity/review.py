"""A review queue worth a person's time: only pairs whose evidence is genuinely ambiguous.

A pair scoring between the review and the merge threshold is not automatically a question
worth asking. Namesakes at different companies with different addresses (Laura Brown at
silveratlantic.com and Laura Brown at vanguardapex.com) score there on the name alone, and on
the demo data they were 94 % of the old queue with under 0.1 % true duplicates: the evidence is
not ambiguous, it says two people. So a pair is a review candidate unless it is *contradicted*:
both records carry an address and the addresses differ, both carry an organisation (company
name or business domain) and those do not agree, and no phone ties them. A job change without a
shared phone looks the same and is missed; with one, it stays a candidate (or merges).

And a pair that nothing but the name ties together (no shared phone, address or organisation)
is only worth a look when the name is rare in the data (at most ``RARE_NAME_NODES`` records and
people bear it): "Christopher Decker" with no address or company against the one Christopher
Decker in the warehouse is a question; "James Hall" against a hundred James Halls is not. This is
Fellegi-Sunter's term-frequency idea applied to the queue, not to merging: merging still needs
more than a name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def reviewable(enc: object, scored: pd.DataFrame) -> np.ndarray:
    """bool per scored pair (columns a, b, rule): may go to the review queue."""
    c = enc.codes  # type: ignore[attr-defined]
    a, b = scored["a"].to_numpy(), scored["b"].to_numpy()
    if not len(a):
        return np.zeros(0, dtype=bool)

    def has(col: str) -> tuple[np.ndarray, np.ndarray]:
        return c[col][a] >= 0, c[col][b] >= 0

    def same(col: str) -> np.ndarray:
        return (c[col][a] >= 0) & (c[col][a] == c[col][b])

    ea, eb = has("email_key")
    diff_addr = ea & eb & ~same("email_key")
    ca, cb = has("co_k")
    da, db = has("dom_k")
    org_agrees = scored["rule"].astype("str").str.contains("org", regex=False).to_numpy(dtype=bool)
    org_conflict = (ca | da) & (cb | db) & ~org_agrees
    contradicted = diff_addr & org_conflict & ~same("phone_k")
    # only the name ties them: worth asking only when few records in the data carry that name
    weak = ~(same("phone_k") | org_agrees | same("email_key"))
    return ~contradicted & ~(weak & (name_counts(enc)[a] > RARE_NAME_NODES))


RARE_NAME_NODES = 3     # a name-only pair is a question only if at most this many records bear the name


def name_counts(enc: object) -> np.ndarray:
    """Per node: how many nodes (incoming records and existing people) carry its full name
    (given and family name in either order); a large number for nodes without a full name."""
    c = enc.codes  # type: ignore[attr-defined]
    f, la = c["first_k"], c["last_k"]
    ok = (f >= 0) & (la >= 0)
    big = np.int64(max(int(f.max(initial=0)), int(la.max(initial=0))) + 1)
    key = np.where(ok, np.minimum(f, la) * big + np.maximum(f, la), -1)
    codes = np.asarray(pd.factorize(key, use_na_sentinel=False)[0])
    counts = np.bincount(codes)
    return np.where(ok, counts[codes], np.iinfo(np.int64).max)
