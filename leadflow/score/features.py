"""Features for the predictive model: what each one is, when it becomes known, how it is encoded.

Every feature declares ``known_at``: ``capture`` (known when the lead arrives, usable at handoff)
or ``after_contact`` (only known once sales has spoken to the person; using it to predict the
handoff outcome is leakage). Source attributes declare it in ``leadflow.yaml``
(``sources[].attributes: {column: known_at}``); canonical fields and warehouse columns have
defaults here. Encoding is general and never knows a particular file: numbers are imputed (with
a missing flag), log-transformed when heavily skewed and scaled; text is one-hot encoded with
rare levels grouped and "missing" as a level of its own; booleans become 0/1/missing.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from leadflow.errors import LeadflowError
from leadflow.vocab.booleans import FALSE_WORDS, TRUE_WORDS, parse_bools
from leadflow.vocab.lists import NO_VALUE_WORDS
from leadflow.vocab.numbers import read_numbers

log = logging.getLogger("leadflow.score")

KnownAt = Literal["capture", "after_contact"]
Kind = Literal["numeric", "categorical", "boolean"]
MISSING = "(missing)"
RARE = "(other)"


class LeakageError(LeadflowError):
    """Training was asked to use features only known after sales contact."""


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: Kind
    known_at: KnownAt = "capture"
    label: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Canonical inbound-lead fields: None = not a feature (identifiers, free text, PII, timestamps).
CANONICAL_FEATURES: dict[str, tuple[Kind, KnownAt] | None] = {
    "source_record_id": None, "email": None, "first_name": None, "last_name": None,
    "phone": None, "company": None, "company_domain": None, "landing_url": None,
    "created_at": None, "city": ("categorical", "capture"),
    "job_title": ("categorical", "capture"), "industry": ("categorical", "capture"),
    "company_size": ("numeric", "capture"), "country": ("categorical", "capture"),
    "lead_source": ("categorical", "capture"), "campaign_id": ("categorical", "capture"),
    "channel": ("categorical", "capture"), "opt_out": ("boolean", "capture"),
    "do_not_call": ("boolean", "capture"),
    "converted": ("boolean", "after_contact"),   # the outcome itself
}

# Warehouse ``people`` columns (golden record). Current-state flags set by sales or later
# events (lifecycle, opt-out today, do-not-contact) are after contact.
PEOPLE_FEATURES: dict[str, tuple[Kind, KnownAt]] = {
    "seniority": ("categorical", "capture"), "job_function": ("categorical", "capture"),
    "industry": ("categorical", "capture"), "company_size": ("numeric", "capture"),
    "country": ("categorical", "capture"), "is_free_mail": ("boolean", "capture"),
    "is_role_address": ("boolean", "capture"), "first_source": ("categorical", "capture"),
    "first_channel": ("categorical", "capture"), "account_match": ("categorical", "capture"),
    "first_campaign_id": ("categorical", "capture"),
    "is_competitor": ("boolean", "capture"),
    "lifecycle_stage": ("categorical", "after_contact"), "cycle": ("numeric", "after_contact"),
    "opt_out": ("boolean", "after_contact"), "do_not_contact": ("boolean", "after_contact"),
}

LABELS: dict[str, str] = {
    "seniority": "Seniority", "job_function": "Function", "industry": "Industry",
    "company_size": "Company size", "country": "Country", "is_free_mail": "Free-mail address",
    "is_role_address": "Role address", "first_source": "Came from", "first_channel": "First channel",
    "account_match": "Account match", "lead_source": "Lead source", "channel": "Channel",
    "campaign_id": "Campaign", "job_title": "Title", "city": "City", "opt_out": "Opted out",
    "do_not_call": "Do not call", "lead_age_days": "Days since the lead arrived",
    "days_since_last_touch": "Days since the last touch", "engagement_points": "Engagement points",
    "touches_total": "Touches so far", "first_campaign_id": "First campaign",
    "first_touch_month": "Month of the first touch", "first_touch_weekday": "Weekday of the first touch",
    "first_touch_hour": "Hour of the first touch",
}

# When the lead arrived (its own created_at: known at capture): seasonality, weekday and office
# hours move conversion in many funnels. Text levels, so both model families treat them as
# categories (no false order between December and January).
CAPTURE_TIME_FEATURES = ("first_touch_month", "first_touch_weekday", "first_touch_hour")
_MONTHS = np.array(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec", None], dtype=object)
_DAYS = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", None], dtype=object)


def capture_time_features(created_at: pd.Series) -> dict[str, np.ndarray]:
    """Month, weekday and hour (``h09``) of each lead's capture time; None where unknown."""
    t = pd.DatetimeIndex(pd.to_datetime(created_at))
    ok = ~t.isna()
    month = np.where(ok, t.month.fillna(13).to_numpy(dtype=int) - 1, 12)
    day = np.where(ok, t.dayofweek.fillna(7).to_numpy(dtype=int), 7)
    hour = pd.Series(t.hour, dtype="Float64").map(lambda h: f"h{int(h):02d}", na_action="ignore")
    return {"first_touch_month": _MONTHS[month], "first_touch_weekday": _DAYS[day],
            "first_touch_hour": hour.to_numpy(dtype=object, na_value=None)}


