"""Core commands: init, run, status, demo-data (filled in by the foundation)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the core commands to the main app."""
