"""Read-side of the queue: list it, and explain one person's handoff in words a rep reads."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa

from leadflow import lifecycle, score
from leadflow.context import RunContext, make_run_id
from leadflow.errors import LeadflowError
from leadflow.store import db
from leadflow.store.schema import handoffs, people, scores, suppressions


class NotFound(LeadflowError):
    """No such person or handoff."""


def queue_rows(eng: sa.Engine, owner: str | None = None, run_date: date | None = None,
               limit: int = 50) -> pd.DataFrame:
    """Open handoffs (status queued) of people still contactable, highest priority first."""
    h, p = handoffs, people
    q = (sa.select(h.c.handoff_id, h.c.person_id, h.c.cycle, h.c.run_date, h.c.owner_rep,
                   h.c.route_rule, h.c.qualified_by, h.c.grade, h.c.score, h.c.priority,
                   h.c.sla_due_at, h.c.sla_breached, p.c.first_name, p.c.last_name, p.c.company)
         .select_from(h.join(p, p.c.person_id == h.c.person_id))
         .where(h.c.status == "queued", p.c.opt_out.is_(False), p.c.do_not_contact.is_(False),
                p.c.erased_at.is_(None))
         .order_by(h.c.priority.desc(), h.c.handoff_id).limit(limit))
    if owner:
        q = q.where(h.c.owner_rep == owner)
    if run_date:
        q = q.where(h.c.run_date == run_date)
    return db.read_df(eng, q)


def _json(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def person_of_handoff(eng: sa.Engine, handoff_id: int) -> int:
    """The person a handoff id belongs to (``leadflow handoff explain HANDOFF_ID``)."""
    with eng.connect() as c:
        pid = c.execute(sa.select(handoffs.c.person_id).where(handoffs.c.handoff_id == handoff_id)).scalar()
    if pid is None:
        raise NotFound(f"handoff explain: no handoff with id {handoff_id} (use --person for a person id)")
    return int(pid)


def why_not(score: dict[str, Any] | None, q: Any, suppressed: list[dict[str, Any]]) -> str:
    """Why a person was not handed off, in the qualification rule's own terms,
    e.g. 'score 67 < min_score 75; grade B'."""
    from leadflow.qualify.rules import GRADE_RANK
    if suppressed:
        s = suppressed[0]
        return f"qualified but suppressed on {s['run_date']}: {s['reason']}"
    if score is None:
        return "never scored (no score for this person yet)"
    parts = []
    sc, grade = score.get("score"), score.get("grade")
    if sc is None or float(sc) < q.min_score:
        parts.append(f"score {sc if sc is None else round(float(sc))} < min_score {q.min_score:g}")
    if GRADE_RANK.get(str(grade), 9) > GRADE_RANK[q.min_grade]:
        parts.append(f"grade {grade} below min_grade {q.min_grade}")
    else:
        parts.append(f"grade {grade}")
    if q.min_probability is not None:
        pr = score.get("probability")
        parts.append(f"probability {'none' if pr is None else f'{float(pr):.3f}'} "
                     f"{'<' if pr is None or float(pr) < q.min_probability else '>='} "
                     f"min_probability {q.min_probability:g}")
    parts.append(f"no hand-raise ({', '.join(q.hand_raiser_touches)})")
    return "; ".join(parts) + f" (scored {score.get('score_date')})"


def explain(eng: sa.Engine, person_id: int, settings: Any = None) -> dict[str, Any]:
    """Everything behind a person's latest handoff (or why there is none, in the qualification
    rule's terms). With ``settings``, score reasons not stored yet are computed now, as of the
    score's day."""
    qualification = settings.qualification if settings is not None else None
    with eng.connect() as c:
        person = c.execute(sa.select(people.c.person_id, people.c.lifecycle_stage, people.c.cycle)
                           .where(people.c.person_id == person_id)).first()
        if person is None:
            raise NotFound(f"handoff explain: no person with id {person_id}")
        h = c.execute(sa.select(handoffs).where(handoffs.c.person_id == person_id)
                      .order_by(handoffs.c.cycle.desc()).limit(1)).first()
        q = sa.select(scores).where(scores.c.person_id == person_id)
        if h is not None:
            q = q.where(scores.c.score_date <= h.run_date)
        sc = c.execute(q.order_by(scores.c.score_date.desc()).limit(1)).first()
        reasons = None
        if sc is not None and sc.reasons is None and settings is not None:
            ctx = RunContext(settings, eng, sc.score_date, make_run_id("explain", sc.score_date), "explain")
            got = score.reasons_for(c, ctx, [person_id])
            reasons = got["reasons"].iloc[0] if len(got) else None
        sup = c.execute(sa.select(suppressions.c.reason, suppressions.c.run_date, suppressions.c.cycle)
                        .where(suppressions.c.person_id == person_id)
                        .order_by(suppressions.c.run_date.desc()).limit(5)).all()
        hist = lifecycle.history(c, person_id)
    out: dict[str, Any] = {"person_id": person_id, "stage": person.lifecycle_stage,
                           "cycle": person.cycle, "handoff": None,
                           "suppressions": [dict(r._mapping) for r in sup],
                           "history": hist.to_dict("records")}
    if h is not None:
        m = dict(h._mapping)
        m["route_reason"] = _json(m.get("route_reason"))
        out["handoff"] = m
    if sc is not None:
        s = dict(sc._mapping)
        s["reasons"] = _json(s.get("reasons")) if reasons is None else reasons
        out["score"] = s
    if h is None and qualification is not None:
        out["why_not"] = why_not(out.get("score"), qualification, out["suppressions"])
    return out


