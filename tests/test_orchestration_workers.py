"""The daily DAG's tasks on two workers that share no local disk.

Each simulated worker has its own folder (its copy of leadflow.yaml, its working directory and
its TMPDIR); the only things they share are the warehouse and the storage root
(``storage.url``: a third folder as a ``file://`` URL, or ``memory://`` standing in for an
object store). The daily DAG's task functions run alternately on the two workers, so a task
that wrote something to its own disk for a later task (GX results for the Data Docs, landed
files, lead lists, model artifacts) breaks the run or leaves files behind on a worker.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import fsspec
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from leadflow.orchestration import paths, runner
from leadflow.orchestration.dagkit import IMPORT_KINDS
from leadflow.store import db, shared
from leadflow.store.schema import handoffs, scores
from tests.conftest import ROOT, write_config
from tests.test_orchestration import airflow_context

RUN_DATE = date(2026, 11, 26)


class Worker:
    """One machine: its own folder for config, working directory and temporary files."""

    def __init__(self, root: Path, doc: dict[str, Any]) -> None:
        self.root = root
        (root / "tmp").mkdir(parents=True)
        self.config = write_config(root / "leadflow.yaml", doc)

    @contextmanager
    def on(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        with monkeypatch.context() as m:
            m.chdir(self.root)
            m.setenv("LEADFLOW_CONFIG", str(self.config))
            m.setenv("TMPDIR", str(self.root / "tmp"))
            m.setattr(tempfile, "tempdir", None)       # re-read TMPDIR
            yield

    def leftovers(self) -> list[str]:
        """Files on this worker's own disk other than its config and emptied temporary folder."""
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                      if p.is_file() and p != self.config)


def _doc(storage_url: str) -> dict[str, Any]:
    """The project's leadflow.yaml with every file location relative (so under the storage root)."""
    doc = yaml.safe_load((ROOT / "leadflow.yaml").read_text())
    doc.pop("paths", None)
    doc["storage"] = {"url": storage_url}
    for s in doc.get("sources", []):
        if s["connector"].get("type") == "file":
            s["connector"]["min_age_seconds"] = 0
    doc.get("model", {}).pop("artifacts_dir", None)
    doc["partitions"] = {"score": 3, "deliver": 2}
    return doc


@pytest.fixture(params=[("file", "sqlite"),
                        pytest.param(("memory", "postgresql"), marks=pytest.mark.postgres)],
                ids=["file-sqlite", "memory-postgresql"])
