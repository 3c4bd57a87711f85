"""Great Expectations itself: an ephemeral context, pandas batches and the run's Data Docs.

GX validates (a) the dataset-level checks on each source's full frame (cheap: row counts and
null shares) and (b) the row-level checks on a *docs sample* — every failing row up to a cap
plus a seeded random sample of passing rows — so the Data Docs show each failing expectation
without GX collecting failing indexes over millions of rows. The row-level split itself comes
from ``leadflow.quality.translate`` (tested to agree with GX).

Results are rendered with ``partial_unexpected_count = 0``: Data Docs show counts, never values
(no PII in reports).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pandas as pd

from leadflow.quality.suites import Check, Suite, gx_suite

log = logging.getLogger("leadflow.quality")

RESULT_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
SITE = "leadflow"


def _label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:100]


def _set_params(checks: tuple[Check, ...], df: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters for GX; big value sets are cut to the values present in ``df`` (same result)."""
    out = dict(params)
    for c in checks:
        vs = c.kwargs.get("value_set")
        if isinstance(vs, dict) and "$PARAMETER" in vs and out.get(vs["$PARAMETER"]) is not None:
            present = set(df[c.column].dropna().tolist()) if c.column in df.columns else set()
            out[vs["$PARAMETER"]] = sorted(present & set(params[vs["$PARAMETER"]]), key=str)
    return {k: v for k, v in out.items() if v is not None}


class GxRun:
    """One GX ephemeral context per quality run; call ``validate`` per frame, then ``finish``."""

    def __init__(self, docs_dir: Path | None = None) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.datasource = self.context.data_sources.add_pandas("leadflow")
        self.docs_dir = docs_dir
        if docs_dir is not None:
            docs_dir.mkdir(parents=True, exist_ok=True)
            self.context.add_data_docs_site(site_name=SITE, site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                  "base_directory": str(docs_dir)},
            })
        self._n = 0

    def validate(self, suite: Suite, checks: tuple[Check, ...], df: pd.DataFrame,
                 params: dict[str, Any], label: str, run_name: str | None = None
                 ) -> dict[str, dict[str, Any]]:
        """Validate ``df`` with GX; returns expectation name -> success / unexpected_count."""
        if not checks:
            return {}
        self._n += 1
        name = _label(f"{label}.{self._n}")
        # GX computes table metrics over every column: hand it only the columns checked.
        cols = list(dict.fromkeys(c for ch in checks for c in ch.columns if c in df.columns))
        df = df[cols] if cols else df.iloc[:, :1]
        asset = self.datasource.add_dataframe_asset(name)
        bd = asset.add_batch_definition_whole_dataframe(name)
        suite_obj = self.context.suites.add(gx_suite(suite, checks, name=_label(label)))
        gx_params = _set_params(checks, df, params)
        vd = self.context.validation_definitions.add(
            self.gx.ValidationDefinition(name=name, data=bd, suite=suite_obj))
        cp = self.context.checkpoints.add(self.gx.Checkpoint(
            name=name, validation_definitions=[vd], actions=[], result_format=RESULT_FORMAT))
        from great_expectations.core.run_identifier import RunIdentifier
        res = cp.run(batch_parameters={"dataframe": df}, expectation_parameters=gx_params,
                     run_id=RunIdentifier(run_name=_label(run_name or "leadflow")))
        out: dict[str, dict[str, Any]] = {}
        for vr in res.run_results.values():
            for r in vr.results:
                if r.expectation_config is None:      # GX always sets it for suite runs
                    continue
                nm = str(r.expectation_config.meta.get("name"))
                if r.exception_info and r.exception_info.get("raised_exception"):
                    out[nm] = {"success": False, "error": str(r.exception_info.get("exception_message"))[:200]}
                    continue
                out[nm] = {"success": bool(r.success),
                           "unexpected_count": r.result.get("unexpected_count"),
                           "observed": r.result.get("observed_value"),
                           "element_count": r.result.get("element_count")}
        return out

    def build_docs(self) -> Path | None:
        """Render every result of this run into the Data Docs site (once, at the end)."""
        if self.docs_dir is None or not self._n:
            return None
        self.context.build_data_docs(site_names=[SITE])
        return self.index()

    def index(self) -> Path | None:
        return (self.docs_dir / "index.html") if self.docs_dir is not None else None


def docs_sample(df: pd.DataFrame, failed: Any, max_failed: int = 2000, max_rows: int = 10000,
                seed: int = 0) -> pd.DataFrame:
    """Every failing row up to ``max_failed`` plus random passing rows up to ``max_rows`` in all."""
    import numpy as np
    rng = np.random.default_rng(seed)
    fail_idx = np.flatnonzero(failed)
    pass_idx = np.flatnonzero(~np.asarray(failed, dtype=bool))
    if len(fail_idx) > max_failed:
        fail_idx = np.sort(rng.choice(fail_idx, max_failed, replace=False))
    room = max(0, max_rows - len(fail_idx))
    if len(pass_idx) > room:
        pass_idx = np.sort(rng.choice(pass_idx, room, replace=False))
    take = np.sort(np.concatenate([fail_idx, pass_idx]))
    return df.iloc[take].reset_index(drop=True)
