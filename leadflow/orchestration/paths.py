"""Where the Airflow processes find leadflow.yaml.

Airflow runs tasks, callbacks and the DAG processor from working directories we do not control,
so the config is found the same way everywhere: ``$LEADFLOW_CONFIG``, else ``./leadflow.yaml``,
else the ``leadflow.yaml`` beside the project's ``dags/`` folder (the repository root).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def config_path() -> Path:
    env = os.environ.get("LEADFLOW_CONFIG")
    if env:
        return Path(env).resolve()
    here = Path.cwd() / "leadflow.yaml"
    if here.is_file():
        return here.resolve()
    return PROJECT_ROOT / "leadflow.yaml"


def source_names(kinds: tuple[str, ...] | None = None, path: Path | None = None) -> list[str]:
    """Enabled source names from the registry, read with plain YAML (cheap, for DAG parse time).

    Full validation happens when a task loads the config; a broken file here yields no names
    rather than a DAG import error, so the DAGs stay visible and the task reports the problem.
    """
    import yaml

    p = path or config_path()
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return []
    out: list[str] = []
    for s in doc.get("sources") or []:
        if not isinstance(s, dict) or not isinstance(s.get("name"), str):
            continue
        if s.get("enabled", True) is False:
            continue
        if kinds is None or s.get("kind") in kinds:
            out.append(s["name"])
    return out