def cluster(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(worker A, worker B, the shared root as a local or fsspec path, the warehouse URL)."""
    from leadflow import demo
    from leadflow.config import shared_path
    from tests.conftest import _warehouse_url
    storage, backend = request.param
    gen = tmp_path / "generated"
    demo.generate(gen / "data", leads=200, seed=5, days=1, end_date=RUN_DATE)
    url = f"file://{tmp_path / 'shared'}" if storage == "file" else f"memory://lf-{uuid.uuid4().hex[:10]}"
    root = shared_path(url, {})
    shared.put_tree(root / "data" / "landing", gen / "data" / "landing")
    for db_url in _warehouse_url(SimpleNamespace(param=backend), tmp_path, init=True):  # type: ignore[arg-type]
        monkeypatch.setenv("LEADFLOW_DATABASE_URL", db_url)
        doc = _doc(url)
        yield Worker(tmp_path / "worker_a", doc), Worker(tmp_path / "worker_b", doc), root, db_url
    if storage == "memory":
        fsspec.filesystem("memory").rm(str(root.path), recursive=True)   # type: ignore[attr-defined]


def _task(task_id: str) -> dict[str, Any]:
    return airflow_context(task_id=task_id)


def _daily(a: Worker, b: Worker, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The DAG's tasks in its order, alternating workers task by task."""
    workers = [a, b]
    turn = [0]
    out: dict[str, Any] = {}

    def run(key: str, fn: Callable[[], Any]) -> Any:
        w = workers[turn[0] % 2]
        turn[0] += 1
        with w.on(monkeypatch):
            out[key] = fn()
        return out[key]

    names = run("sources", lambda: runner.list_sources(IMPORT_KINDS))
    for name in names:
        run(f"ingest:{name}", lambda n=name: runner.run_task(f"ingest:{n}", _task("ingest"),
                                                             runner.ingest_source(n)))
    run("quality", lambda: runner.run_task("quality", _task("quality"), keep=("held",)))
    run("load", lambda: runner.run_task("load", _task("load")))
    for k, n in run("partitions:score", lambda: paths.partitions("score")):   # as the DAG parse does
        name, fn = runner.partitioned("score", k, n)
        run(name, lambda nm=name, f=fn: runner.run_task(nm, _task("score"), f))
    run("queue", lambda: runner.run_task("queue", _task("queue")))
    for k, n in run("partitions:deliver", lambda: paths.partitions("deliver")):
        name, fn = runner.partitioned("deliver", k, n)
        run(name, lambda nm=name, f=fn: runner.run_task(nm, _task("deliver"), f))
    run("data_docs", lambda: runner.run_task("data_docs", _task("data_docs")))
    run("summary", lambda: runner.write_summary(_task("summary")))
    return out


def test_daily_tasks_alternating_between_workers_share_only_storage(
        cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, root, db_url = cluster
    out = _daily(a, b, monkeypatch)

    landed = sum(out[k]["counts"].get("rows_landed", 0) for k in out if k.startswith("ingest:"))
    assert landed > 0, "ingest found nothing on the shared storage"
    handed = out["queue"]["counts"]["handed_off"]
    assert handed > 0
    assert sum(out[k]["counts"]["leads"] for k in out if k.startswith("deliver:")) == handed
    eng = db.engine(db_url)
    with eng.connect() as c:
        n_handoffs = c.execute(sa.select(sa.func.count()).select_from(handoffs)).scalar_one()
    assert n_handoffs == handed

    # every output is on the shared storage ...
    day = _read_day(root)
    assert day and all(n.endswith((".csv", ".xlsx", ".html")) for n in day)
    assert shared.exists(root / "reports" / "data_docs" / "index.html")
    assert [p.suffix for p in (root / "reports" / "runs").iterdir()] == [".html"]
    archived = [p for p in (root / "data" / "landing").rglob("*") if "archive" in str(p.parent)]
    assert archived, "landed files were not filed into archive/ on the shared storage"
    # ... and nothing on either worker's own disk
    assert a.leftovers() == [] and b.leftovers() == []

    # partitions: disjoint, covering, and the same result as the whole steps
    parted, parted_lists = _scores(eng), day
    scored = [out[k]["counts"]["scored"] for k in out if k.startswith("score:")]
    assert len(scored) == 3 and all(scored), "a score partition scored nobody"
    assert sum(scored) == len(parted)          # an overlap would count a person twice
    files = [out[k]["counts"]["files"] for k in out if k.startswith("deliver:")]
    assert len(files) == 2 and all(files) and sum(files) == len(parted_lists)
    with a.on(monkeypatch):
        runner.run_task("score", _task("score"))          # whole, as `leadflow run` does
        runner.run_task("deliver", _task("deliver"))
    pd.testing.assert_frame_equal(_scores(eng), parted)
    whole_lists = _read_day(root)
    assert sorted(whole_lists) == sorted(parted_lists)
    text = [n for n in whole_lists if not n.endswith(".xlsx")]     # XLSX files carry their write time
    assert text and {n: whole_lists[n] for n in text} == {n: parted_lists[n] for n in text}


def test_a_task_reading_a_workers_disk_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness itself: a path resolved against the worker's folder (the config's folder, as
    leadflow did before storage.url) is a different place on the other worker."""
    from leadflow import config as cfg
    doc = {"storage": {"url": f"file://{tmp_path / 'shared'}"}}
    a, b = Worker(tmp_path / "a", doc), Worker(tmp_path / "b", doc)
    with a.on(monkeypatch):
        local = cfg.load().resolve("reports/x.txt")
        local.parent.mkdir(parents=True)
        local.write_text("written on A")
        shared.put(cfg.load().reports_dir / "x.txt", b"shared")
        assert tempfile.gettempdir() == str(a.root / "tmp")
    with b.on(monkeypatch):
        assert not cfg.load().resolve("reports/x.txt").exists()
        assert shared.get(cfg.load().reports_dir / "x.txt") == b"shared"
    assert a.leftovers() == ["reports/x.txt"] and b.leftovers() == []


def _read_day(root: Path) -> dict[str, bytes]:
    day = root / "reports" / "lead_lists" / RUN_DATE.isoformat()
    return {p.name: p.read_bytes() for p in day.iterdir()} if day.exists() else {}


def _scores(eng: sa.Engine) -> pd.DataFrame:
    cols = ["person_id", "fit_points", "grade", "engagement_points", "score", "probability",
            "model_version"]
    return db.read_df(eng, sa.select(scores).where(scores.c.score_date == RUN_DATE)) \
        .sort_values("person_id")[cols].reset_index(drop=True)
