"""The ``leadflow`` command line. Each area registers its commands from its own module.

Every expected failure (bad config, unreachable warehouse, unreadable input, a quality gate,
disk full or a lost database connection) is printed as one line naming the cause (the
warehouse or the file), with a non-zero exit and no traceback; exit 70 is left to real bugs.
"""

from __future__ import annotations

import logging
import os
import sys

import typer

from leadflow.errors import LeadflowError

app = typer.Typer(help="leadflow: hands leads from marketing to sales and closes the loop back.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _register_all() -> None:
    from leadflow.cli import core, crm, data, handoffs, history, identity, modeling, qualifying, quality, reporting
    for mod in (core, data, quality, identity, modeling, qualifying, handoffs, crm, reporting, history):
        mod.register(app)


_register_all()


def _typer_click_exceptions() -> tuple[type[Exception], ...]:
    try:
        from typer._click.exceptions import ClickException
    except ImportError:
        return ()
    return (ClickException,)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning LeadflowError into a one-line error."""
    logging.basicConfig(level=os.environ.get("LEADFLOW_LOG_LEVEL", "WARNING"),
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        # With standalone_mode=False click returns a typer.Exit's code instead of raising it.
        return int(app(args=argv, standalone_mode=False) or 0)
    except LeadflowError as e:
        typer.echo(f"error: {e}", err=True)
        return e.exit_code
    except (typer.Exit, SystemExit) as e:  # typer/click exits with a code
        code = getattr(e, "exit_code", getattr(e, "code", 0))
        return int(code or 0)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    except Exception as e:  # click usage errors and unexpected bugs
        import click
        # typer vendors its own click (typer._click): both kinds are usage errors (exit 2)
        usage: tuple[type[Exception], ...] = (click.ClickException, *_typer_click_exceptions())
        if isinstance(e, usage):
            e.show()  # type: ignore[attr-defined]  # both ClickException classes have show()
            return int(getattr(e, "exit_code", 2))
        if os.environ.get("LEADFLOW_DEBUG"):
            raise
        from leadflow.store.db import infra_error
        infra = infra_error(e)          # disk full, lost warehouse: expected, one line
        if infra is not None:
            typer.echo(f"error: {infra}", err=True)
            return infra.exit_code
        typer.echo(f"internal error: {type(e).__name__}: {str(e)[:300]} "
                   "(set LEADFLOW_DEBUG=1 for the traceback)", err=True)
        return 70


if __name__ == "__main__":
    sys.exit(main())
