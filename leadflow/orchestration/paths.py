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


def enabled_sources(kinds: tuple[str, ...] | None = None, path: Path | None = None
                    ) -> list[dict[str, Any]]:
    """Enabled source entries of the registry as plain dicts, read with YAML only (cheap, for
    DAG parse time).

    Full validation happens when a task loads the config; a broken file here yields no sources
    rather than a DAG import error, so the DAGs stay visible and the task reports the problem.
    """
    import yaml

    p = path or config_path()
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return []
    return [s for s in doc.get("sources") or []
            if isinstance(s, dict) and isinstance(s.get("name"), str)
            and s.get("enabled", True) is not False and (kinds is None or s.get("kind") in kinds)]


def source_names(kinds: tuple[str, ...] | None = None, path: Path | None = None) -> list[str]:
    """Enabled source names of the given kinds (all kinds when None)."""
    return [s["name"] for s in enabled_sources(kinds, path)]
