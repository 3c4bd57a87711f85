"""The daily scoring step: every active person scored as of ``ctx.as_of``, written once per day.

Pure logic (``score_frame``) takes people and touches DataFrames and returns the scores frame;
``score_people`` reads the warehouse, calls it and upserts ``scores`` on (person_id, score_date),
so re-running a day rewrites the same rows and adds none.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from leadflow.config import Settings
from leadflow.context import RunContext
from leadflow.score import reasons as rs
from leadflow.score import registry, rules, train, warehouse
from leadflow.store import db

log = logging.getLogger("leadflow.score")
SCORE_COLUMNS = ["person_id", "score_date", "fit_points", "grade", "engagement_points", "score",
                 "probability", "model_version", "reasons", "run_id"]


def score_frame(people: pd.DataFrame, touches: pd.DataFrame, settings: Settings, as_of: Any,
                bundle: registry.Bundle | None = None) -> pd.DataFrame:
    """Scores for ``people`` as of ``as_of``: rule points, grade, score, model, reasons."""
    people = people.reset_index(drop=True)
    ex = pd.DataFrame({"person_id": people["person_id"].to_numpy(), "as_of": pd.Timestamp(as_of)})
    feats, fcon, econ = warehouse.build_frame(ex, people, touches, settings)
    fit = feats["fit_points"].to_numpy(dtype=float)
    eng = feats["engagement_points"].to_numpy(dtype=float)
    out = pd.DataFrame({
        "person_id": people["person_id"].to_numpy(),
        "fit_points": np.round(fit, 2), "grade": rules.grade(fit, settings.scoring),
        "engagement_points": np.round(eng, 2),
        "score": rules.total_score(fit, eng, settings.scoring),
        "probability": np.nan, "model_version": None,
    })
    ri = warehouse.rule_input(people, settings)
    cands = [rs.fit_candidates(ri, fcon.reset_index(drop=True), settings.scoring),
             rs.engagement_candidates(econ, pd.Series(np.arange(len(people))), settings.scoring,
                                      key="row")]
    if bundle is not None:
        cols = [s["name"] for s in bundle.specs]
        X = feats.reindex(columns=cols)
        # one pass of the logistic explainer gives every lead's attributions and, when the
        # live model is that same logistic fit, its raw probability too
        p_lin, attr = bundle.explainer.contributions(X)
        if bundle.model.base is bundle.explainer.pipeline:
            prob = bundle.model.calibrate(p_lin)
        else:
            prob = bundle.model.predict_proba(X)
        out["probability"] = np.round(prob, 4)
        out["model_version"] = bundle.version
        labels = {s["name"]: s.get("label") or s["name"] for s in bundle.specs}
        topics = {s["name"]: _topic(s["name"]) for s in bundle.specs}
        cands.append(rs.model_candidates(attr, X.reset_index(drop=True), labels, topics,
                                         names=list(bundle.explainer.features)))
    out["reasons"] = rs.top_reasons(len(people), *cands)
    return out


def _topic(feature: str) -> str:
    """Reasons about the same thing (model and rules) share a topic, so only one is shown."""
    for p in ("n30_", "n_"):
        if feature.startswith(p):
            return "touch:" + feature[len(p):]
    if feature in rs.PROFILE_FIELDS:
        return "profile"
    if feature in ("engagement_points", "fit_points"):
        return "points:" + feature
    return "field:" + feature


def load_live(ctx: RunContext) -> tuple[registry.Bundle | None, str]:
    """The promoted model, or None with the reason scoring is rules only."""
    live = registry.current(ctx.engine)
    if live is None:
        n = train.conversions(ctx.engine, ctx.as_of)
        need = ctx.settings.model.min_conversions
        why = (f"rules only: {n} conversions < {need}" if n < need else
               f"rules only: no promoted model yet ({n} conversions; run `leadflow model train`)")
        return None, why
    try:
        return registry.load(live["artifact_path"]), f"model {live['version']}"
    except registry.RegistryError as e:
        log.warning("%s; scoring with rules only", e)
        return None, f"rules only: {e}"


def score_people(ctx: RunContext) -> dict[str, Any]:
    """Score every active person as of the run; upsert ``scores`` for ``ctx.run_date``.

    The result's ``seconds`` splits the time into reading, scoring and writing (the log line
    carries it too), so a slow run shows at once whether the warehouse or the scoring is slow."""
    clock = _Clock()
    ppl = warehouse.read_people(ctx.engine, active_as_of=ctx.as_of)
    clock.lap("read_people")
    tch = warehouse.read_touches(ctx.engine, ctx.as_of)
    clock.lap("read_touches")
    bundle, model_note = load_live(ctx)
    clock.lap("load_model")
    if ppl.empty:
        return {"scored": 0, "by_grade": {}, "model": model_note, "seconds": clock.laps}
    out = score_frame(ppl, tch, ctx.settings, ctx.as_of, bundle)
    clock.lap("score")
    out["score_date"] = ctx.run_date
    out["run_id"] = ctx.run_id
    with db.transaction(ctx.engine) as c:
        write_scores(c, out)
    clock.lap("write")
    log.info("scored %d people (%s); seconds %s", len(out), model_note, clock.laps)
    by_grade = out["grade"].value_counts().reindex(list(rules.GRADES), fill_value=0)
    return {"scored": int(len(out)), "by_grade": {k: int(v) for k, v in by_grade.items()},
            "model": model_note,
            "mean_score": round(float(out["score"].mean()), 1), "seconds": clock.laps}


class _Clock:
    """Wall seconds per named stage."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._t, 2)
        self._t = now


