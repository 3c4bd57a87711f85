"""Great Expectations beside the split: a worker process that validates and renders Data Docs.

Importing GX and running its checkpoints costs seconds of pure Python whatever the data size;
the row-level split does not need it (``leadflow.quality.translate``). So the quality step starts
this worker first (it imports GX and opens one ephemeral context while the step reads and
splits the rows on the other core), hands it small frames as each source is done — the
dataset-level checks' frame and the Data Docs sample — and at the end collects GX's results and
the Data Docs index. One context, one Data Docs build per run. Small runs (under
``WORKER_ROWS`` landed rows) use ``GxInline`` instead: there the split is shorter than starting
a second interpreter.

Protocol: the parent writes pickled jobs to the worker's stdin (``None`` ends the run); the
worker answers once on stdout with ``{"results", "index", "errors"}``. Everything else the
worker prints goes to stderr. If the worker cannot start, ``GxInline`` does the same in process.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

#: Seconds to wait for GX at the end of the step before giving up on the Data Docs.
FINISH_TIMEOUT = 900.0


def make_job(kind: str, label: str, checks: list[str], frame: pd.DataFrame,
             params: dict[str, Any], run_name: str) -> dict[str, Any]:
    """One GX validation: the named checks of ``kind``'s suite on ``frame``."""
    from leadflow.quality.gxrun import _set_params
    from leadflow.quality.suites import load_suite
    suite = load_suite(kind)
    chosen = tuple(c for c in suite.checks if c.name in set(checks))
    cols = list(dict.fromkeys(c for ch in chosen for c in ch.columns if c in frame.columns))
    frame = frame[cols] if cols else frame.iloc[:, :1]
    # Big value sets (keys already loaded, known campaigns) shrink to the values present.
    return {"kind": kind, "label": label, "checks": list(checks), "frame": frame,
            "params": _set_params(chosen, frame, params), "run_name": run_name}


def _run_job(gxr: Any, job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    from leadflow.quality.suites import load_suite
    suite = load_suite(job["kind"])
    keep = set(job["checks"])
    checks = tuple(c for c in suite.checks if c.name in keep)
    return gxr.validate(suite, checks, job["frame"], job["params"], job["label"], job["run_name"])


class GxInline:
    """GX in this process, imported at the first job (small runs, and the fallback)."""

    def __init__(self, docs_dir: Path | None) -> None:
        self.docs_dir = docs_dir
        self._gxr: Any = None
        self.timings: dict[str, float] = {"gx_import": 0.0, "gx_validate": 0.0}
        self.results: dict[str, Any] = {}
        self.errors: list[str] = []

    @property
    def gxr(self) -> Any:
        if self._gxr is None:
            t = time.perf_counter()
            from leadflow.quality.gxrun import GxRun
            self._gxr = GxRun(self.docs_dir)
            self.timings["gx_import"] = time.perf_counter() - t
        return self._gxr

    def submit(self, job: dict[str, Any]) -> None:
        gxr = self.gxr
        t = time.perf_counter()
        try:
            self.results[job["label"]] = _run_job(gxr, job)
        except Exception as e:  # noqa: BLE001 - a report; the split already happened
            self.errors.append(f"{job['label']}: {type(e).__name__}")
        self.timings["gx_validate"] += time.perf_counter() - t

    def finish(self, timeout: float = FINISH_TIMEOUT) -> dict[str, Any]:
        index = None
        t = time.perf_counter()
        try:
            idx = self._gxr.build_docs() if self._gxr is not None else None
            index = str(idx) if idx is not None else None
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"data docs: {type(e).__name__}")
        self.timings["gx_docs"] = time.perf_counter() - t
        return {"results": self.results, "index": index, "errors": self.errors,
                "timings": {k: round(v, 2) for k, v in self.timings.items()}}

    def close(self) -> None:
        pass


class GxWorker:
    """GX in a child process; ``submit`` jobs as sources finish, ``finish`` once at the end."""

    def __init__(self, docs_dir: Path | None) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [root] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}
        args = [sys.executable, "-m", "leadflow.quality.gxworker"] + ([str(docs_dir)] if docs_dir else [])
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._sent = 0

    def submit(self, job: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            pickle.dump(job, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
            self._sent += 1
        except (BrokenPipeError, OSError):
            pass  # the worker died; finish() reports it

    def finish(self, timeout: float = FINISH_TIMEOUT) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            pickle.dump(None, self.proc.stdin)
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        box: dict[str, Any] = {}

        def read() -> None:
            try:
                box["out"] = pickle.load(self.proc.stdout)  # type: ignore[arg-type]
            except Exception as e:  # noqa: BLE001 - EOF: the worker died
                box["error"] = type(e).__name__
        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            self.close()
            return {"results": {}, "index": None, "errors": [f"GX worker gave no answer in {timeout:.0f} s"]}
        self.proc.wait()
        if "out" not in box:
            return {"results": {}, "index": None,
                    "errors": [f"GX worker exited with code {self.proc.returncode} ({box.get('error')})"]}
        return box["out"]

    def close(self) -> None:
        """Stop the worker if it is still running (e.g. the step failed before ``finish``)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


#: From this many landed rows on, GX runs in a worker process beside the split. Below it the
#: split takes less time than starting a second interpreter, so GX runs in process.
WORKER_ROWS = 100_000


def start(docs_dir: Path | None, rows: int = WORKER_ROWS) -> GxWorker | GxInline:
    """A worker process for big runs; in process for small ones, when a child cannot be started,
    or with LEADFLOW_GX_INPROCESS=1."""
    if rows >= WORKER_ROWS and os.environ.get("LEADFLOW_GX_INPROCESS") != "1":
        try:
            return GxWorker(docs_dir)
        except OSError:
            pass
    return GxInline(docs_dir)


def main(argv: list[str]) -> None:
    """The worker: read jobs while GX imports, validate them, build the Data Docs, answer."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr          # GX and anything else print to stderr, never into the answer
    jobs: queue.Queue[Any] = queue.Queue()

    def reader() -> None:            # drain stdin from the start: the parent never blocks on us
        while True:
            try:
                job = pickle.load(sys.stdin.buffer)
            except Exception:  # noqa: BLE001 - EOF or a broken pipe: the parent is gone
                job = None
            jobs.put(job)
            if job is None:
                return
    threading.Thread(target=reader, daemon=True).start()
    errors: list[str] = []
    results: dict[str, Any] = {}
    timings: dict[str, Any] = {}
    index = None
    try:
        inline = GxInline(Path(argv[0]) if argv else None)
        _ = inline.gxr                   # import GX now, while the parent reads and splits
        while (job := jobs.get()) is not None:
            inline.submit(job)
        res = inline.finish()
        results, index, errors, timings = res["results"], res["index"], res["errors"], res["timings"]
    except Exception as e:  # noqa: BLE001 - report, do not crash silently
        errors.append(f"GX worker: {type(e).__name__}: {str(e)[:200]}")
    pickle.dump({"results": results, "index": index, "errors": errors, "timings": timings}, out)
    out.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
