"""Layers point down: no stage imports a later stage or the orchestration layer.

Every import in ``leadflow/`` (module level, inside functions, under TYPE_CHECKING alike) is read
with ``ast`` and checked against the layer order in docs/architecture.md. A module may import its
own layer or any layer below it, never one above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "leadflow"

# Lowest first. Modules in one tuple share a layer and may import each other.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "canonical", "vocab", "scrub", "faults", "py"),
    ("config",),
    ("notify",),
    ("store",),
    ("context", "monitor", "lifecycle"),
    # the erasure guard every stage applies (tombstones, keyed hashes, URL stripping); erase/export are higher up
    ("privacy.hashing", "privacy.tombstones", "privacy.guard", "privacy.urls"),
    ("ingest",),
    ("quality",),
    ("clean",),
    ("identity", "campaigns"),
    ("score",),
    ("qualify", "route"),
    ("handoff",),
    ("crm",),                      # pushes handed-off leads into the reps' CRM (reverse ETL)
    ("feedback",),
    ("report",),
    ("privacy", "status"),
    ("pipeline", "intraday"),     # intraday: the speed-to-lead path, daily stages on new records
    ("orchestration",),
    ("demo",),
    ("cli", "__main__", "__init__"),
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _top(module: str) -> str | None:
    """``leadflow.handoff.enqueue`` -> ``handoff`` (or ``privacy.guard`` where a submodule has a
    layer of its own); anything outside leadflow -> None."""
    parts = module.split(".")
    if parts[0] != "leadflow":
        return None
    if len(parts) > 2 and ".".join(parts[1:3]) in RANK:
        return ".".join(parts[1:3])
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    pkg_parts = path.relative_to(PKG.parent).with_suffix("").parts
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:   # relative import: resolve against this module's package
                base = pkg_parts[: len(pkg_parts) - node.level]
                mod = ".".join(base + ((node.module,) if node.module else ()))
            else:
                mod = node.module or ""
            # `from leadflow import config`, `from leadflow.privacy import guard`: a name may be a module
            found += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return found


def violations(path: Path) -> list[str]:
    """Upward imports of one file, as ``file:line: a -> b`` strings."""
    own = _top(".".join(path.relative_to(PKG.parent).with_suffix("").parts))
    if own is None or own not in RANK:
        return [f"{path.name}: module '{own}' has no layer in tests/test_layers.py"]
    out = []
    for line, mod in _imports(path):
        target = _top(mod)
        if target is None or target == own:
            continue
        if target not in RANK:
            out.append(f"{path.relative_to(PKG.parent)}:{line}: imports '{target}', which has no layer")
        elif RANK[target] > RANK[own]:
            out.append(f"{path.relative_to(PKG.parent)}:{line}: {own} -> {target} runs up the layers")
    return out


def test_every_import_points_down() -> None:
    problems = [v for p in sorted(PKG.rglob("*.py")) for v in violations(p)]
    assert not problems, "\n".join(problems)


def test_every_top_level_module_has_a_layer() -> None:
    names = {p.stem if p.is_file() else p.name for p in PKG.iterdir()
             if (p.is_file() and p.suffix == ".py") or (p.is_dir() and (p / "__init__.py").exists())}
    assert names - set(RANK) == set()


@pytest.mark.parametrize(("module", "source", "bad"), [
    ("lifecycle.py", "from leadflow.handoff import enqueue\n", True),
    ("monitor.py", "def f():\n    from leadflow.orchestration.alerts import scrub\n", True),
    ("qualify/x.py", "from ..handoff import enqueue\n", True),
    ("handoff/x.py", "from leadflow.route import route\nimport leadflow.store.db\n", False),
])
def test_the_check_catches_a_deliberate_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      module: str, source: str, bad: bool) -> None:
    fake_pkg = tmp_path / "leadflow"
    target = fake_pkg / module
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source, encoding="utf-8")
    monkeypatch.setattr(__import__(__name__, fromlist=["PKG"]), "PKG", fake_pkg)
    assert bool(violations(target)) is bad
