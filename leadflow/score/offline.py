"""Evaluate the modelling approach on any lead file with a known outcome (no warehouse needed).

The file is read through a source definition (``leadflow.ingest.read_mapped``), so the mapping,
value maps and each attribute's ``known_at`` come from configuration; nothing here knows a
particular file. The outcome must be mapped to the canonical ``converted`` field.

Split: when the file has ``created_at`` the latest 20% is the holdout (time-based, like training
in the warehouse); otherwise a stratified random 20% (seeded). The training part is divided again
the same way into a fitting slice and a calibration slice.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from leadflow.config import Settings, Source
from leadflow.errors import InputError
from leadflow.score import evaluate as ev
from leadflow.score import leakage
from leadflow.score import model as mdl
from leadflow.score.features import guard, separation_warnings, single_feature_auc, specs_for_frame
from leadflow.vocab.booleans import parse_bools

log = logging.getLogger("leadflow.score")
TARGET = "converted"


def _label(df: pd.DataFrame, source: Source) -> tuple[np.ndarray, np.ndarray, dict[str, int], list[str]]:
    """(converted, known, counts of rows left out, warnings): a row whose outcome is blank is
    still open, one whose outcome reads neither yes nor no is named (rows, column, the fix)."""
    column = next((k for k, v in source.mapping.items() if v == TARGET), TARGET)
    unreadable = np.zeros(len(df), dtype=bool)
    reasons = df.attrs.get("reasons", {})
    if TARGET in df.columns and reasons:
        marker = f"{TARGET} ("
        bad = {r for r, rs in reasons.items() if any(str(x).startswith(marker) for x in rs)}
        unreadable = df["row_number"].isin(bad).to_numpy() if "row_number" in df.columns else unreadable
    if TARGET not in df.columns:
        raise InputError(f"source {source.name}: no outcome column mapped to canonical '{TARGET}'")
    y = df[TARGET]
    if not pd.api.types.is_bool_dtype(y):
        y, bad_words = parse_bools(y)      # the shared yes/no vocabulary; unreadable -> unknown
        unreadable |= bad_words.to_numpy()
    known = y.notna().to_numpy()
    fix = (f"map them to yes or no under value_maps: {TARGET} (or value_maps: '{column}') in the "
           "source definition")
    if not known.any():
        if unreadable.any():
            raise InputError(f"source {source.name}: outcome column '{column}': none of its "
                             f"{int(unreadable.sum())} values reads as yes or no; {fix}")
        raise InputError(f"source {source.name}: no outcome column mapped to canonical '{TARGET}' "
                         f"(column '{column}' is empty)")
    left = {"outcome_unreadable": int(unreadable.sum()), "outcome_missing": int((~known & ~unreadable).sum())}
    warnings = []
    if left["outcome_unreadable"]:
        rows = df["row_number"].to_numpy()[unreadable] if "row_number" in df.columns \
            else np.flatnonzero(unreadable) + 1
        shown = ", ".join(str(int(r)) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        warnings.append(f"{left['outcome_unreadable']} rows left out: their outcome (column '{column}') "
                        f"reads neither yes nor no (data row {shown}); {fix}")
    if left["outcome_missing"]:
        log.info("%d rows without an outcome yet (column '%s' blank) left out", left["outcome_missing"], column)
    return y.astype("boolean").to_numpy(dtype=bool, na_value=False), known, left, warnings


def split(df: pd.DataFrame, y: np.ndarray, share: float, seed: int,
          at: date | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Positions of (earlier, later) rows: before / from ``at`` when given (a time split at a
    date), else by created_at when known, else stratified random."""
    pos = np.arange(len(df))
    if at is not None:
        if "created_at" not in df.columns or df["created_at"].isna().all():
            raise InputError("--split-date needs a created_at column mapped in the source")
        t = pd.to_datetime(df["created_at"])
        later = (t >= pd.Timestamp(at)).to_numpy()
        known = t.notna().to_numpy()
        return pos[known & ~later], pos[known & later], f"time split at {at}"
    if "created_at" in df.columns and df["created_at"].notna().mean() > 0.9:
        order = np.argsort(pd.to_datetime(df["created_at"]).to_numpy(), kind="stable")
        cut = int(len(order) * (1 - share))
        return order[:cut], order[cut:], "time"
    a, b = train_test_split(pos, test_size=share, stratify=y, random_state=seed)
    return np.sort(a), np.sort(b), "stratified_random"


