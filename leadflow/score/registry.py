"""Model registry: the ``models`` table plus one joblib artifact per version.

A version is ``<algorithm>-<window end>-<hash of training data and settings>``, so retraining on
the same data gives the same version (idempotent) and different data a new one. Statuses:
``candidate`` (trained, not live), ``promoted`` (the one live model), ``retired`` (was live).
Promotion happens only through :func:`promote`, which the training gate calls when a candidate
beats the live model on the same holdout, or an operator calls explicitly (CLI).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadflow.errors import LeadflowError
from leadflow.store import db, shared
from leadflow.store.schema import models as models_t


class RegistryError(LeadflowError):
    """A model version is unknown or its artifact is missing."""


@dataclass
class Bundle:
    """What an artifact holds: the calibrated model, its explainer and how to build features."""

    version: str
    algorithm: str
    model: Any                      # leadflow.score.model.Calibrated
    explainer: Any                  # leadflow.score.model.LinearExplainer
    specs: list[dict[str, Any]]     # FeatureSpec dicts
    feature_config: dict[str, Any]  # what the warehouse feature builder needs (attributes, ...)


def save(bundle: Bundle, artifacts_dir: Path) -> Path:
    """Store the artifact on the shared storage (the scoring task may run on another worker),
    written whole: a reader never sees half a file."""
    buf = io.BytesIO()
    joblib.dump(bundle, buf, compress=3)
    return shared.put(artifacts_dir / f"{bundle.version}.joblib", buf.getvalue())


def load(path: str | Path) -> Bundle:
    """The artifact at ``path``: a local path or a storage URL as ``save`` returned it."""
    p = shared.location(str(path))
    if not shared.exists(p):
        raise RegistryError(f"model artifact {path} is missing")
    return joblib.load(io.BytesIO(shared.get(p)))


def record(eng: Engine, *, version: str, algorithm: str, trained_at: datetime,
           window_start: date | None, window_end: date | None, features: list[dict[str, Any]],
           metrics: dict[str, Any], holdout: dict[str, Any], artifact_path: Path,
           leakage: dict[str, Any] | None = None) -> None:
    """Insert the version as a candidate (a re-run with the same version changes nothing)."""
    row = dict(version=version, algorithm=algorithm, trained_at=trained_at,
               window_start=window_start, window_end=window_end, features=features,
               metrics=metrics, holdout=holdout, artifact_path=str(artifact_path),
               status="candidate", leakage=leakage)
    with db.transaction(eng) as c:
        db.insert_ignore(c, models_t, [row], ["version"])


def list_models(eng: Engine) -> pd.DataFrame:
    q = sa.select(models_t).order_by(models_t.c.trained_at.desc(), models_t.c.version)
    return db.read_df(eng, q)


def get(eng: Engine, version: str) -> dict[str, Any]:
    df = db.read_df(eng, sa.select(models_t).where(models_t.c.version == version))
    if df.empty:
        raise RegistryError(f"no model version {version!r} in the registry (see `leadflow model list`)")
    return df.iloc[0].to_dict()


def current(eng: Engine) -> dict[str, Any] | None:
    """The promoted model's registry row, or None when scoring is rules only."""
    df = db.read_df(eng, sa.select(models_t).where(models_t.c.status == "promoted"))
    return None if df.empty else df.iloc[0].to_dict()


class LeakageRefused(RegistryError):
    """A flagged model was to be promoted without a person confirming the leakage review."""


def leakage_review(audit: dict[str, Any], confirmed_by: str | None,
                   at: datetime) -> dict[str, Any]:
    """The registry's record of the leakage audit and the decision taken on it:
    ``clear`` (nothing flagged), ``refused`` (flagged, nobody confirmed) or ``confirmed``
    (flagged, promoted on a named person's confirmation)."""
    decision = "clear" if not audit.get("flagged") else "confirmed" if confirmed_by else "refused"
    out = {"flagged": bool(audit.get("flagged")), "columns": audit.get("columns", []),
           "findings": [f["message"] for f in audit.get("findings", []) if f.get("flag")],
           "decision": decision}
    if decision == "confirmed":
        out.update(confirmed_by=confirmed_by, confirmed_at=str(at))
    return out


def _as_dict(v: Any) -> dict[str, Any]:
    if isinstance(v, dict):
        return v
    if isinstance(v, str) and v:
        import json
        return json.loads(v)
    return {}


def promote(eng: Engine, version: str, confirmed_by: str | None = None) -> None:
    """Make ``version`` the live model; the previous live one becomes retired (one transaction).

    A version the leakage audit flagged is refused unless ``confirmed_by`` names a person; the
    confirmation is written into the version's ``leakage`` record."""
    row = get(eng, version)
    if not Path(row["artifact_path"]).is_file():
        raise RegistryError(f"model {version}: artifact {row['artifact_path']} is missing")
    review = _as_dict(row.get("leakage"))
    if review.get("flagged") and review.get("decision") != "confirmed":
        if not confirmed_by:
            why = ", ".join(review.get("columns", [])) or "implausible AUC"
            raise LeakageRefused(f"model {version} was flagged by the leakage audit ({why}); "
                                 "promote it only after review, with --confirm-leakage NAME")
        review.update(decision="confirmed", confirmed_by=confirmed_by,
                      confirmed_at=str(datetime.utcnow().replace(microsecond=0)))
    with db.transaction(eng) as c:
        if review.get("flagged"):
            c.execute(models_t.update().where(models_t.c.version == version).values(leakage=review))
        c.execute(models_t.update().where(models_t.c.status == "promoted")
                  .where(models_t.c.version != version).values(status="retired"))
        c.execute(models_t.update().where(models_t.c.version == version).values(status="promoted"))
