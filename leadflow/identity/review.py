"""A review queue worth a person's time: only pairs whose evidence is genuinely ambiguous.

A pair scoring between the review and the merge threshold is not automatically a question
worth asking. Namesakes at different companies with different addresses (Laura Brown at
silveratlantic.com and Laura Brown at vanguardapex.com) score there on the name alone, and on
the demo data they were 94 % of the old queue with under 0.1 % true duplicates: the evidence is
not ambiguous, it says two people. So a pair is a review candidate unless it is *contradicted*:
both records carry an address and the addresses differ, both carry an organisation (company
name or business domain) and those do not agree, and no phone ties them. A job change without a
shared phone looks the same and is missed; with one, it stays a candidate (or merges).
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
    return ~(diff_addr & org_conflict & ~same("phone_k"))
