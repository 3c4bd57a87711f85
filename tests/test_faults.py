"""Crash tests: kill the daily run (SIGKILL, via ``LEADFLOW_FAULT``) at step boundaries and inside
steps, run it again, and compare with a run that was never interrupted: handoffs and owners,
row accounting, lead-list files and the e-mails the reps received. On SQLite and PostgreSQL.

Ids are compared by what they stand for (a person's address, a file's content without its id
columns): PostgreSQL sequences do not roll back, so a killed transaction may shift surrogate ids.
"""

from __future__ import annotations

import csv
import email
import io
import os
import socket
import subprocess
import sys
import uuid
from datetime import date
from email import policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from leadflow.status import run_summary, status_rows
from leadflow.store import db
from leadflow.store.schema import STAGING, handoffs, ingest_batches, people, quarantine
from tests.conftest import _PG_REASON, PG_URL, ROOT

pytestmark = pytest.mark.slow

D = date(2026, 11, 26)
STEPS = "ingest,quality,load,score,queue,deliver"
#: Where to die: step boundaries (``<step>:start|end``) and points inside steps
#: (``quality:source`` after the first source is checked, ``load:leads`` between leads and touches,
#: ``deliver:published`` after the lists are in place and before any e-mail goes out).
_PG = pytest.mark.postgres
CASES = [       # every step on at least one backend; a handful per backend
    ("sqlite", "ingest:end"), ("sqlite", "quality:source"), ("sqlite", "load:leads"),
    ("sqlite", "score:end"),
    ("sqlite", "deliver:published"), ("sqlite", "deliver:end"),
    pytest.param("postgresql", "quality:source", marks=_PG),
    pytest.param("postgresql", "load:leads", marks=_PG),
    pytest.param("postgresql", "queue:end", marks=_PG),
    pytest.param("postgresql", "deliver:end", marks=_PG),
]
ID_COLUMNS = {"Handoff id", "Person id"}


class _Sink:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp():
    from aiosmtpd.controller import Controller
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = _Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    yield sink, port
    ctl.stop()


class World:
    """A fresh landing folder (same demo files every time) and an empty warehouse."""

    def __init__(self, root: Path, backend: str, port: int) -> None:
        from leadflow import demo
        self.root, self.schema = root, None
        root.mkdir(parents=True)
        if backend == "sqlite":
            self.url = f"sqlite:///{root / 'warehouse.db'}"
        else:
            self.schema = f"f_{uuid.uuid4().hex[:12]}"
            with sa.create_engine(PG_URL).begin() as c:
                c.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            self.url = f"{PG_URL}?options=-csearch_path%3D{self.schema}"
        doc = yaml.safe_load((ROOT / "leadflow.yaml").read_text())
        doc["paths"] = {"data_dir": str(root / "data"), "reports_dir": str(root / "reports"),
                        "lists_dir": str(root / "lists")}
        for s in doc["sources"]:
            if s["connector"].get("type") == "file":
                s["connector"]["path"] = str(root / "data" / Path(s["connector"]["path"]).relative_to("data"))
                s["connector"]["min_age_seconds"] = 0
        doc["model"]["artifacts_dir"] = str(root / "models")
        doc["delivery"] = {"email_enabled": True, "formats": ["csv"],
                           "smtp": {"host": "127.0.0.1", "port": port, "sender": "leadflow@corp.test"}}
        self.config = root / "leadflow.yaml"
        self.config.write_text(yaml.safe_dump(doc, sort_keys=False))
        demo.generate(root / "data", leads=120, seed=11, days=1, end_date=D)
        db.init(db.engine(self.url))

    def run(self, fault: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LEADFLOW_DATABASE_URL": self.url,
               "LEADFLOW_DATA_DOCS": "0"}
        env.pop("LEADFLOW_FAULT", None)
        if fault:
            env["LEADFLOW_FAULT"] = fault
        return subprocess.run([sys.executable, "-m", "leadflow", "run", "-c", str(self.config),
                               "--date", D.isoformat(), "--steps", STEPS], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)

    def close(self) -> None:
        db.engine(self.url).dispose()
        db._ENGINES.pop(self.url, None)
        if self.schema:
            with sa.create_engine(PG_URL).begin() as c:
                c.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))