def _score_rows(out: pd.DataFrame, date_text: bool) -> list[tuple[Any, ...]]:
    """Score rows as plain tuples; each distinct reasons list is JSON-encoded once (leads with
    the same winners share one list object)."""
    cache: dict[int, str] = {}
    def enc(r: Any) -> str | None:
        if r is None:
            return None
        k = id(r)
        if k not in cache:
            cache[k] = json.dumps(r)
        return cache[k]
    prob = out["probability"].to_numpy(dtype=float)
    day = out["score_date"].iloc[0] if len(out) else None
    cols = {
        "person_id": out["person_id"].to_numpy(dtype=np.int64).tolist(),
        "score_date": [day.isoformat() if date_text else day] * len(out),
        "fit_points": out["fit_points"].to_numpy(dtype=float).tolist(),
        "grade": out["grade"].astype(object).tolist(),
        "engagement_points": out["engagement_points"].to_numpy(dtype=float).tolist(),
        "score": out["score"].to_numpy(dtype=float).tolist(),
        "probability": np.where(np.isnan(prob), None, prob).tolist(),
        "model_version": out["model_version"].astype(object).where(
            out["model_version"].notna(), None).tolist(),
        "reasons": [enc(r) for r in out["reasons"].tolist()],
        "run_id": out["run_id"].astype(object).tolist(),
    }
    return list(zip(*(cols[c] for c in SCORE_COLUMNS)))


def write_scores(conn: Any, out: pd.DataFrame) -> None:
    """Upsert the day's scores on (person_id, score_date): re-running a day rewrites its rows.

    A million rows through per-row ORM binding took ~20 s; here rows go to the driver as plain
    tuples: ``executemany`` of one INSERT .. ON CONFLICT on SQLite, COPY into a temporary table
    and one INSERT .. SELECT .. ON CONFLICT on PostgreSQL. One score date per call."""
    if out.empty:
        return
    if out["score_date"].nunique() != 1:
        raise ValueError("write_scores takes one score date at a time")
    names = ", ".join(SCORE_COLUMNS)
    sets = ", ".join(f"{c} = excluded.{c}" for c in SCORE_COLUMNS
                     if c not in ("person_id", "score_date"))
    conflict = "ON CONFLICT (person_id, score_date) DO UPDATE SET " + sets
    raw = conn.connection.driver_connection
    if db.is_postgres(conn):
        rows = _score_rows(out, date_text=False)
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS _scores_in "
                        "(LIKE scores INCLUDING DEFAULTS) ON COMMIT DROP")
            cur.execute("TRUNCATE _scores_in")   # a second call in one transaction starts empty
            with cur.copy(f"COPY _scores_in ({names}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            cur.execute(f"INSERT INTO scores ({names}) SELECT {names} FROM _scores_in {conflict}")
        return
    rows = _score_rows(out, date_text=True)
    marks = ", ".join("?" * len(SCORE_COLUMNS))
    cur = raw.cursor()
    try:
        cur.executemany(f"INSERT INTO scores ({names}) VALUES ({marks}) {conflict}", rows)
    finally:
        cur.close()
