"""Weighted round-robin with daily caps, computed for a whole batch at once.

Each rep gets "slots" at virtual times ``(used + k + 0.5) / weight`` (stride scheduling): a rep with
weight 2 gets a slot twice as often as one with weight 1, and a rep who already received leads
today starts later. All slots are merged and sorted (ties: config order), and units (a lead, or
the leads of one account routed together) take the slots in priority order. No randomness: the
same input always gives the same assignment, so a re-run reproduces the routing.

Caps count leads. A unit of several colleagues that would overshoot a rep's remaining capacity is
split into single leads and offered again in the next pass (colleagues stay together when the
cap allows). Single leads never overshoot, so the passes end quickly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def allocate(unit_of: np.ndarray, weights: np.ndarray, used: np.ndarray,
             remaining: np.ndarray, max_passes: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Assign leads (already in priority order) to reps.

    unit_of: a unit code per lead (leads sharing a code go to one rep when possible).
    weights/used/remaining: per rep (used = leads already given today).
    Returns (rep index per lead, -1 where no capacity is left; leads used per rep afterwards).
    """
    n = len(unit_of)
    out = np.full(n, -1, dtype=np.int64)
    used = used.astype(np.float64).copy()
    remaining = remaining.astype(np.int64).copy()
    lead = pd.DataFrame({"lead": np.arange(n), "unit": pd.factorize(unit_of, sort=False)[0]})
    next_code = int(lead["unit"].max()) + 1 if n else 0
    for pass_no in range(max_passes):
        open_reps = np.flatnonzero(remaining > 0)
        if lead.empty or len(open_reps) == 0:
            break
        if pass_no == max_passes - 1:   # last chance: everyone alone
            lead = lead.assign(unit=np.arange(next_code, next_code + len(lead)))
        units = lead.drop_duplicates("unit")["unit"].to_numpy()          # priority order
        sizes = lead.groupby("unit", sort=False).size().reindex(units).to_numpy()
        k_per_rep = np.minimum(remaining[open_reps], len(units))
        rep_of_slot = np.repeat(open_reps, k_per_rep)
        k = np.concatenate([np.arange(m) for m in k_per_rep])
        vt = (used[rep_of_slot] + k + 0.5) / weights[rep_of_slot]
        order = np.lexsort((rep_of_slot, vt))[:len(units)]
        take = pd.DataFrame({"unit": units[:len(order)], "rep": rep_of_slot[order],
                             "size": sizes[:len(order)]})
        take["cum"] = take.groupby("rep")["size"].cumsum()
        fits = take["cum"].to_numpy() <= remaining[take["rep"].to_numpy()]
        ok = take[fits]
        rep_of_unit = pd.Series(ok["rep"].to_numpy(), index=ok["unit"].to_numpy())
        done = lead["unit"].isin(ok["unit"])
        out[lead.loc[done, "lead"].to_numpy()] = lead.loc[done, "unit"].map(rep_of_unit).to_numpy()
        given = ok.groupby("rep")["size"].sum()
        used[given.index.to_numpy()] += given.to_numpy()
        remaining[given.index.to_numpy()] -= given.to_numpy()
        split = lead["unit"].isin(take.loc[~fits, "unit"])
        lead = lead[~done].copy()
        split = split[~done]
        if split.any():
            lead.loc[split, "unit"] = np.arange(next_code, next_code + int(split.sum()))
            next_code += int(split.sum())
        if len(order) == len(units) and not split.any():
            # every unit was offered a slot and all fitted: nothing left
            break
        if len(order) < len(units) and not split.any() and not (remaining > 0).any():
            break
    return out, used
