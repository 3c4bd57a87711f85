"""Where the Airflow processes find leadflow.yaml.

Airflow runs tasks, callbacks and the DAG processor from working directories we do not control,
so the config is found the same way everywhere: ``$LEADFLOW_CONFIG``, else ``./leadflow.yaml``,
else the ``leadflow.yaml`` beside the project's ``dags/`` folder (the repository root).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def config_path() -> Path:
    env = os.environ.get("LEADFLOW_CONFIG")
    if env:
        return Path(env).resolve()
    here = Path.cwd() / "leadflow.yaml"
    if here.is_file():
        return here.resolve()
    return PROJECT_ROOT / "leadflow.yaml"


def _registry(path: Path | None = None) -> dict[str, Any]:
    """leadflow.yaml as plain YAML (cheap, for DAG parse time); ``{}`` when it cannot be read."""
    import yaml

    try:
        doc = yaml.safe_load((path or config_path()).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def enabled_sources(kinds: tuple[str, ...] | None = None, path: Path | None = None
                    ) -> list[dict[str, Any]]:
    """Enabled source entries of the registry as plain dicts, read with YAML only (cheap, for
    DAG parse time).

    Full validation happens when a task loads the config; a broken file here yields no sources
    rather than a DAG import error, so the DAGs stay visible and the task reports the problem.
    """
    return [s for s in _registry(path).get("sources") or []
            if isinstance(s, dict) and isinstance(s.get("name"), str)
            and s.get("enabled", True) is not False and (kinds is None or s.get("kind") in kinds)]


def source_names(kinds: tuple[str, ...] | None = None, path: Path | None = None) -> list[str]:
    """Enabled source names of the given kinds (all kinds when None)."""
    return [s["name"] for s in enabled_sources(kinds, path)]


def partitions(step: str, path: Path | None = None) -> list[list[int]]:
    """``[k, n]`` for each partition of ``step`` (``partitions.<step>``, default 1), for a task
    mapped at parse time: a literal list costs no task process per run (a value pydantic would
    reject maps as 1 here; the task's own config load then reports it)."""
    n = (_registry(path).get("partitions") or {}).get(step, 1)
    n = n if isinstance(n, int) and 1 <= n <= 64 else 1
    return [[k, n] for k in range(n)]


def crm_destination_names(path: Path | None = None) -> list[str]:
    """Names of the enabled CRM destinations (``crm.destinations``), for parse-time mapping."""
    dests = (_registry(path).get("crm") or {}).get("destinations") or []
    return [d["name"] for d in dests if isinstance(d, dict) and isinstance(d.get("name"), str)
            and d.get("enabled", True) is not False]
