"""Partitions of the heavy daily steps (leadflow/score/partition.py) and what the DAG and the
run bookkeeping make of them: stable, disjoint, covering; a partitioned final step counts as
done only when every partition is; partitions share the run lock, whole steps do not."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from leadflow.monitor import shares_lock
from leadflow.orchestration.ordering import final_done
from leadflow.score import partition


def test_partitions_are_disjoint_cover_and_balanced() -> None:
    ids = np.arange(1, 20_001)
    parts = partition.of(ids, 4)
    assert set(parts) == {0, 1, 2, 3}
    assert sum(partition.mask(ids, (k, 4)).sum() for k in range(4)) == len(ids)
    share = np.bincount(parts) / len(ids)
    assert share.min() > 0.2 and share.max() < 0.3
    assert partition.mask(ids, None).all()
    with pytest.raises(ValueError):
        partition.mask(ids, (4, 4))


def test_partition_of_a_key_is_the_same_in_another_process() -> None:
    """Workers are other processes (other machines): Python's salted hash() would differ."""
    keys = ["ava", "noah", "grace", 17, 123456789]
    code = ("from leadflow.score import partition; "
            f"print(list(partition.of({keys!r}, 7)))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert other.stdout.strip() == str(list(partition.of(keys, 7)))
    assert list(partition.of(pd.Series(keys[:3]), 7)) == list(partition.of(keys, 7))[:3]


def test_step_names_and_lock_modes() -> None:
    assert partition.name("score", None) == "score"
    assert partition.name("score", (0, 1)) == "score"
    assert partition.name("deliver", (1, 3)) == "deliver:1/3"
    assert shares_lock("score:0/2") and shares_lock("deliver:1/2") and shares_lock("ingest:web")
    assert not shares_lock("score") and not shares_lock("deliver") and not shares_lock("queue")


@pytest.mark.parametrize(("statuses", "done"), [
    ({"deliver": "success"}, True),
    ({"deliver:0/2": "success", "deliver:1/2": "warning"}, True),
    ({"deliver:0/2": "success"}, False),                          # one partition never ran
    ({"deliver:0/2": "success", "deliver:1/2": "running"}, False),
    ({"deliver:0/2": "success", "deliver:1/2": "failed"}, False),
    ({"deliver:0/3": "success", "deliver:1/3": "success"}, False),
    ({"queue": "success"}, False),
])
def test_final_step_done_only_when_every_partition_is(statuses: dict, done: bool) -> None:
    assert final_done(statuses, "deliver") is done
