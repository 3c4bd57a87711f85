"""Who the daily scoring step scores: the day's changes, not the warehouse (issue 17).

A person's rule score moves for three reasons only: their inputs change (a new record, merge,
attribute, lifecycle move or touch), scoring itself changes (config, model, code), or time
passes and their touches decay. So a day scores:

- everyone, when there is no earlier run or its ``fingerprint`` (what a score means) differs,
  and on the run after a backfill (a run for a date earlier than one already scored: its
  changes carry the older logical time, so the next run cannot tell them by ``updated_at``);
- else the people whose inputs changed since the previous run (``people.updated_at`` after its
  ``as_of``; touches inserted after it, by ``touch_id``, or that became visible since, by
  ``occurred_at``), people who became active since (``created_at``: a record dated after the
  day it was loaded), plus the ``score_watch`` list: people whose score could still qualify.

Decay alone never lifts a rule score above its ``ceiling``: fit stays, positive engagement only
fades, negative points fade towards zero. A person off the watch list therefore cannot reach the
qualification threshold until an input changes, and then they are scored again. The model's
probability also moves with time (lead age, recency); it is refreshed when inputs change, and
people within ``scoring.rescore_probability_margin`` of ``min_probability`` stay on the watch
list. Every query here is by index (``ix_people_updated``, ``ix_people_created``, ``touches`` primary key and
``ix_touches_occurred``, ``score_watch``), so its cost follows the day's changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadflow.config import Settings
from leadflow.score import rules
from leadflow.store import db
from leadflow.store.schema import people, score_runs, score_watch, touches

# Stages from which a score can still make someone an MQL. A person with sales (mql and later)
# cannot qualify again in this cycle; recycling them is a lifecycle move, which sets
# ``people.updated_at`` and so makes them due anyway.
MARKETING_STAGES = ("suspect", "lead", "recycled")


@dataclass(frozen=True)
class PreviousRun:
    run_date: date
    as_of: datetime
    max_touch_id: int
    fingerprint: str


def _code_version() -> str:
    """The installed leadflow's version (a release may change what a score means)."""
    from importlib import metadata
    try:
        return metadata.version("leadflow")
    except metadata.PackageNotFoundError:
        return "unknown"