def infer_kind(s: pd.Series) -> Kind:
    """Numeric, boolean or categorical, from the values (works on raw text columns too): numbers
    when 98% of the answered values are."""
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_numeric_dtype(s):
        return "numeric"
    codes, uniq = pd.factorize(s.dropna())
    if not len(uniq):
        return "categorical"
    # judged once per distinct value; placeholders ("?", "n/a") are unanswered, not text
    words = pd.Series(uniq, dtype=object).astype(str).str.strip().str.casefold()
    answered = ~(words.isin(NO_VALUE_WORDS) | (words == "")).to_numpy()
    is_num = read_numbers(pd.Series(uniq, dtype=object), signs=True).notna().to_numpy()
    counts = np.bincount(codes, minlength=len(uniq))
    n_answered = counts[answered].sum()
    if not n_answered:
        return "categorical"
    return "numeric" if counts[answered & is_num].sum() >= 0.98 * n_answered else "categorical"


def is_identifier(s: pd.Series) -> bool:
    """A column whose every value is distinct (ids, row numbers) tells nothing general."""
    nonnull = s.dropna()
    if len(nonnull) < 50:
        return False
    if pd.api.types.is_float_dtype(nonnull) and not np.allclose(nonnull % 1, 0):
        return False
    return nonnull.nunique() >= 0.95 * len(nonnull)


def specs_for_frame(df: pd.DataFrame, attributes: dict[str, str],
                    target: str = "converted") -> list[FeatureSpec]:
    """Feature specs for a mapped source file: canonical defaults + declared attributes."""
    out: list[FeatureSpec] = []
    for c in df.columns:
        if c in ("row_number", target) or c.startswith("_"):
            continue
        if c in attributes:
            kind, when = infer_kind(df[c]), attributes[c]
        elif c in CANONICAL_FEATURES:
            d = CANONICAL_FEATURES[c]
            if d is None:
                continue
            kind, when = d
        else:
            continue                                   # undeclared columns are never used
        if df[c].isna().all():
            continue
        if kind != "numeric" and is_identifier(df[c].astype("string")) or \
                kind == "numeric" and is_identifier(df[c]):
            log.warning("feature %s looks like an identifier (all values distinct); skipped", c)
            continue
        out.append(FeatureSpec(c, kind, when, LABELS.get(c, c)))   # type: ignore[arg-type]
    return out


def guard(specs: list[FeatureSpec], allow_leaky: bool = False) -> list[FeatureSpec]:
    """Refuse after-contact features unless explicitly allowed (a diagnostic run)."""
    leaky = [s.name for s in specs if s.known_at == "after_contact"]
    if leaky and not allow_leaky:
        raise LeakageError(
            f"refusing to train on feature(s) only known after sales contact: {', '.join(leaky)} "
            "(drop them, declare them known_at: capture if that is true, or pass --allow-leaky "
            "for a diagnostic)")
    return specs


