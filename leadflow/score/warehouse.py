"""Point-in-time features from the warehouse: people attributes and touches as of a moment.

One builder serves both daily scoring (every active person as of ``ctx.as_of``) and training
(every handoff with a known outcome as of its own ``handed_off_at``), so the model sees at
training time exactly what it will see when scoring. Touches after the moment are invisible;
people columns that change after sales contact (lifecycle, current opt-out) are declared
``after_contact`` and never used; source attributes are used only when declared ``capture``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadflow.canonical import TOUCH_TYPES
from leadflow.config import Settings
from leadflow.score import engagement as eng_
from leadflow.score import rules
from leadflow.score.features import (
    CAPTURE_TIME_FEATURES,
    LABELS,
    PEOPLE_FEATURES,
    FeatureSpec,
    KnownAt,
    capture_time_features,
)
from leadflow.store import db
from leadflow.store.schema import people as people_t
from leadflow.store.schema import touches as touches_t

PEOPLE_COLUMNS = ["person_id", "created_at", "lifecycle_stage", "erased_at", "job_title",
                  "company_size", "attributes", *[c for c in PEOPLE_FEATURES if c not in
                                                  ("company_size", "lifecycle_stage")]]
RECENT_DAYS = 30.0
# What marketing knows beside the first campaign (a people column): the last campaign and the
# first and last landing page seen up to each example's moment, from the touches. High-cardinality
# text: the model keeps the frequent levels and pools the rest as "(other)" (FramePrep).
MARKETING_FEATURES: dict[str, str] = {"last_campaign_id": "Last campaign",
                                      "first_landing_page": "First landing page",
                                      "last_landing_page": "Last landing page"}


def declared_attributes(settings: Settings) -> dict[str, str]:
    """Attribute column -> known_at over all lead sources (after_contact wins on conflict)."""
    out: dict[str, str] = {}
    for s in settings.sources:
        if s.kind != "inbound_leads":
            continue
        for col, when in s.attributes.items():
            out[col] = "after_contact" if "after_contact" in (when, out.get(col)) else when
    return out


def read_people(conn: Connection | Engine, *, active_as_of: datetime | None = None,
                ids: Sequence[int] | None = None) -> pd.DataFrame:
    """People rows; with ``active_as_of``: only those a score is for (not customer,
    disqualified or erased, and already known at that moment); with ``ids``: only those people."""
    cols = [people_t.c[c] for c in dict.fromkeys(PEOPLE_COLUMNS) if c in people_t.c]
    q = sa.select(*_raw_columns(cols))
    if active_as_of is not None:
        q = q.where(people_t.c.erased_at.is_(None),
                    people_t.c.lifecycle_stage.notin_(["customer", "disqualified"]),
                    people_t.c.created_at <= active_as_of)
    if ids is not None:
        df = db.read_ids(conn, q, people_t.c.person_id, sorted({int(i) for i in ids}))
        return _typed(df.infer_objects().sort_values("person_id", ignore_index=True), cols)
    return _typed(_read(conn, q.order_by(people_t.c.person_id)), cols)


def read_touches(conn: Connection | Engine, until: datetime,
                 ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Touches up to ``until``; with ``ids``: only those people's (campaign and url included:
    the last campaign and landing pages are features)."""
    cols = [touches_t.c.person_id, touches_t.c.touch_type, touches_t.c.occurred_at,
            touches_t.c.campaign_id, touches_t.c.url]
    q = sa.select(*_raw_columns(cols)) \
        .where(touches_t.c.person_id.is_not(None), touches_t.c.occurred_at <= until)
    if ids is not None:
        return _typed(db.read_ids(conn, q, touches_t.c.person_id, sorted({int(i) for i in ids}))
                      .infer_objects(), cols)
    return _typed(_read(conn, q), cols)


def _raw_columns(cols: list[sa.Column]) -> list[Any]:
    """Timestamps and JSON fetched as the driver gives them (text on SQLite), so a million rows
    are parsed in one vectorised call below instead of one Python call per value."""
    return [sa.type_coerce(c, sa.Text).label(c.name)
            if isinstance(c.type, (sa.DateTime, sa.JSON)) else c for c in cols]


def _read(conn: Connection | Engine, q: Any) -> pd.DataFrame:
    return db.read_frame(conn, q).infer_objects()


def _typed(df: pd.DataFrame, cols: list[sa.Column]) -> pd.DataFrame:
    """Timestamps parsed in one call (SQLite text or PostgreSQL datetimes alike); JSON is left
    as fetched and parsed only where declared attributes are read (``attribute_frame``)."""
    for c in cols:
        if c.name in df.columns and isinstance(c.type, sa.DateTime):
            df[c.name] = pd.to_datetime(df[c.name], format="ISO8601")
    return df


