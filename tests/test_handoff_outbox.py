"""Lead-list delivery is exactly once: an email outbox keyed by (rep, date, list content) and
lists published by atomic folder swaps (re-runs, concurrent runs, full disks and kills)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.context import RunContext
from leadflow.handoff import deliver, queue
from leadflow.handoff import synthetic as syn
from leadflow.store.schema import people
from tests.test_handoff_delivery import D, _config, _free_port, _seed, _Sink

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def smtp():
    """A local SMTP server collecting every message it accepts."""
    from aiosmtpd.controller import Controller
    sink, port = _Sink(), _free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    sink.port = port
    yield sink
    ctl.stop()


def _mail_config(tmp_path: Path, sink: _Sink) -> dict[str, Any]:
    return _config(tmp_path, email_enabled=True,
                   smtp={"host": "127.0.0.1", "port": sink.port, "sender": "leadflow@corp.test"})


def _to(sink: _Sink, rcpt: str) -> list[Any]:
    return [m for m in sink.messages if m["To"] == rcpt]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _leftovers(lists_dir: Path) -> list[str]:
    """Temporary or aside folders next to the day folders (there must be none after a run)."""
    return sorted(p.name for p in lists_dir.iterdir() if p.name.startswith(".") and p.is_dir())


def _late_handoff(engine: sa.Engine, ctx: RunContext) -> str:
    """A ninth person qualifies later the same day and is queued; returns the rep who gets them."""
    with engine.begin() as c:
        syn.add_people(c, pd.DataFrame({"person_id": [9], "first_name": ["First9"], "last_name": ["Last9"],
                                        "job_title": "VP Sales", "company": ["Co9"], "company_size": 120,
                                        "country": "DE", "first_campaign_id": "cmp1",
                                        "first_channel": "webinar"}))
        syn.add_scores(c, pd.DataFrame({"person_id": [9], "score": [90.0], "grade": "A",
                                        "reasons": [["Works at a 100-500 company"]]}), D)
    queue(ctx)
    with engine.connect() as c:
        return c.execute(sa.text("SELECT owner_rep FROM handoffs WHERE person_id = 9")).scalar_one()


def test_rerun_sends_no_new_email(engine, make_ctx, tmp_path, smtp) -> None:
    _seed(engine)
    ctx = make_ctx(_mail_config(tmp_path, smtp), engine, D)
    queue(ctx)
    assert deliver(ctx)["emailed"] == 2
    again = deliver(ctx)
    retry = deliver(make_ctx(_mail_config(tmp_path, smtp), engine, D, job="retry"))  # another run id
    assert again["emailed"] == 0 and retry["emailed"] == 0
    assert again["email_unchanged"] == 2
    assert sorted(m["To"] for m in smtp.messages) == ["ann@sales.test", "bob@sales.test"]
    with engine.connect() as c:   # the content hash ignores run ids and file times
        rows = c.execute(sa.text("SELECT rep, status FROM email_outbox ORDER BY rep")).all()
    assert [tuple(r) for r in rows] == [("ann", "sent"), ("bob", "sent")]


def test_a_changed_list_is_sent_once_as_an_update(engine, make_ctx, tmp_path, smtp) -> None:
    _seed(engine)
    ctx = make_ctx(_mail_config(tmp_path, smtp), engine, D)
    queue(ctx)
    deliver(ctx)
    rep = _late_handoff(engine, ctx)
    other = "bob" if rep == "ann" else "ann"
    out = deliver(ctx)
    assert out["emailed"] == 1 and out["email_updates"] == 1
    deliver(ctx)
    mine = _to(smtp, f"{rep}@sales.test")
    assert len(mine) == 2 and len(_to(smtp, f"{other}@sales.test")) == 1
    update = mine[1]
    assert update["Subject"].startswith("Updated lead list 2026-11-26")
    assert "First9" in update.get_body(("html",)).get_content()
    csv_part = next(a for a in update.iter_attachments() if a.get_filename().endswith(".csv"))
    assert "First9" in csv_part.get_content()
    assert "First9" in (tmp_path / "lists" / D.isoformat() / f"{rep}.csv").read_text(encoding="utf-8")


def test_unsent_email_is_retried_by_the_next_run(engine, make_ctx, tmp_path, smtp) -> None:
    from leadflow.handoff.mail import DeliveryError
    _seed(engine)
    down = _config(tmp_path, email_enabled=True, smtp={"host": "127.0.0.1", "port": _free_port(),
                                                       "timeout_seconds": 5})
    ctx = make_ctx(down, engine, D)
    queue(ctx)
    with pytest.raises(DeliveryError):
        deliver(ctx)
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT status, attempts, error FROM email_outbox")).all()
    assert [(r[0], r[1]) for r in rows] == [("failed", 1), ("failed", 1)]
    assert all("ConnectionRefusedError" in r[2] and "sales.test" not in r[2] for r in rows)
    out = deliver(make_ctx(_mail_config(tmp_path, smtp), engine, D))   # the server is back
    assert out["emailed"] == 2 and out["email_updates"] == 0 and len(smtp.messages) == 2


def _fresh_engine(engine: sa.Engine) -> sa.Engine:
    url = engine.url.render_as_string(hide_password=False)
    if url.startswith("sqlite"):
        return sa.create_engine(url, connect_args={"timeout": 60})
    return sa.create_engine(url)


def test_concurrent_delivers_send_each_list_once(engine, make_ctx, tmp_path, smtp) -> None:
    _seed(engine)
    doc = _mail_config(tmp_path, smtp)
    ctx = make_ctx(doc, engine, D)
    queue(ctx)
    day = tmp_path / "lists" / D.isoformat()
    engines = [_fresh_engine(engine), _fresh_engine(engine)]
    try:
        for trial in range(10):
            with engine.begin() as c:          # a clean outbox: every trial races for the first send
                c.execute(sa.text("DELETE FROM email_outbox"))
            before = len(smtp.messages)
            barrier, errors, results = threading.Barrier(2), [], []

            def run(i: int, trial: int = trial, barrier: threading.Barrier = barrier,
                    errors: list[str] = errors, results: list[dict[str, Any]] = results) -> None:
                c = RunContext(ctx.settings, engines[i], D, f"race:{trial}:{i}", "race")
                try:
                    barrier.wait()
                    results.append(deliver(c))
                except Exception as e:  # noqa: BLE001 - collected and asserted below
                    errors.append(repr(e))

            threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == [], f"trial {trial}: {errors}"
            new = smtp.messages[before:]
            assert sorted(m["To"] for m in new) == ["ann@sales.test", "bob@sales.test"], f"trial {trial}"
            assert sum(r["emailed"] for r in results) == 2
            assert sorted(p.name for p in day.iterdir()) == sorted(
                f"{r}.{x}" for r in ("ann", "bob") for x in ("csv", "html", "xlsx"))
            assert _leftovers(tmp_path / "lists") == []
    finally:
        for e in engines:
            e.dispose()


def _fail_on_nth_write(monkeypatch: pytest.MonkeyPatch, n: int) -> list[Path]:
    """The disk fills up during the n-th file: half of it is written, then ENOSPC."""
    from leadflow.store import files
    real, calls = files.write_file, []

    def full_disk(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == n:
            with open(path, "wb") as fh:
                fh.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(files, "write_file", full_disk)
    return calls


def test_full_disk_leaves_nothing_partial_and_sends_nothing(engine, make_ctx, tmp_path, smtp,
                                                             monkeypatch) -> None:
    from leadflow.errors import LeadflowError
    _seed(engine)
    ctx = make_ctx(_mail_config(tmp_path, smtp), engine, D)
    queue(ctx)
    lists_dir, day = tmp_path / "lists", tmp_path / "lists" / D.isoformat()
    # First delivery of the day on a full disk: no folder at all, no email.
    calls = _fail_on_nth_write(monkeypatch, 2)
    with pytest.raises(LeadflowError) as e:
        deliver(ctx)
    assert len(calls) == 2
    msg = str(e.value)
    assert "\n" not in msg and str(day) in msg and "No space left on device" in msg
    assert "sales.test" not in msg and "First" not in msg
    assert not day.exists() and _leftovers(lists_dir) == []
    assert smtp.messages == []
    monkeypatch.undo()
    deliver(ctx)
    good = _snapshot(day)
    assert len(smtp.messages) == 2
    # A changed list on a full disk: the previous version stays whole, no update goes out.
    _late_handoff(engine, ctx)
    _fail_on_nth_write(monkeypatch, 4)
    with pytest.raises(LeadflowError):
        deliver(ctx)
    assert _snapshot(day) == good and all(good.values())
    assert _leftovers(lists_dir) == [] and len(smtp.messages) == 2
    monkeypatch.undo()
    out = deliver(ctx)    # space again: the update goes out once
    assert out["emailed"] == 1 and len(smtp.messages) == 3
    assert _snapshot(day) != good


_KILL_AT_SWAP = """
import os, signal, sys
from datetime import date
from leadflow import config as cfg
from leadflow.context import RunContext
from leadflow.handoff import deliver
from leadflow.store import db, files