_QUAL = {"hand_raiser": "raised a hand (demo request / contact sales) in this cycle: qualifies at once",
         "threshold": "grade and score passed the qualification thresholds",
         "probability": "model probability passed qualification.min_probability"}


def render(x: dict[str, Any]) -> str:
    """The explanation as plain text (ids and decisions only; no contact data)."""
    lines = [f"person {x['person_id']}: stage {x['stage']}, cycle {x['cycle']}"]
    h = x.get("handoff")
    if h is None:
        lines.append("not handed off" + (f": {x['why_not']}" if x.get("why_not") else " yet"))
        s = x.get("score")
        if s and isinstance(s.get("reasons"), list):
            lines.append(f"latest score {s['score']:g}, grade {s['grade']} on {s['score_date']}:")
            for r in s["reasons"]:
                lines.append(f"  - {r.get('text', r) if isinstance(r, dict) else r}")
    else:
        lines.append(f"handoff {h['handoff_id']} (cycle {h['cycle']}) on {h['run_date']}, status {h['status']}")
        lines.append("why this lead:")
        lines.append(f"  qualified by {h['qualified_by']}: {_QUAL.get(h['qualified_by'], '')}")
        lines.append(f"  score {h['score']}, grade {h['grade']}"
                     + (f", probability {h['probability']:.3f}" if h.get("probability") is not None else "")
                     + f", priority {h['priority']}")
        s = x.get("score")
        if s and isinstance(s.get("reasons"), list):
            for r in s["reasons"]:
                lines.append(f"  - {r.get('text', r) if isinstance(r, dict) else r}")
        rr = h.get("route_reason") or {}
        lines.append("why this owner:")
        lines.append(f"  {h['owner_rep']} by rule {h['route_rule']}: {rr.get('matched', '')}")
        if rr.get("territory"):
            lines.append(f"  territory: {rr['territory']}")
        if rr.get("pool"):
            lines.append(f"  pool: {', '.join(rr['pool'])}")
        for sk in rr.get("skipped", []):
            who = sk.get("rep") or sk.get("owner") or ""
            lines.append(f"  skipped {sk.get('rule')}{(' ' + who) if who else ''}: {sk.get('why')}")
        lines.append("SLA:")
        state = "BREACHED" if h.get("sla_breached") else ("first action at " + str(h["first_action_at"])
                                                          if h.get("first_action_at") else "open")
        lines.append(f"  due {h['sla_due_at']} UTC ({state})")
    for s in x.get("suppressions", []):
        lines.append(f"suppressed on {s['run_date']} (cycle {s['cycle']}): {s['reason']}")
    if x.get("history"):
        lines.append("lifecycle:")
        for e in x["history"]:
            frm = e["from_stage"] if isinstance(e["from_stage"], str) else "(new)"
            lines.append(f"  {e['occurred_at']} cycle {e['cycle']}: {frm} -> {e['to_stage']} ({e['reason']})")
    return "\n".join(lines)