def attribute_frame(people: pd.DataFrame, declared: dict[str, str]) -> pd.DataFrame:
    """Declared attributes from the people.attributes JSON as columns (others ignored)."""
    if not declared or "attributes" not in people.columns:
        return pd.DataFrame(index=people.index)
    vals = people["attributes"].map(
        lambda a: a if isinstance(a, dict) else json.loads(a) if isinstance(a, str) else {})
    vals = vals.map(lambda a: a if isinstance(a, dict) else {})
    df = pd.DataFrame.from_records(vals.tolist(), index=people.index)
    keep = [c for c in declared if c in df.columns]
    return df[keep]


def feature_specs(settings: Settings, allow_leaky: bool = False) -> list[FeatureSpec]:
    """The warehouse model's inputs (all declared; after-contact ones only when allowed)."""
    specs = [FeatureSpec(c, k, w, LABELS.get(c, c)) for c, (k, w) in PEOPLE_FEATURES.items()]
    for col, when in declared_attributes(settings).items():
        specs.append(FeatureSpec(col, "categorical", cast(KnownAt, when), col))   # kind refined by the data
    derived = ["lead_age_days", "days_since_last_touch", "touches_total", "engagement_points",
               "fit_points"]
    specs += [FeatureSpec(c, "numeric", "capture", LABELS.get(c, c.replace("_", " "))) for c in derived]
    specs += [FeatureSpec(c, "categorical", "capture", LABELS[c]) for c in CAPTURE_TIME_FEATURES]
    specs += [FeatureSpec(c, "categorical", "capture", label) for c, label in MARKETING_FEATURES.items()]
    for tt in TOUCH_TYPES:
        name = tt.replace("_", " ")
        specs.append(FeatureSpec(f"n_{tt}", "numeric", "capture", f"{name} touches so far"))
        specs.append(FeatureSpec(f"n30_{tt}", "numeric", "capture", f"{name} touches in 30 days"))
    return specs if allow_leaky else [s for s in specs if s.known_at == "capture"]


