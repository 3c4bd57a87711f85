"""Write the next migration after a change to ``schema.py``: ``make migration m="what changed"``.

Builds a scratch SQLite warehouse at the current head, lets Alembic's autogenerate compare it
with ``schema.py`` and writes ``versions/<NNNN>_<message>.py``. Review the file before committing
(autogenerate does not see renames, and a NOT NULL column added to a table with rows needs a
``server_default``); tests/test_migrations.py then checks that head equals ``schema.py``.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from leadflow.store import migrations


def next_id() -> str:
    """Sequential ids (0001, 0002, ...) keep the versions folder in upgrade order."""
    ids = [int(r.revision) for r in migrations.script().walk_revisions()
           if re.fullmatch(r"\d+", r.revision)]
    return f"{max(ids, default=0) + 1:04d}"


def generate(message: str, target: sa.MetaData | None = None) -> Path | None:
    """The new revision file, or None when ``schema.py`` already matches head."""
    with tempfile.TemporaryDirectory() as d:
        eng = sa.create_engine(f"sqlite:///{Path(d) / 'scratch.db'}")
        try:
            migrations.upgrade_to(eng, "head")
            if not migrations.diff(eng, target):
                return None
            with eng.begin() as conn:
                out = command.revision(migrations.config(conn, target), message=message,
                                       autogenerate=True, rev_id=next_id(),
                                       version_path=str(migrations.VERSION_LOCATIONS[0]))
        finally:
            eng.dispose()
            migrations._script.cache_clear()     # the new file is part of the history now
    script = out[0] if isinstance(out, list) else out
    return Path(script.path) if script is not None else None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].strip():
        print('usage: python -m leadflow.store.migrations.new "what changed"', file=sys.stderr)
        return 2
    path = generate(args[0].strip())
    if path is None:
        print("schema.py matches the migrations at head: nothing to generate")
        return 0
    print(f"wrote {path}: review it, then run tests/test_migrations.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
