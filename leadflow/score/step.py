"""The daily scoring step: the day's due people scored as of ``ctx.as_of``, written once per day.

Pure logic (``score_frame``) takes people and touches DataFrames and returns the scores frame;
``score_people`` reads the due people (``due``: everyone on a first run, else those whose inputs
changed plus those who could still qualify), calls it and upserts ``scores`` on
(person_id, score_date), so re-running a day rewrites the same rows and adds none.

Reasons are words for a rep, so only people a rep sees need them: the daily step stores scores
with ``reasons`` NULL, and ``fill_reasons`` (called by the queue for the people it hands off)
or ``reasons_for`` (on demand, for a brief or an explanation) computes them for just those
people, from the same inputs, so they are what scoring everyone would have given.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from leadflow.config import Settings
from leadflow.context import RunContext
from leadflow.score import due, partition, registry, rules, train, warehouse
from leadflow.score import reasons as rs
from leadflow.store import db
from leadflow.store.schema import scores

log = logging.getLogger("leadflow.score")
SCORE_COLUMNS = ["person_id", "score_date", "fit_points", "grade", "engagement_points", "score",
                 "probability", "model_version", "reasons", "run_id"]


def score_frame(people: pd.DataFrame, touches: pd.DataFrame, settings: Settings, as_of: Any,
                bundle: registry.Bundle | None = None, reasons: bool = True) -> pd.DataFrame:
    """Scores for ``people`` as of ``as_of``: rule points, grade, score, model and (unless
    ``reasons`` is False: left None) reasons."""
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
    cands = []
    if reasons:
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
        if reasons:
            labels = {s["name"]: s.get("label") or s["name"] for s in bundle.specs}
            topics = {s["name"]: _topic(s["name"]) for s in bundle.specs}
            cands.append(rs.model_candidates(attr, X.reset_index(drop=True), labels, topics,
                                             names=list(bundle.explainer.features)))
    out["reasons"] = rs.top_reasons(len(people), *cands) if reasons else None
    out["ceiling"] = due.ceiling(fit, econ, len(people), settings)   # not stored in scores
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


def score_people(ctx: RunContext, part: partition.Part | None = None) -> dict[str, Any]:
    """Score the day's due people as of the run (``part``: only partition k of n, by a hash of
    the person id, see ``partition``); upsert ``scores`` for ``ctx.run_date``.

    Due (``due``): everyone on the first run or when what a score means changed (config,
    model, code); else the people whose inputs changed since the previous run plus those whose
    score could still qualify (``score_watch``). The result's ``seconds`` splits the time into
    reading, scoring and writing, so a slow run shows at once where the time goes."""
    clock = _Clock()
    name = partition.name("score", part)
    bundle, model_note = load_live(ctx)
    fp = due.fingerprint(ctx.settings, warehouse.declared_attributes(ctx.settings),
                         bundle.version if bundle is not None else None)
    prev = due.previous_run(ctx.engine, ctx.run_date, name)
    backfill = due.later_runs(ctx.engine, ctx.run_date, name)
    seen_touch = due.max_touch_id(ctx.engine)      # before reading: later touches are new tomorrow
    mode = "incremental" if prev is not None and prev.fingerprint == fp else "full"
    clock.lap("load_model")
    ppl, considered = _due_people(ctx, prev if mode == "incremental" else None, part)
    clock.lap("read_people")
    ids = ppl["person_id"].tolist() if mode == "incremental" else None
    tch = warehouse.read_touches(ctx.engine, ctx.as_of, ids=ids)
    clock.lap("read_touches")
    out = _scored_today(ctx, ppl, tch, bundle)
    clock.lap("score")
    watched = out[due.could_qualify(out, out["ceiling"].to_numpy(dtype=float),
                                    due.open_to_marketing(ppl.reset_index(drop=True)), ctx.settings)]
    with db.transaction(ctx.engine) as c:
        write_scores(c, out)
        due.update_watch(c, ctx.run_date, considered, watched[["person_id", "ceiling", "probability"]])
        if backfill:
            due.mark_later_runs_stale(c, ctx.run_date, name)
        due.record_run(c, {"run_date": ctx.run_date, "part": name, "as_of": ctx.as_of,
                           "max_touch_id": seen_touch, "fingerprint": due.STALE + fp if backfill else fp,
                           "mode": mode, "scored": int(len(out)), "run_id": ctx.run_id})
    clock.lap("write")
    log.info("scored %d people (%s, %s); seconds %s", len(out), mode, model_note, clock.laps)
    by_grade = out["grade"].value_counts().reindex(list(rules.GRADES), fill_value=0)
    res: dict[str, Any] = {"scored": int(len(out)), "mode": mode, "watched": int(len(watched)),
                           "by_grade": {k: int(v) for k, v in by_grade.items()}, "model": model_note,
                           "seconds": clock.laps}
    if len(out):
        res["mean_score"] = round(float(out["score"].mean()), 1)
    return res


def _due_people(ctx: RunContext, prev: due.PreviousRun | None,
                part: partition.Part | None) -> tuple[pd.DataFrame, list[int]]:
    """The active people to score (``prev`` None: everyone) and every id whose watch row today's
    verdict replaces (the due ids, or in a full run everyone plus the watch list), of ``part``."""
    if prev is not None:
        considered = due.due_ids(ctx.engine, prev, ctx.as_of)
        ppl = warehouse.read_people(ctx.engine, active_as_of=ctx.as_of, ids=considered)
    else:
        ppl = warehouse.read_people(ctx.engine, active_as_of=ctx.as_of)
        considered = sorted(set(ppl["person_id"].astype("int64").tolist()) | set(due.watch_ids(ctx.engine)))
    if part is None:
        return ppl, considered
    return (ppl[partition.mask(ppl["person_id"], part)],
            [i for i, keep in zip(considered, partition.mask(considered, part)) if keep])


def _scored_today(ctx: RunContext, ppl: pd.DataFrame, tch: pd.DataFrame,
                  bundle: registry.Bundle | None) -> pd.DataFrame:
    """``score_frame`` of these people stamped with the run date and id (no reasons), ready for
    ``write_scores``; an empty frame with the same columns when there is nobody."""
    if ppl.empty:
        return pd.DataFrame(columns=[*SCORE_COLUMNS, "ceiling"])
    out = score_frame(ppl, tch, ctx.settings, ctx.as_of, bundle, reasons=False)
    return out.assign(score_date=ctx.run_date, run_id=ctx.run_id)


def score_missing(ctx: RunContext, person_ids: Any) -> pd.DataFrame:
    """Today's scores for the active people among these who have none for the run date yet, written
    as the daily step would have (a hand-raiser whose inputs did not change since an earlier day).
    Returns ``person_id, score, grade, probability, model_version`` of the rows written."""
    cols = ["person_id", "score", "grade", "probability", "model_version"]
    ids = sorted({int(i) for i in person_ids})
    have = db.read_ids(ctx.engine, sa.select(scores.c.person_id).where(scores.c.score_date == ctx.run_date),
                       scores.c.person_id, ids)
    need = sorted(set(ids) - set(have["person_id"].astype("int64").tolist()))
    ppl = warehouse.read_people(ctx.engine, active_as_of=ctx.as_of, ids=need) if need else pd.DataFrame()
    if ppl.empty:
        return pd.DataFrame(columns=cols)
    out = _scored_today(ctx, ppl, warehouse.read_touches(ctx.engine, ctx.as_of, ids=need), load_live(ctx)[0])
    with db.transaction(ctx.engine) as c:
        write_scores(c, out)
    return out[cols]


class _Clock:
    """Wall seconds per named stage."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._t, 2)
        self._t = now


