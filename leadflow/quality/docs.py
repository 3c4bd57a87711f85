"""Data Docs from the quality step's real GX results, built by a task of their own.

The quality step keeps GX's suite results for every chunk and source it validated (counts
only: row values and keys are removed, ``engine.docs_result``) in
``reports/data_docs/results/<run>.json``; ``build`` renders them into the GX Data Docs site
``reports/data_docs/index.html``. Rendering takes seconds of pure Python, so the daily DAG
runs it beside the handoff (``data_docs`` task), never before it. Both live on the shared
storage (``storage.url``): the results are written by the quality task and read by the
data_docs task, which may run on another worker; GX renders into a private temporary folder
that is then copied there.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from leadflow.errors import LeadflowError
from leadflow.store import shared

SITE = "leadflow"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:120]


def results_dir(reports_dir: Path) -> Path:
    return reports_dir / "data_docs" / "results"


def save_results(reports_dir: Path, run_id: str, results: list[dict[str, Any]]) -> Path:
    """Write this run's GX results (replacing an earlier attempt of the same run)."""
    path = results_dir(reports_dir) / f"{_safe(run_id)}.json"
    doc = json.dumps({"run_id": run_id, "results": results}, default=str)
    return shared.put(path, doc.encode("utf-8"))


def has_results(reports_dir: Path, run_id: str) -> bool:
    return shared.exists(results_dir(reports_dir) / f"{_safe(run_id)}.json")


def build(reports_dir: Path, run_id: str | None = None) -> Path:
    """Render the stored results (one run, or every run kept) into the Data Docs site."""
    from leadflow.quality.engine import LOCK
    with LOCK:                       # GX is not thread-safe
        return _build(reports_dir, run_id)


def _build(reports_dir: Path, run_id: str | None) -> Path:
    files = sorted(results_dir(reports_dir).glob("*.json"))
    if run_id is not None:
        files = [f for f in files if f.stem == _safe(run_id)]
    if not files:
        raise LeadflowError(f"no GX results in {results_dir(reports_dir)}"
                            + (f" for run {run_id}" if run_id else "") + ": run the quality step first")
    out = reports_dir / "data_docs"
    with tempfile.TemporaryDirectory(prefix="leadflow-docs-") as tmp:
        _render(files, Path(tmp))
        shared.put_tree(out, Path(tmp))
    return out / "index.html"


def _render(files: list[Path], site: Path) -> None:
    """Render the results of ``files`` into a GX Data Docs site in local folder ``site``."""
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from leadflow.quality.engine import gx
    ctx = gx().get_context(mode="ephemeral")       # its own: the site points at this folder
    ctx.add_data_docs_site(site_name=SITE, site_config={
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
    })
    schema = ExpectationSuiteValidationResultSchema()
    keys = []
    for f in files:
        doc = json.loads(f.read_text(encoding="utf-8"))
        for item in doc.get("results", []):
            if not item.get("result"):
                continue
            res = schema.load(item["result"])
            label = _safe(item["label"])
            res.suite_name = label
            key = ValidationResultIdentifier(ExpectationSuiteIdentifier(name=label),
                                             RunIdentifier(run_name=_safe(doc["run_id"])), label)
            ctx.validation_results_store.set(key, res)
            keys.append(key)
    ctx.build_data_docs(site_names=[SITE], resource_identifiers=keys)