def _csv_without_ids(text: str) -> list[tuple[str, ...]]:
    rows = list(csv.reader(io.StringIO(text)))
    keep = [i for i, h in enumerate(rows[0]) if h not in ID_COLUMNS] if rows else []
    return [tuple(r[i] for i in keep) for r in rows]


def _outcome(w: World, mails: list[Any]) -> dict[str, Any]:
    eng = db.engine(w.url)
    with eng.connect() as c:
        h = sorted(tuple(map(str, r)) for r in c.execute(
            sa.select(people.c.email_norm, handoffs.c.cycle, handoffs.c.owner_rep, handoffs.c.route_rule,
                      handoffs.c.qualified_by, handoffs.c.status)
            .join(people, people.c.person_id == handoffs.c.person_id)))
        states = {k: sorted(tuple(map(str, r)) for r in c.execute(
            sa.select(t.c.state, sa.func.count()).group_by(t.c.state))) for k, t in STAGING.items()}
        batches = sorted(tuple(map(str, r)) for r in c.execute(sa.select(
            ingest_batches.c.source, ingest_batches.c.uri, ingest_batches.c.rows_in,
            ingest_batches.c.rows_landed, ingest_batches.c.rows_rejected, ingest_batches.c.status)))
        q = sorted((r.kind, r.row_number, str(sorted(r.reasons))) for r in c.execute(
            sa.select(quarantine.c.kind, quarantine.c.row_number, quarantine.c.reasons)))
        n_people = c.execute(sa.select(sa.func.count()).select_from(people)).scalar()
    summary = _summary(eng)
    lists = {p.name: _csv_without_ids(p.read_text(encoding="utf-8"))
             for p in sorted((w.root / "lists" / D.isoformat()).glob("*.csv"))}
    sent = sorted((m["To"], m["Subject"],
                   tuple(sorted((a.get_filename(), tuple(_csv_without_ids(a.get_content())))
                                for a in m.iter_attachments() if a.get_filename().endswith(".csv"))))
                  for m in mails)
    return {"handoffs": h, "states": states, "batches": batches, "quarantine": q, "people": n_people,
            "summary": summary, "lists": lists, "emails": sent}


def _summary(eng: sa.Engine) -> dict[str, Any]:
    class _S:
        lists_dir = Path(".")
    s = run_summary(eng, _S(), D)
    s.pop("lists_dir")
    return s


_BASELINES: dict[str, dict[str, Any]] = {}


def _baseline(backend: str, smtp: tuple[_Sink, int], root: Path) -> dict[str, Any]:
    """The uninterrupted run's outcome, computed once per backend."""
    if backend not in _BASELINES:
        sink, port = smtp
        w = World(root, backend, port)
        try:
            sink.messages.clear()
            r = w.run()
            assert r.returncode == 0, r.stderr[-2000:]
            out = _outcome(w, list(sink.messages))
        finally:
            w.close()
        assert out["handoffs"] and out["emails"], "the demo should hand leads off and mail them"
        _BASELINES[backend] = out
    return _BASELINES[backend]


@pytest.mark.parametrize("backend,point", CASES)
def test_killed_run_then_rerun_equals_an_uninterrupted_run(backend, point, smtp, tmp_path) -> None:
    if backend == "postgresql" and _PG_REASON:
        pytest.skip(_PG_REASON)
    baseline = _baseline(backend, smtp, tmp_path / "baseline")
    sink, port = smtp
    w = World(tmp_path / "w", backend, port)
    try:
        sink.messages.clear()
        killed = w.run(fault=point)
        assert killed.returncode == -9, f"no kill at {point}: {killed.returncode} {killed.stderr[-1000:]}"
        runs, _ = status_rows(db.engine(w.url))
        assert runs[0]["status"] == "interrupted"        # the crash is visible, not "success"
        again = w.run()
        assert again.returncode == 0, again.stderr[-2000:]
        got = _outcome(w, list(sink.messages))
    finally:
        w.close()
    for key in baseline:
        assert got[key] == baseline[key], f"{key} differs after a kill at {point}"
