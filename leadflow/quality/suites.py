"""The expectation suites in ``expectations/<kind>.json``: the reviewable source of truth.

Each file is a Great Expectations 1.x ``ExpectationSuite`` in its JSON form. leadflow adds two
things in ``meta`` that GX ignores:

- per expectation ``meta.name`` (the reason stored on a quarantined row), ``meta.level``
  (``row``: failing rows are quarantined; ``dataset``: a check on the whole source batch that
  yields a warning) and ``meta.why`` (one line for people working the quarantine);
- per suite ``meta.leadflow.parameters`` (defaults for ``$PARAMETER`` values, e.g. ``min_time``)
  and ``meta.leadflow.fields`` (column types for kinds that are not in ``leadflow.canonical``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from leadflow.canonical import FIELDS
from leadflow.errors import ConfigError

#: Kinds with a suite: the four inbound kinds and the outgoing sales list.
SUITE_KINDS = ("inbound_leads", "touches", "campaign_spend", "crm_outcomes", "handoff_list")


def expectations_dir() -> Path:
    """``$LEADFLOW_EXPECTATIONS_DIR`` or ``expectations/`` beside the package."""
    env = os.environ.get("LEADFLOW_EXPECTATIONS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "expectations"


@dataclass(frozen=True)
class Check:
    """One expectation of a suite, as leadflow evaluates it."""

    name: str
    type: str
    kwargs: dict[str, Any]
    level: str = "row"
    why: str = ""

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    @property
    def columns(self) -> list[str]:
        """Columns the check reads (its column(s) and its row condition's column)."""
        cols = list(self.kwargs.get("column_list") or ([self.column] if self.column else []))
        rc = self.kwargs.get("row_condition")
        if isinstance(rc, dict) and "column" in rc:
            cols.append(rc["column"]["name"])
        return cols


@dataclass(frozen=True)
class Suite:
    kind: str
    checks: tuple[Check, ...]
    parameters: dict[str, Any]
    fields: dict[str, str]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def row_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.level == "row")

    @property
    def dataset_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.level == "dataset")

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)


def _param_value(key: str, v: Any) -> Any:
    if key.endswith("_time") and isinstance(v, str):
        return datetime.fromisoformat(v)
    return v


@lru_cache(maxsize=32)
def _load(path: str, mtime: float) -> Suite:
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{p}: cannot read expectation suite: {e}") from None
    meta = (raw.get("meta") or {}).get("leadflow") or {}
    kind = meta.get("kind") or raw.get("name")
    checks = []
    for i, x in enumerate(raw.get("expectations", [])):
        m = x.get("meta") or {}
        if not m.get("name"):
            raise ConfigError(f"{p}: expectation #{i + 1} ({x.get('type')}) has no meta.name")
        checks.append(Check(m["name"], x["type"], dict(x.get("kwargs") or {}),
                            m.get("level", "row"), m.get("why", "")))
    names = [c.name for c in checks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{p}: duplicate expectation name(s): {', '.join(dupes)}")
    fields = dict(meta.get("fields") or FIELDS.get(kind, {}))
    params = {k: _param_value(k, v) for k, v in (meta.get("parameters") or {}).items()}
    return Suite(kind, tuple(checks), params, fields, raw)


def load_suite(kind: str) -> Suite:
    """The suite for a kind, cached until its file changes."""
    if kind not in SUITE_KINDS:
        raise ConfigError(f"no expectation suite for kind {kind!r} (known: {', '.join(SUITE_KINDS)})")
    p = expectations_dir() / f"{kind}.json"
    if not p.is_file():
        raise ConfigError(f"{p}: expectation suite missing")
    return _load(str(p), p.stat().st_mtime)


def gx_suite(suite: Suite, checks: tuple[Check, ...] | None = None, name: str | None = None) -> Any:
    """The suite (or a subset of its checks) as a Great Expectations ``ExpectationSuite``."""
    import great_expectations as gx
    keep = {c.name for c in (checks if checks is not None else suite.checks)}
    exps = [x for x in suite.raw["expectations"] if x["meta"]["name"] in keep]
    return gx.ExpectationSuite(name=name or suite.kind, expectations=exps,
                               meta={"leadflow": suite.raw.get("meta", {}).get("leadflow", {})})