def _refitter(algorithm: str, specs: list, X: pd.DataFrame, y: np.ndarray):
    """Refit ``algorithm`` on a subset of columns (uncalibrated: only ranking is judged)."""
    def refit(cols: list[str]):
        sub = [s for s in specs if s.name in cols]
        return mdl.fit(algorithm, sub, X[cols], y).raw
    return refit


def evaluate_file(settings: Settings, source_name: str, path: Path | None = None, *,
                  allow_leaky: bool = False, seed: int = 0,
                  algorithms: list[str] | None = None,
                  features: list[str] | None = None,
                  split_date: date | None = None) -> dict[str, Any]:
    """Fit and compare the model families on a file; returns metrics, warnings and the split.

    By default every capture-time feature is used and after-contact ones are left out (and
    listed). ``features`` picks columns explicitly: naming an after-contact one is refused
    (LeakageError) unless ``allow_leaky``."""
    from leadflow.ingest import read_mapped
    source = settings.source(source_name)
    df = read_mapped(source, path, settings.base_dir)
    y, known, left_out, warnings = _label(df, source)
    df, y = df[known].reset_index(drop=True), y[known]
    specs = specs_for_frame(df, source.attributes, TARGET)
    if features is not None:
        unknown = sorted(set(features) - {s.name for s in specs})
        if unknown:
            raise InputError(f"source {source_name}: not a usable feature: {', '.join(unknown)}")
        specs = guard([s for s in specs if s.name in features], allow_leaky)
    leaky = [s.name for s in specs if s.known_at == "after_contact"]
    if not allow_leaky:
        dropped = leaky
        specs = [s for s in specs if s.known_at == "capture"]
    else:
        dropped = []
    guard(specs, allow_leaky)
    if not specs:
        raise InputError(f"source {source_name}: no usable features (declare attributes with known_at)")
    if leaky and allow_leaky:
        warnings.append("diagnostic run: after-contact feature(s) included: " + ", ".join(leaky)
                        + " - these are unknown at handoff, so the figures overstate a real score")
    tr, te, how = split(df, y, settings.model.holdout_share, seed, split_date)
    for name, part in (("training", tr), ("holdout", te)):
        if len(part) == 0 or y[part].min() == y[part].max():
            raise InputError(f"source {source_name}: the {name} part ({how}) has {len(part)} rows, "
                             f"{int(y[part].sum())} converted - it needs both outcomes")
    X = df[[s.name for s in specs]]
    if how != "stratified_random":      # calibrate on the slice just before the holdout, like in production
        fit_pos, cal_pos, _ = split(df.iloc[tr], y[tr], settings.model.calibration_share, seed + 1)
        fit_pos, cal_pos = tr[fit_pos], tr[cal_pos]
        cal = (X.iloc[cal_pos], y[cal_pos])
    else:                  # no time order: out-of-fold calibration over the training rows
        fit_pos, cal_pos, cal = tr, np.array([], dtype=int), None
    aucs = single_feature_auc(X.iloc[tr], y[tr], X.iloc[te], y[te], specs)
    warnings += separation_warnings(aucs)
    for w in warnings:
        log.warning("%s", w)
    algos = algorithms or settings.model.algorithms
    comp = ev.compare(specs, algos, (X.iloc[fit_pos], y[fit_pos]), cal, (X.iloc[te], y[te]))
    nb = ev.naive_bayes_baseline(specs, (X.iloc[fit_pos], y[fit_pos]), cal, (X.iloc[te], y[te]))
    found = leakage.audit(
        specs=specs, predict=comp.model.predict_proba, X_test=X.iloc[te], y_test=y[te],
        X_train=X.iloc[tr], y_train=y[tr], holdout_auc=comp.results[comp.best]["roc_auc"],
        captured=df["created_at"].iloc[tr] if "created_at" in df.columns else None,
        limits=settings.model.leakage, refit=_refitter(comp.best, specs, X.iloc[fit_pos], y[fit_pos]))
    for f in found.findings:
        if f.flag:
            warnings.append("leakage: " + f.message)
            log.warning("leakage: %s", f.message)
    return {
        "source": source_name, "rows": int(len(df)), "left_out": left_out, "conversions": int(y.sum()),
        "split": how, "seed": seed, "train_rows": int(len(fit_pos)),
        "calibration_rows": int(len(cal_pos)) if cal is not None else "out-of-fold",
        "holdout_rows": int(len(te)),
        "features": [s.as_dict() for s in specs], "excluded_after_contact": dropped,
        "single_feature_auc": aucs, "warnings": warnings, "best": comp.best,
        "leakage": found.as_dict(),
        "results": comp.results, "naive_bayes": nb,
        "_y_test": y[te], "_p_test": comp.test_probability,
    }
