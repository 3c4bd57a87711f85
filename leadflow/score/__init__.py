"""Lead scoring: rule grades and scores, a predictive model, and reasons a rep can read.

Entry points (see docs/scoring.md):
- ``score_people(ctx)`` — the daily step: scores the day's due people as of ``ctx.as_of``
  (everyone on a first run; else those whose inputs changed and those who could still qualify,
  see ``score.due``; reasons left NULL);
- ``score_missing(ctx, person_ids)`` — today's scores for queue candidates the step did not
  rescore (a hand-raiser whose inputs did not change);
- ``fill_reasons(conn, ctx, person_ids)`` / ``reasons_for(conn, ctx, person_ids)`` — reasons for
  just the people a rep sees (handed off, explained), stored on the day's scores / returned;
- ``train_model(ctx, allow_leaky=False)`` — train on outcomes, register, promote if better;
- ``evaluate_file(settings, source, path)`` — judge the approach on any lead file with outcomes.
Heavy modules load lazily, so importing this package (e.g. from a DAG file) stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["score_people", "score_missing", "fill_reasons", "reasons_for", "train_model", "evaluate_file"]


def score_people(ctx: Any) -> dict[str, Any]:
    from leadflow.score.step import score_people as _run
    return _run(ctx)


def score_missing(ctx: Any, person_ids: Any) -> Any:
    from leadflow.score.step import score_missing as _missing
    return _missing(ctx, person_ids)


def fill_reasons(conn: Any, ctx: Any, person_ids: Any) -> int:
    from leadflow.score.step import fill_reasons as _fill
    return _fill(conn, ctx, person_ids)


def reasons_for(conn: Any, ctx: Any, person_ids: Any) -> Any:
    from leadflow.score.step import reasons_for as _for
    return _for(conn, ctx, person_ids)


def train_model(ctx: Any, allow_leaky: bool = False,
                confirm_leakage: str | None = None, split_date: Any = None) -> dict[str, Any]:
    from leadflow.score.train import train
    return train(ctx.settings, ctx.engine, ctx.as_of, allow_leaky=allow_leaky,
                 confirm_leakage=confirm_leakage, split_date=split_date)


def evaluate_file(settings: Any, source: str, path: Any = None, **kw: Any) -> dict[str, Any]:
    from leadflow.score.offline import evaluate_file as _ev
    return _ev(settings, source, path, **kw)