def fingerprint(settings: Settings, declared: dict[str, str], model_version: str | None) -> str:
    """What a stored score means: the scoring and qualification thresholds, declared attributes,
    the live model and the code version. A change rescores everyone once."""
    q = settings.qualification
    doc = {"scoring": settings.scoring.model_dump(mode="json"), "attributes": declared,
           "qualify": [q.min_grade, q.min_score, q.min_probability], "model": model_version,
           "code": _code_version()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def previous_run(conn: Connection | Engine, run_date: date, part: str) -> PreviousRun | None:
    """The latest scoring run of this partition before ``run_date``."""
    q = (sa.select(score_runs.c.run_date, score_runs.c.as_of, score_runs.c.max_touch_id,
                   score_runs.c.fingerprint)
         .where(score_runs.c.part == part, score_runs.c.run_date < run_date)
         .order_by(score_runs.c.run_date.desc()).limit(1))
    df = db.read_frame(conn, q)
    if df.empty:
        return None
    row = df.iloc[0]
    return PreviousRun(pd.Timestamp(row["run_date"]).date(), pd.Timestamp(row["as_of"]).to_pydatetime(),
                       int(row["max_touch_id"]), str(row["fingerprint"]))


STALE = "stale:"     # a fingerprint prefix that no run matches: the next run scores everyone


def later_runs(conn: Connection | Engine, run_date: date, part: str) -> bool:
    """Whether this partition was already scored for a later date (this run is a backfill)."""
    q = sa.select(score_runs.c.run_date).where(score_runs.c.part == part, score_runs.c.run_date > run_date).limit(1)
    return not db.read_frame(conn, q).empty


def mark_later_runs_stale(conn: Connection, run_date: date, part: str) -> None:
    """After a backfill, the runs of later dates no longer describe the warehouse (the backfill's
    changes carry its older logical time, its watch verdicts see only touches up to its date):
    whichever run comes next scores everyone once."""
    r = score_runs.c
    conn.execute(sa.update(score_runs).where(r.part == part, r.run_date > run_date,
                                             ~r.fingerprint.startswith(STALE))
                 .values(fingerprint=STALE + r.fingerprint))


def max_touch_id(conn: Connection | Engine) -> int:
    """The highest touch id now: touches inserted later are new to the next run."""
    df = db.read_frame(conn, sa.select(sa.func.max(touches.c.touch_id).label("m")))
    return 0 if df.empty or pd.isna(df.iloc[0, 0]) else int(df.iloc[0, 0])


def watch_ids(conn: Connection | Engine) -> list[int]:
    """Everyone on the watch list (people whose score could still qualify)."""
    df = db.read_frame(conn, sa.select(score_watch.c.person_id))
    return [int(i) for i in df["person_id"]] if not df.empty else []


def _stage_of_watched() -> sa.ScalarSelect[Any]:
    """The lifecycle stage of a ``score_watch`` row's person, looked up by id for each row (a
    scalar subquery, which neither backend turns into a join). As an EXISTS or a join, SQLite
    scanned people, and PostgreSQL planned by the list's size at its last ANALYZE (16,014 rows
    where 295 stood, at 442k people) and walked every person: the list changes every run."""
    return sa.select(people.c.lifecycle_stage).where(people.c.person_id == score_watch.c.person_id).scalar_subquery()


def due_ids(conn: Connection | Engine, prev: PreviousRun, as_of: datetime) -> list[int]:
    """People whose inputs changed since ``prev`` or who are on the watch list."""
    t = touches.c
    q = sa.union(
        sa.select(people.c.person_id).where(people.c.updated_at > prev.as_of),
        sa.select(people.c.person_id).where(people.c.created_at > prev.as_of, people.c.created_at <= as_of),
        sa.select(t.person_id).where(t.touch_id > prev.max_touch_id, t.person_id.is_not(None)),
        sa.select(t.person_id).where(t.occurred_at > prev.as_of, t.occurred_at <= as_of,
                                     t.person_id.is_not(None)),
        sa.select(score_watch.c.person_id).where(_stage_of_watched().in_(MARKETING_STAGES)))
    df = db.read_frame(conn, q)
    return sorted(int(i) for i in df.iloc[:, 0].dropna()) if not df.empty else []


def ceiling(fit: np.ndarray, econ: pd.DataFrame, n: int, settings: Settings) -> np.ndarray:
    """Per row, the highest rule score these touches can give as they age: fit plus today's
    positive engagement (decay only lowers it; negative points fade towards zero). With step
    factors that rise with age no bound holds, so everyone stays watched (+inf)."""
    s = settings.scoring
    if s.decay != "half_life":
        factors = [st.factor for st in sorted(s.decay_steps, key=lambda st: st.max_age_days)]
        if any(b > a for a, b in zip(factors, factors[1:])):
            return np.full(n, np.inf)
    pos = np.zeros(n)
    if len(econ):
        e = econ[econ["points"] > 0]
        np.add.at(pos, e["row"].to_numpy(dtype=np.int64), e["points"].to_numpy(dtype=float))
    return rules.total_score(np.asarray(fit, dtype=float), pos, s)


def open_to_marketing(ppl: pd.DataFrame) -> np.ndarray:
    """People a score could still hand to sales: in ``MARKETING_STAGES`` and not opted out, do
    not contact or a competitor (flags on the person, whose changes set ``updated_at``, so
    lifting one makes the person due again)."""
    ok = ppl["lifecycle_stage"].astype(str).isin(MARKETING_STAGES).to_numpy().copy()
    for c in ("opt_out", "do_not_contact", "is_competitor"):
        if c in ppl.columns:
            ok &= ~ppl[c].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return ok


def could_qualify(out: pd.DataFrame, ceil: np.ndarray, open_: np.ndarray, settings: Settings) -> np.ndarray:
    """True where a person's score could qualify them without new input: open to marketing
    (``open_to_marketing``), and grade good enough with the ceiling at the threshold, or a
    probability within the margin of ``min_probability``."""
    q = settings.qualification
    rank = {g: i for i, g in enumerate(rules.GRADES)}
    ok = out["grade"].map(rank).to_numpy() <= rank[q.min_grade]
    watch = ok & (ceil >= q.min_score)
    if q.min_probability is not None:
        p = pd.to_numeric(out["probability"], errors="coerce").to_numpy(dtype=float)
        watch |= np.nan_to_num(p, nan=-1.0) >= q.min_probability - settings.scoring.rescore_probability_margin
    return watch & open_


def drop_handed_off(conn: Connection) -> None:
    """Drop from the watch list the people handed to sales (or gone) since they were watched."""
    conn.execute(sa.delete(score_watch).where(sa.func.coalesce(_stage_of_watched(), "").not_in(MARKETING_STAGES)))


def update_watch(conn: Connection, run_date: date, considered: list[int], watched: pd.DataFrame) -> None:
    """Replace the watch rows of everyone considered today by today's verdict (``watched``:
    person_id, ceiling, probability), and drop people handed to sales since they were watched."""
    drop_handed_off(conn)
    for flt in db.id_filters(conn, score_watch.c.person_id, considered):
        conn.execute(sa.delete(score_watch).where(flt))
    if not watched.empty:
        rows = watched.assign(score_date=run_date)[["person_id", "score_date", "ceiling", "probability"]]
        rows = rows.assign(ceiling=np.minimum(rows["ceiling"].to_numpy(dtype=float), 1e9))
        db.copy_upsert(conn, score_watch, rows, conflict=["person_id"],
                       update=["score_date", "ceiling", "probability"])


def record_run(conn: Connection, run: dict[str, Any]) -> None:
    """Upsert this run's ``score_runs`` row (a re-run of the day rewrites it)."""
    db.copy_upsert(conn, score_runs, pd.DataFrame([run]), conflict=["run_date", "part"],
                   update=["as_of", "max_touch_id", "fingerprint", "mode", "scored", "run_id"])
