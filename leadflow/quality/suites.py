"""The expectation suites in ``expectations/<kind>.json``: the reviewable source of truth.

Each file is a Great Expectations 1.x ``ExpectationSuite`` in its JSON form; any expectation
type GX knows (or leadflow registers, ``leadflow.quality.custom``) can be used. Every
expectation is built by GX when the suite is read: an unknown type or invalid arguments is a
one-line ``ConfigError`` naming the file, the expectation and GX's reason. Optional ``meta``:

- per expectation ``meta.name`` (the reason stored on a quarantined row; default: the GX
  expectation type), ``meta.level`` (``row``: failing rows are quarantined; ``dataset``: a
  check on the whole source batch that yields a warning; default from GX's class: map
  expectations are ``row``, the rest ``dataset``) and ``meta.why`` (one line for people);
- per suite ``meta.leadflow.parameters`` (defaults for ``$PARAMETER`` values, e.g. ``min_time``)
  and ``meta.leadflow.fields`` (column types for kinds that are not in ``leadflow.canonical``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from leadflow.canonical import FIELDS
from leadflow.errors import ConfigError

_ALL_FIELDS = {f for fields in FIELDS.values() for f in fields}

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
    scope: str = "chunk"        # "chunk" | "source" (row checks) | "dataset"
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    @property
    def columns(self) -> list[str]:
        """Columns the check reads (its column(s) and its row condition's column)."""
        kw = self.kwargs
        cols = list(kw.get("column_list") or ([self.column] if self.column else []))
        cols += [kw[k] for k in ("column_A", "column_B") if isinstance(kw.get(k), str)]
        rc = kw.get("row_condition")
        if isinstance(rc, dict):
            cols += condition_columns(rc)
        elif isinstance(rc, str):           # a GX/pandas condition string: the names it mentions
            cols += [f for f in sorted(_ALL_FIELDS) if re.search(rf"\b{re.escape(f)}\b", rc)]
        return list(dict.fromkeys(cols))


def condition_columns(rc: dict[str, Any]) -> list[str]:
    """The columns a GX row condition reads (``and`` / ``or`` conditions: all of theirs)."""
    if "column" in rc:
        return [rc["column"]["name"]]
    return [c for sub in rc.get("conditions", []) for c in condition_columns(sub)]


@dataclass(frozen=True)
class Suite:
    kind: str
    checks: tuple[Check, ...]
    parameters: dict[str, Any]
    fields: dict[str, str]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    path: str = ""

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
    if not isinstance(raw, dict) or not isinstance(raw.get("expectations", []), list):
        raise ConfigError(f"{p}: not an expectation suite (an object with an 'expectations' list)")
    from leadflow.quality import engine
    checks: list[Check] = []
    for i, x in enumerate(raw.get("expectations", [])):
        m = dict((x.get("meta") if isinstance(x, dict) else None) or {})
        label = f"expectation #{i + 1} ({m.get('name') or (x.get('type') if isinstance(x, dict) else x)})"
        try:
            if not isinstance(x, dict):
                raise ValueError("not an object")
            gk = engine.inspect(x)
        except ValueError as e:
            raise ConfigError(f"{p}: {label}: {e}") from None
        level = m.get("level") or gk.level
        if level not in ("row", "dataset"):
            raise ConfigError(f"{p}: {label}: meta.level must be 'row' or 'dataset', not {level!r}")
        if level == "row" and gk.level != "row":
            raise ConfigError(f"{p}: {label}: {x['type']} checks the whole batch, it cannot "
                              "quarantine rows (use meta.level 'dataset')")
        kwargs = dict(x.get("kwargs") or {})
        name = m.get("name") or _default_name(x["type"], kwargs, {c.name for c in checks})
        m["name"] = name
        checks.append(Check(name, x["type"], kwargs, level, m.get("why", ""),
                            gk.scope if level == "row" else "dataset",
                            {"type": x["type"], "kwargs": kwargs, "meta": m}))
    names = [c.name for c in checks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{p}: duplicate expectation name(s): {', '.join(dupes)}")
    fields = dict(meta.get("fields") or FIELDS.get(kind, {}))
    params = {k: _param_value(k, v) for k, v in (meta.get("parameters") or {}).items()}
    return Suite(kind, tuple(checks), params, fields, raw, str(p))


def _default_name(typ: str, kwargs: dict[str, Any], taken: set[str]) -> str:
    """An unnamed expectation's reason: GX's type name (with its column if the type repeats)."""
    if typ not in taken:
        return typ
    col = kwargs.get("column") or "+".join(kwargs.get("column_list") or []) or "table"
    name, n = f"{typ}[{col}]", 2
    while name in taken:
        name, n = f"{typ}[{col}]#{n}", n + 1
    return name


def read_columns_of(kind: str) -> tuple[dict[str, str], set[str]] | None:
    """The suite's field types and the columns its expectations name, from its JSON alone
    (no GX): the quality step starts reading rows while GX imports. None if the file cannot
    be read that way (``load_suite`` then says why)."""
    try:
        raw = json.loads((expectations_dir() / f"{kind}.json").read_text(encoding="utf-8"))
        meta = (raw.get("meta") or {}).get("leadflow") or {}
        named = {c for x in raw["expectations"]
                 for c in Check("", str(x.get("type")), dict(x.get("kwargs") or {})).columns}
        return dict(meta.get("fields") or FIELDS.get(kind, {})), named
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


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
    from leadflow.quality.engine import gx
    exps = [c.raw for c in (checks if checks is not None else suite.checks)]
    return gx().ExpectationSuite(name=name or suite.kind, expectations=exps,
                               meta={"leadflow": suite.raw.get("meta", {}).get("leadflow", {})})