def killed(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)

files.swap_into_place = killed
settings = cfg.load(sys.argv[1])
ctx = RunContext(settings, db.engine(settings.database_url), date.fromisoformat(sys.argv[2]), "kill", "kill")
deliver(ctx)
"""


def test_kill_between_write_and_rename_keeps_the_previous_version(engine, make_ctx, tmp_path,
                                                                   smtp) -> None:
    _seed(engine)
    doc = _mail_config(tmp_path, smtp)
    ctx = make_ctx(doc, engine, D)
    queue(ctx)
    deliver(ctx)
    day = tmp_path / "lists" / D.isoformat()
    good = _snapshot(day)
    with engine.begin() as c:             # bob's (or ann's) list loses a lead
        c.execute(sa.update(people).where(people.c.person_id == 2).values(opt_out=True))
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "LEADFLOW_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    proc = subprocess.run([sys.executable, "-c", _KILL_AT_SWAP, str(tmp_path / "leadflow.yaml"),
                           D.isoformat()], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert _snapshot(day) == good            # the previous complete version, untouched
    assert len(smtp.messages) == 2           # nothing emailed for the unpublished list
    out = deliver(ctx)                       # the next run cleans up and publishes the new version
    assert _leftovers(tmp_path / "lists") == []
    assert out["emailed"] == 1 and len(smtp.messages) == 3
    assert "First2" not in "".join(p.read_text(encoding="utf-8") for p in day.glob("*.csv"))


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "aside"])
def test_publish_replaces_the_folder_as_a_whole(tmp_path, monkeypatch, exchange) -> None:
    from leadflow.store import files
    if not exchange:
        monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    target = tmp_path / "lists" / "2026-11-26"
    files.publish_dir(target, {"ann.csv": b"a1", "bob.csv": b"b1"})
    assert _snapshot(target) == {"ann.csv": b"a1", "bob.csv": b"b1"}
    files.publish_dir(target, {"ann.csv": b"a2"})          # bob has no list any more
    assert _snapshot(target) == {"ann.csv": b"a2"}
    files.publish_dir(target, {})
    assert _snapshot(target) == {}
    assert _leftovers(tmp_path / "lists") == []


def test_a_swap_killed_half_way_is_repaired_under_the_lock(tmp_path, monkeypatch) -> None:
    """Rename-aside fallback killed between its two renames: the day folder is missing and the
    previous version sits aside. The next publish puts it back first, so even a publish that then
    fails on a full disk leaves the previous version in place."""
    from leadflow.store import files
    target = tmp_path / "lists" / "2026-11-26"
    files.publish_dir(target, {"ann.csv": b"a1"})
    target.rename(target.parent / ".2026-11-26.old-deadbeef0000")
    (target.parent / ".2026-11-26.tmp-deadbeef0001").mkdir()        # the dead run's new version

    def full_disk(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(files, "write_file", full_disk)
    with pytest.raises(OSError):
        files.publish_dir(target, {"ann.csv": b"a2"})
    assert _snapshot(target) == {"ann.csv": b"a1"}
    assert _leftovers(tmp_path / "lists") == []
