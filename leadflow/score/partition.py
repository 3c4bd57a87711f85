"""Partitions of the heavy daily steps, so mapped tasks on different workers share the work.

A key's partition is a stable hash of it modulo the partition count: the same in every
process and on every machine (pandas' keyed SipHash, not Python's per-process ``hash``), so
``k`` of ``n`` always picks the same people, and the ``n`` partitions are disjoint and cover
everyone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

Part = tuple[int, int]          # (k, n): partition k of n, 0 <= k < n


def of(keys: Any, n: int) -> np.ndarray:
    """Partition number (0..n-1) of each key (person ids, rep ids)."""
    values = pd.Series(keys).astype(str).to_numpy(dtype=object)
    return (pd.util.hash_array(values) % np.uint64(n)).astype(np.int64)


def mask(keys: Any, part: Part | None) -> np.ndarray:
    """True for the keys in ``part`` (every key when ``part`` is None)."""
    if part is None:
        return np.ones(len(keys), dtype=bool)
    k, n = part
    if not 0 <= k < n:
        raise ValueError(f"partition {k} of {n} does not exist")
    return of(keys, n) == k


def name(step: str, part: Part | None) -> str:
    """The recorded step name: ``score`` whole, ``score:k/n`` for a partition."""
    return step if part is None or part[1] == 1 else f"{step}:{part[0]}/{part[1]}"