def write_scores(conn: Any, out: pd.DataFrame) -> None:
    """Upsert the day's scores on (person_id, score_date): re-running a day rewrites its rows."""
    db.upsert_rows(conn, scores, out[SCORE_COLUMNS], conflict=["person_id", "score_date"],
                   update=[c for c in SCORE_COLUMNS if c not in ("person_id", "score_date")])


def reasons_for(conn: Any, ctx: RunContext, person_ids: Any,
                bundle: registry.Bundle | None = None) -> pd.DataFrame:
    """``person_id, reasons`` for just these people as of the run (people, touches and the live
    model read for them alone): what scoring everyone would have given them."""
    ids = sorted({int(i) for i in person_ids})
    if not ids:
        return pd.DataFrame({"person_id": pd.Series(dtype="int64"), "reasons": pd.Series(dtype=object)})
    ppl = warehouse.read_people(conn, ids=ids)
    tch = warehouse.read_touches(conn, ctx.as_of, ids=ids)
    if bundle is None:
        bundle, _ = load_live(ctx)
    if ppl.empty:
        return pd.DataFrame({"person_id": pd.Series(dtype="int64"), "reasons": pd.Series(dtype=object)})
    return score_frame(ppl, tch, ctx.settings, ctx.as_of, bundle)[["person_id", "reasons"]]


def fill_reasons(conn: Any, ctx: RunContext, person_ids: Any) -> int:
    """Store reasons on these people's scores of the run date where still NULL; rows updated.

    Called inside the queue's transaction before the lifecycle moves, so the inputs are the
    ones the day's scores were computed from."""
    ids = [int(i) for i in person_ids]
    if not ids:
        return 0
    have = db.read_ids(conn, sa.select(scores.c.person_id).where(
        scores.c.score_date == ctx.run_date, scores.c.reasons.is_(None)), scores.c.person_id, ids)
    if have.empty:
        return 0
    rs_ = reasons_for(conn, ctx, have["person_id"].tolist())
    rs_["score_date"] = ctx.run_date
    return db.copy_update(conn, scores, rs_, key=["person_id", "score_date"], columns=["reasons"],
                          where="scores.reasons IS NULL")
