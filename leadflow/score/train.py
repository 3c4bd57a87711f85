"""Train on the warehouse's own sales outcomes, with a time split and a promotion gate.

Label (per handoff with a known outcome): **converted = the handoff reached an opportunity or
was won**. A handoff whose outcomes are only rejected / lost counts as not converted; one with no
outcome yet, or only "accepted" / "step reached", is still open and is left out.

Features are built as of each handoff's ``handed_off_at`` (point in time). The handoffs are
ordered by that time: the oldest part fits, the next slice calibrates and chooses the algorithm,
the latest slice (the holdout) judges. A candidate is promoted only when its holdout ROC AUC
beats the live model's on that same holdout (or, with no live model, the rule score's).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score
from sqlalchemy.engine import Engine

from leadflow.config import Settings
from leadflow.score import evaluate as ev
from leadflow.score import labels, leakage, monitor, registry, warehouse
from leadflow.score import model as mdl
from leadflow.score.features import FeatureSpec, guard, infer_kind, separation_warnings, single_feature_auc
from leadflow.store import db
from leadflow.store.schema import handoffs as handoffs_t
from leadflow.store.schema import outcomes as outcomes_t
from leadflow.store.schema import people as people_t

log = logging.getLogger("leadflow.score")


def examples(eng: Engine, as_of: datetime | None = None,
             settings: Settings | None = None) -> pd.DataFrame:
    """One row per handoff with a resolved outcome: handoff_id, person_id, as_of, converted,
    inferred.

    Resolved = an outcome that decides it (opportunity/won: converted; rejected/lost: not), or,
    with aging configured (CRMs that report only wins), no win ``aging_days`` after the handoff's
    MQL time (``labels``, the one aging rule): not converted, ``inferred`` True. Handoffs still
    open are left out, and so, under aging, is every handoff younger than its window (won or not)
    unless a loss was reported."""
    aging = labels.aging_on(settings)
    # without aging only handoffs with an outcome can be resolved: an inner join reads just those
    joined = handoffs_t.join(outcomes_t, outcomes_t.c.handoff_id == handoffs_t.c.handoff_id,
                             isouter=aging)
    mql = labels.mql_times()
    q = sa.select(handoffs_t.c.handoff_id, handoffs_t.c.person_id, handoffs_t.c.handed_off_at,
                  people_t.c.first_source, outcomes_t.c.status, outcomes_t.c.occurred_at,
                  mql.c.mql_at) \
        .select_from(joined.outerjoin(people_t, people_t.c.person_id == handoffs_t.c.person_id)
                     .outerjoin(mql, sa.and_(mql.c.person_id == handoffs_t.c.person_id,
                                             mql.c.cycle == handoffs_t.c.cycle)))
    if as_of is not None:
        q = q.where(handoffs_t.c.handed_off_at <= as_of)
    o = db.read_df(eng, q)
    cols = ["handoff_id", "person_id", "as_of", "converted", "inferred"]
    if o.empty:
        return pd.DataFrame(columns=cols)
    seen = pd.to_datetime(o["occurred_at"]).le(pd.Timestamp(as_of)) if as_of is not None \
        else o["occurred_at"].notna()
    o = o.assign(pos=o["status"].isin(labels.POSITIVE) & seen,
                 neg=o["status"].isin(labels.NEGATIVE) & seen)
    g = o.groupby("handoff_id", sort=True).agg(person_id=("person_id", "first"),
                                               as_of=("handed_off_at", "first"),
                                               mql_at=("mql_at", "first"),
                                               source=("first_source", "first"),
                                               converted=("pos", "any"), neg=("neg", "any"))
    days = labels.aging_days(settings, g["source"])
    horizon = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.now()
    st = labels.label_status(labels.aging_start(g["mql_at"], g["as_of"]), g["converted"], g["neg"],
                             days, horizon)
    g["inferred"] = st["inferred"].astype(bool)
    # where aging applies, a handoff younger than its window is left out even when it already
    # won: its losses cannot be known yet, and keeping only its wins would make recent handoffs
    # look like they all convert
    settled = days.isna() | st["aged_at"].le(horizon) | g["neg"]
    g = g[(st["label_status"] != "open") & settled].reset_index()[cols]
    return g.sort_values(["as_of", "handoff_id"], kind="stable").reset_index(drop=True)


def conversions(eng: Engine, as_of: datetime | None = None) -> int:
    ex = examples(eng, as_of)
    return int(ex["converted"].sum()) if len(ex) else 0


def refine(specs: list[FeatureSpec], X: pd.DataFrame) -> list[FeatureSpec]:
    """Set attribute kinds from the data and drop inputs that never have a value."""
    out = []
    for s in specs:
        if s.name not in X.columns or X[s.name].isna().all():
            continue
        kind = s.kind
        if s.name not in warehouse.PEOPLE_FEATURES and kind == "categorical":
            kind = infer_kind(X[s.name])
        out.append(FeatureSpec(s.name, kind, s.known_at, s.label))
    return out


def time_split(n: int, holdout: float, cal: float) -> tuple[slice, slice, slice]:
    a = int(n * (1 - holdout - cal))
    b = int(n * (1 - holdout))
    return slice(0, a), slice(a, b), slice(b, n)


def date_split(times: pd.Series, split: date, cal: float) -> tuple[slice, slice, slice]:
    """Holdout = examples at or after ``split``; the last ``cal`` share before it calibrates."""
    b = int(np.searchsorted(pd.to_datetime(times).to_numpy(), np.datetime64(pd.Timestamp(split))))
    a = int(b * (1 - cal))
    return slice(0, a), slice(a, b), slice(b, len(times))


def too_few(y: np.ndarray, inferred: int, m: Any, aging_on: bool) -> str | None:
    """One line saying why there is no model yet (counts and what to configure), or None."""
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if pos >= m.min_conversions and neg >= m.min_negatives:
        return None
    need = []
    if pos < m.min_conversions:
        need.append(f"{pos} conversions < {m.min_conversions} (model.min_conversions)")
    if neg < m.min_negatives:
        need.append(f"{neg} non-converted handoffs ({inferred} inferred by aging) < "
                    f"{m.min_negatives} (model.min_negatives)")
    hint = "" if pos < m.min_conversions or aging_on else (
        "; a CRM that reports only wins needs feedback.aging_days (or a source's aging_days) "
        "so handoffs with no win after that many days count as lost")
    return "rules only: " + " and ".join(need) + hint


def split_problem(y: np.ndarray, parts: dict[str, slice]) -> str | None:
    """A slice without both outcomes cannot fit, calibrate or judge: say which, in one line."""
    for name, sl in parts.items():
        part = y[sl]
        if len(part) == 0 or part.min() == part.max():
            return (f"rules only: the {name} slice has {len(part)} examples, "
                    f"{int(part.sum())} converted - it needs both outcomes (move --split-date, or "
                    "change model.holdout_share / model.calibration_share)")
    return None


def train(settings: Settings, eng: Engine, as_of: datetime, *, allow_leaky: bool = False,
          frame: tuple[pd.DataFrame, np.ndarray, pd.Series] | None = None,
          confirm_leakage: str | None = None, split_date: date | None = None) -> dict[str, Any]:
    """Train, register and (if it wins) promote a model. Returns counts and a message.

    ``frame`` (features, labels, times) skips the warehouse read: benchmarks use it.
    ``split_date``: the holdout is the handoffs from that day on (else the latest
    ``model.holdout_share``). A candidate the leakage audit flags is registered but not
    promoted unless ``confirm_leakage`` names the person who reviewed the findings (recorded in
    the registry). Too few conversions or non-conversions: rules only, and the message says why.
    """
    captured: pd.Series | None = None
    m = settings.model
    if frame is None:
        ex = examples(eng, as_of, settings)
        y = ex["converted"].to_numpy(dtype=int)
        n_inf = int(ex["inferred"].sum()) if len(ex) else 0
    else:
        X, y, times = frame
        n_inf = 0
    n_conv = int(y.sum())
    why = too_few(y, n_inf, m, labels.aging_on(settings))
    if why is None:
        parts = date_split(times if frame is not None else ex["as_of"], split_date,
                           m.calibration_share) if split_date is not None else \
            time_split(len(y), m.holdout_share, m.calibration_share)
        why = split_problem(y, dict(zip(("training", "calibration", "holdout"), parts)))
    if why is not None:
        return {"status": "rules_only", "examples": int(len(y)), "conversions": n_conv,
                "message": why}
    if frame is None:
        ppl = warehouse.read_people(eng)
        tch = warehouse.read_touches(eng, as_of)
        X, _, _ = warehouse.build_frame(ex, ppl, tch, settings)
        captured = ppl.drop_duplicates("person_id").set_index("person_id")["created_at"] \
            .reindex(ex["person_id"]).reset_index(drop=True)
        times = pd.to_datetime(ex["as_of"])
    specs = guard(refine(warehouse.feature_specs(settings, allow_leaky), X), allow_leaky)
    cols = [s.name for s in specs]
    tr, ca, te = parts
    Xs = X[cols]
    aucs = single_feature_auc(Xs.iloc[tr], y[tr], Xs.iloc[te], y[te], specs)
    warnings = separation_warnings(aucs)
    leaky = [s.name for s in specs if s.known_at == "after_contact"]
    if leaky:
        warnings.insert(0, "diagnostic: after-contact feature(s) included: " + ", ".join(leaky))
    for w in warnings:
        log.warning("%s", w)
    comp = ev.compare(specs, m.algorithms, (Xs.iloc[tr], y[tr]), (Xs.iloc[ca], y[ca]),
                      (Xs.iloc[te], y[te]))
    best = comp.best
    res = comp.results[best]
    nb = ev.naive_bayes_baseline(specs, (Xs.iloc[tr], y[tr]), (Xs.iloc[ca], y[ca]),
                                 (Xs.iloc[te], y[te]))
    found = leakage.audit(
        specs=specs, predict=comp.model.predict_proba, X_test=Xs.iloc[te], y_test=y[te],
        X_train=Xs.iloc[tr], y_train=y[tr], holdout_auc=res["roc_auc"],
        captured=captured.iloc[tr] if captured is not None else None, limits=m.leakage,
        refit=lambda cols: mdl.fit(best, [s for s in specs if s.name in cols],
                                   Xs.iloc[tr][cols], y[tr]).raw)
    for f in found.findings:
        if f.flag:
            warnings.append("leakage: " + f.message)
            log.warning("leakage: %s", f.message)
    # the explainer: the logistic fit (trained anyway when listed, else fitted now)
    lin = comp.models.get("logistic") or mdl.fit("logistic", specs, Xs.iloc[tr], y[tr])
    explainer = mdl.LinearExplainer.from_pipeline(lin.base, Xs.iloc[tr])

    window = (times.iloc[0].date(), times.iloc[-1].date())
    holdout_def = {"from": str(times.iloc[te.start]), "to": str(times.iloc[-1]),
                   "rows": int(te.stop - te.start), "positives": int(y[te].sum())}
    digest = hashlib.sha1(json.dumps([len(y), int(y.sum()), str(window), cols, best,
                                      res["roc_auc"]], default=str).encode()).hexdigest()[:8]
    version = f"{best}-{window[1].isoformat()}-{digest}"
    bundle = registry.Bundle(version, best, comp.model, explainer, [s.as_dict() for s in specs],
                             {"attributes": warehouse.declared_attributes(settings)})
    path = registry.save(bundle, settings.artifacts_dir)

    # the gate: the live model (or the rules) on the same holdout
    live = registry.current(eng)
    if live is not None and live["version"] != version:
        try:
            old = registry.load(live["artifact_path"])
            p_old = old.model.predict_proba(X.iloc[te].reindex(
                columns=[s["name"] for s in old.specs]))
            base_auc, base_name = float(roc_auc_score(y[te], p_old)), live["version"]
        except Exception as e:  # noqa: BLE001 - an unreadable live model must not block training
            log.warning("live model %s could not be scored on the holdout (%s)",
                        live["version"], type(e).__name__)
            base_auc, base_name = 0.5, f"{live['version']} (unreadable)"
    else:
        rule = (X["fit_points"] + X["engagement_points"]).to_numpy()[te]
        base_auc = float(roc_auc_score(y[te], rule)) if len(np.unique(y[te])) == 2 else 0.5
        base_name = "rules"
    gain = (res["roc_auc"] or 0) - base_auc
    promoted = live is not None and live["version"] == version or gain > m.min_gain
    review = registry.leakage_review(found.as_dict(), confirm_leakage, as_of)
    refused = promoted and review["decision"] == "refused"
    if refused:
        promoted = live is not None and live["version"] == version
    metrics = {"holdout": {k: v for k, v in res.items()}, "compared": {a: {k: r[k] for k in (
        "roc_auc", "pr_auc", "brier", "lift_top_decile", "calibration_error", "selection_roc_auc")}
        for a, r in comp.results.items()}, "baseline": {"name": base_name,
                                                        "roc_auc": round(base_auc, 4)},
        "naive_bayes": {k: nb[k] for k in ("roc_auc", "pr_auc", "brier", "lift_top_decile",
                                           "calibration_error")},
        "single_feature_auc": aucs, "warnings": warnings,
        "permutation_auc_loss": found.importance,
        # what the weekly monitor compares live scores and inputs with (PSI)
        "reference": monitor.reference(comp.model.predict_proba(Xs.iloc[tr]), Xs.iloc[tr], specs,
                                       found.importance, m.monitoring.top_features)}
    registry.record(eng, version=version, algorithm=best, trained_at=as_of,
                    window_start=window[0], window_end=window[1], features=bundle.specs,
                    metrics=metrics, holdout=holdout_def, artifact_path=path, leakage=review)
    if promoted:
        registry.promote(eng, version, confirmed_by=confirm_leakage)
    verdict = (f"promoted {version}: holdout ROC AUC {res['roc_auc']} vs {base_name} "
               f"{base_auc:.4f}") if promoted else (
        f"kept {base_name}: candidate {version} ROC AUC {res['roc_auc']} does not beat "
        f"{base_auc:.4f} by more than {m.min_gain}")
    if refused:
        verdict = (f"not promoted {version}: the leakage audit flagged "
                   f"{', '.join(found.columns) or 'the model'}; fix the declarations, or re-run "
                   "with --confirm-leakage NAME after review to promote it anyway")
    return {"status": "promoted" if promoted else "refused" if refused else "candidate",
            "version": version, "leakage": review,
            "examples": int(len(y)), "conversions": n_conv, "algorithm": best,
            "roc_auc": res["roc_auc"], "baseline_roc_auc": round(base_auc, 4),
            "baseline_name": base_name, "naive_bayes": metrics["naive_bayes"], "compared": metrics["compared"],
            "holdout": holdout_def, "inferred_negatives": n_inf,
            "warnings": warnings, "message": verdict}