def build_frame(examples: pd.DataFrame, people: pd.DataFrame, touches: pd.DataFrame,
                settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Features per example row as of its ``as_of``.

    ``examples``: columns ``person_id`` and ``as_of`` (one row per thing to score; its index is
    kept). Returns (features, fit contributions, engagement contributions keyed by row position
    in ``examples`` as column ``row``).
    """
    scoring = settings.scoring
    ex = examples[["person_id", "as_of"]].reset_index(drop=True)
    ex_ids = ex["person_id"].to_numpy()
    ppl = people.drop_duplicates("person_id").set_index("person_id")
    if len(ppl) == len(ex_ids) and np.array_equal(ppl.index.to_numpy(), ex_ids):
        base = ppl.reset_index(drop=True)           # daily scoring: already one row per example
    else:
        base = ppl.reindex(ex_ids).reset_index(drop=True)
    feats = pd.DataFrame(index=ex.index)
    for c in PEOPLE_FEATURES:
        if c in base.columns:
            feats[c] = base[c].array                # no per-row Python objects for text columns
    attrs = attribute_frame(base, declared_attributes(settings))
    for c in attrs.columns:
        feats[c] = attrs[c].array
    as_of = pd.to_datetime(ex["as_of"]).to_numpy(dtype="datetime64[ns]")
    created = pd.to_datetime(base["created_at"]).to_numpy(dtype="datetime64[ns]")
    feats["lead_age_days"] = (as_of - created).astype("timedelta64[s]").astype(float) / 86400.0
    for k, v in capture_time_features(base["created_at"]).items():
        feats[k] = v

    # touches, each against its example's own moment (row = position in ``examples``)
    t_pid = touches["person_id"].to_numpy()
    if ex["person_id"].is_unique:
        pos = pd.Index(ex_ids).get_indexer(t_pid)    # one example per person: a lookup
        t_idx = np.flatnonzero(pos >= 0)
        t_row = pos[t_idx]
    else:                                            # training: a person may have several
        m = pd.DataFrame({"person_id": t_pid, "t": np.arange(len(t_pid))}).merge(
            pd.DataFrame({"person_id": ex_ids, "row": np.arange(len(ex))}), on="person_id")
        t_idx, t_row = m["t"].to_numpy(), m["row"].to_numpy()
    occ = pd.to_datetime(touches["occurred_at"]).to_numpy(dtype="datetime64[ns]")[t_idx]
    t_as_of = as_of[t_row]
    age = (t_as_of - occ).astype("timedelta64[s]").astype(float) / 86400.0
    seen = age >= 0
    t_idx, t_row, occ, t_as_of, age = t_idx[seen], t_row[seen], occ[seen], t_as_of[seen], age[seen]
    tcodes, ttypes = pd.factorize(touches["touch_type"], use_na_sentinel=True)
    tcodes = tcodes[t_idx]
    ttypes = [str(x) for x in ttypes]
    n, nt = len(ex), len(ttypes)
    ok = tcodes >= 0
    def per_type(mask: np.ndarray) -> np.ndarray:
        flat = t_row[mask] * nt + tcodes[mask]
        return np.bincount(flat, minlength=n * nt).reshape(n, nt)
    counts = per_type(ok)
    recent = per_type(ok & (age <= RECENT_DAYS))
    for tt in TOUCH_TYPES:
        j = ttypes.index(tt) if tt in ttypes else None
        feats[f"n_{tt}"] = counts[:, j] if j is not None else 0
        feats[f"n30_{tt}"] = recent[:, j] if j is not None else 0
    feats["touches_total"] = np.bincount(t_row, minlength=n)
    last = np.full(n, np.inf)
    np.minimum.at(last, t_row, age)
    feats["days_since_last_touch"] = np.where(np.isinf(last), np.nan, last)
    for k, v in marketing_features(touches, t_idx, t_row, occ, n).items():
        feats[k] = v
    if "first_campaign_id" in base.columns:    # no campaign on any touch yet: the first one is the last
        feats["last_campaign_id"] = feats["last_campaign_id"].fillna(pd.Series(base["first_campaign_id"].array))

    t = pd.DataFrame({"row": t_row, "touch_type": pd.Categorical.from_codes(
        tcodes, categories=pd.Index(ttypes, dtype=object)) if nt else
        pd.Series([], dtype=object), "occurred_at": occ})
    econ = eng_.contributions(t, scoring, pd.Series(t_as_of), key="row")
    feats["engagement_points"] = eng_.points(econ, feats.index, key="row").to_numpy()
    rule_input = base.assign(**{c: attrs[c].to_numpy() for c in attrs.columns}) \
        if len(attrs.columns) else base
    fcon = rules.fit_contributions(rule_input, scoring)
    feats["fit_points"] = fcon.sum(axis=1).to_numpy() if fcon.shape[1] else 0.0
    feats.index = examples.index
    return feats, fcon.set_axis(examples.index), econ


def _first_last(values: pd.Series, rows: np.ndarray, occ: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per example row, the earliest and the latest non-missing value (by time, then input order)."""
    first, last = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
    ok = values.notna().to_numpy()
    if not ok.any():
        return first, last
    r, t, v = rows[ok], occ[ok], values.to_numpy(dtype=object)[ok]
    order = np.lexsort((t, r))                  # stable: same-time touches keep their order
    r, v = r[order], v[order]
    starts = np.r_[0, np.flatnonzero(np.diff(r)) + 1]
    ends = np.r_[starts[1:] - 1, len(r) - 1]
    first[r[starts]], last[r[ends]] = v[starts], v[ends]
    return first, last


def marketing_features(touches: pd.DataFrame, t_idx: np.ndarray, t_row: np.ndarray, occ: np.ndarray,
                       n: int) -> dict[str, np.ndarray]:
    """Last campaign and first / last landing page per example from its visible touches
    (``t_idx`` rows of ``touches``, ``t_row`` their example). A page is the url without its
    query string or fragment (campaign tags and click ids, not a different page)."""
    none = pd.Series([None] * len(t_idx), dtype=object)
    camp = touches["campaign_id"].iloc[t_idx].reset_index(drop=True) if "campaign_id" in touches else none
    url = touches["url"].iloc[t_idx].reset_index(drop=True) if "url" in touches else none
    page = url.astype("string").str.replace(r"[?#].*$", "", regex=True).replace("", pd.NA).astype(object)
    first_page, last_page = _first_last(page.where(page.notna(), None), t_row, occ, n)
    _, last_camp = _first_last(camp.where(camp.notna() & (camp.astype(str) != ""), None), t_row, occ, n)
    return {"last_campaign_id": last_camp, "first_landing_page": first_page, "last_landing_page": last_page}


def rule_input(people: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """People rows with declared attributes as columns: what fit rules and reasons read."""
    attrs = attribute_frame(people, declared_attributes(settings))
    if attrs.empty:
        return people
    return pd.concat([people, attrs.loc[:, [c for c in attrs.columns if c not in people.columns]]],
                     axis=1)