# --------------------------------------------------------------------------- encoding
def _to_bool(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return pd.to_numeric(s, errors="coerce").astype(float)
    # text flags through the shared vocabulary (read once per distinct value); unreadable -> NaN
    val, _ = parse_bools(s)
    return pd.Series(val.astype("Float64").to_numpy(dtype=float, na_value=np.nan), index=s.index)


def text_codes(col: pd.Series, fold: bool = False) -> tuple[np.ndarray, pd.Series]:
    """(codes, texts): each row's position in ``texts``, the column's distinct values as
    stripped text with blanks and nulls as "(missing)" (last entry); ``fold`` also reads case
    and inner spacing as one ("SaaS", "saas ", "SAAS" -> "saas") and a yes/no word as "yes" or
    "no" ("TRUE", "y" -> "yes"): exports type one category many ways. Text work is done once
    per distinct value, not per row: leads share few titles, industries and countries."""
    codes, uniq = pd.factorize(col, use_na_sentinel=True)
    t = pd.Series(uniq, dtype=object).astype("string").str.strip()
    if fold:
        t = t.str.casefold().str.replace(r"\s+", " ", regex=True)
        t = t.mask(t.isin(TRUE_WORDS), "yes").mask(t.isin(FALSE_WORDS), "no")
    t = t.mask(t == "", pd.NA).fillna(MISSING).astype(object)
    texts = pd.Series(np.append(t.to_numpy(dtype=object), MISSING), dtype=object)
    return np.where(codes < 0, len(texts) - 1, codes), texts


class FramePrep(BaseEstimator, TransformerMixin):
    """Raw feature frame -> typed frame: floats (NaN kept) and pandas categoricals.

    Learns on fit: which numeric columns are skewed enough for ``log1p`` (non-negative, long
    right tail) and which levels of each text column are frequent enough to keep (others become
    "(other)", missing becomes "(missing)"). Both model families start from this output.
    ``as_array=True`` returns one float matrix instead (text columns as level codes), which
    gradient boosting takes directly with ``categorical_features`` as a mask: no per-row string
    handling inside scikit-learn at fit or predict time.
    """

    def __init__(self, specs: list[dict[str, Any]], min_frequency: float = 0.005,
                 max_levels: int = 60, as_array: bool = False, fold_case: bool = True) -> None:
        self.specs = specs
        self.min_frequency = min_frequency
        self.max_levels = max_levels
        self.as_array = as_array
        self.fold_case = fold_case

    @property
    def _fold(self) -> bool:
        """Bundles pickled before case folding keep the levels they learned, as spelled."""
        return bool(self.__dict__.get("fold_case", False))

    def fit(self, X: pd.DataFrame, y: Any = None) -> FramePrep:
        self.log_cols_: list[str] = []
        self.levels_: dict[str, list[str]] = {}
        self.bounds_: dict[str, tuple[float, float]] = {}
        n = max(len(X), 1)
        for s in self.specs:
            name, kind = s["name"], s["kind"]
            col = X[name] if name in X.columns else pd.Series(np.nan, index=X.index)
            if kind == "numeric":
                v = read_numbers(col, signs=True).to_numpy(dtype=float, na_value=np.nan)
                v = v[~np.isnan(v)]
                if len(v):
                    # values outside what training saw are held at its edges: scoring a lead
                    # months older than any training example must not extrapolate wildly
                    q = np.quantile(v, [0.001, 0.5, 0.99, 0.999])
                    self.bounds_[name] = (float(q[0]), float(q[3]))
                    if v.min() >= 0 and q[2] > 10 * max(q[1], 1.0):
                        self.log_cols_.append(name)
            elif kind == "categorical":
                codes, texts = text_codes(col, self._fold)
                counts = np.bincount(codes, minlength=len(texts))
                # distinct raw values may share a text ("B" and "B "): add them up, keeping
                # first-seen order for ties, then most frequent first
                vc = pd.Series(counts, index=texts.to_numpy()).groupby(level=0, sort=False).sum()
                vc = vc[vc > 0].sort_values(ascending=False, kind="stable")
                keep = vc[vc >= max(self.min_frequency * n, 5)].index[: self.max_levels]
                self.levels_[name] = sorted(set(map(str, keep)) | {MISSING, RARE})
        return self

    @staticmethod
    def _text(col: pd.Series) -> pd.Series:
        codes, texts = text_codes(col, fold=True)
        return pd.Series(texts.to_numpy(dtype=object)[codes], index=col.index, dtype=object)

    def level_codes(self, name: str, col: pd.Series) -> np.ndarray:
        """Each row's position in ``levels_[name]`` (rare and unseen values -> "(other)")."""
        levels = self.levels_[name]
        pos = {v: i for i, v in enumerate(levels)}
        codes, texts = text_codes(col, self._fold)
        lut = np.array([pos.get(str(t), pos[RARE]) for t in texts], dtype=np.int32)
        return lut[codes]

    def arrays(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """Per feature: float values (numeric, boolean) or int level codes (categorical)."""
        out: dict[str, np.ndarray] = {}
        for s in self.specs:
            name, kind = s["name"], s["kind"]
            col = X[name] if name in X.columns else pd.Series(np.nan, index=X.index)
            if kind == "numeric":
                v = read_numbers(col, signs=True).to_numpy(dtype=float, na_value=np.nan)
                if name in self.bounds_:
                    v = np.clip(v, *self.bounds_[name])
                if name in self.log_cols_:
                    v = np.log1p(np.clip(v, 0, None))
                out[name] = v
            elif kind == "boolean":
                out[name] = _to_bool(col).to_numpy(dtype=float, na_value=np.nan)
            else:
                out[name] = self.level_codes(name, col)
        return out

    def transform(self, X: pd.DataFrame) -> pd.DataFrame | np.ndarray:
        arr = self.arrays(X)
        if getattr(self, "as_array", False):       # bundles saved before it existed: frames
            return np.column_stack([arr[s["name"]].astype(float) for s in self.specs]) \
                if self.specs else np.empty((len(X), 0))
        out: dict[str, Any] = {}
        for s in self.specs:
            name = s["name"]
            out[name] = pd.Categorical.from_codes(arr[name], categories=self.levels_[name]) \
                if s["kind"] == "categorical" else arr[name]
        return pd.DataFrame(out, index=X.index)

    @property
    def categorical_mask_(self) -> np.ndarray:
        return np.array([s["kind"] == "categorical" for s in self.specs], dtype=bool)

    @property
    def numeric_(self) -> list[str]:
        return [s["name"] for s in self.specs if s["kind"] in ("numeric", "boolean")]

    @property
    def categorical_(self) -> list[str]:
        return [s["name"] for s in self.specs if s["kind"] == "categorical"]


# --------------------------------------------------------------------------- univariate check
def single_feature_auc(X: pd.DataFrame, y: np.ndarray, X_test: pd.DataFrame, y_test: np.ndarray,
                       specs: list[FeatureSpec]) -> dict[str, float]:
    """ROC AUC of each feature alone on the holdout (levels encoded by their training rate)."""
    from sklearn.metrics import roc_auc_score
    out: dict[str, float] = {}
    if len(np.unique(y_test)) < 2:
        return out
    prior = float(np.mean(y))
    for s in specs:
        if s.name not in X.columns:
            continue
        if s.kind == "categorical":
            tr = FramePrep._text(X[s.name]).to_numpy()
            rate = pd.Series(y).groupby(tr).agg(["sum", "count"])
            enc = (rate["sum"] + prior * 10) / (rate["count"] + 10)
            v = FramePrep._text(X_test[s.name]).map(enc).fillna(prior).to_numpy(dtype=float)
        else:
            col = _to_bool(X_test[s.name]) if s.kind == "boolean" else \
                read_numbers(X_test[s.name], signs=True)
            v = col.fillna(col.median() if col.notna().any() else 0).to_numpy(dtype=float)
        if np.all(v == v[0]):
            out[s.name] = 0.5
            continue
        a = float(roc_auc_score(y_test, v))
        out[s.name] = round(max(a, 1 - a), 4)
    return out


def separation_warnings(aucs: dict[str, float], threshold: float = 0.95) -> list[str]:
    return [f"feature {k} alone separates the classes (ROC AUC {v:.3f} > {threshold}); "
            "it is probably recorded after the outcome (leakage)"
            for k, v in sorted(aucs.items(), key=lambda kv: -kv[1]) if v > threshold]
