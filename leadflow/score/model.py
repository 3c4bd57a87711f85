"""The predictive model: two candidate families, a held-out comparison and calibration.

- ``logistic``: one-hot + scaled inputs, L2-regularised logistic regression. Transparent: its
  coefficient x centred value per feature is the attribution behind a lead's reasons.
- ``gradient_boosting``: scikit-learn's HistGradientBoosting with native categorical splits and
  missing values, early-stopped; usually a little sharper on interactions.

Both are fitted on the training slice, calibrated on the next slice (isotonic when it holds
enough rows, else Platt/sigmoid) and judged on the latest slice. The logistic model is always
kept as the explainer, even when boosting wins, so reasons stay linear and cheap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import CategoricalNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from leadflow.score.features import FeatureSpec, FramePrep

ALGORITHMS = ("logistic", "gradient_boosting")


def _linear_pipeline(specs: list[FeatureSpec], C: float = 1.0) -> Pipeline:
    prep = FramePrep([s.as_dict() for s in specs])
    num = [s.name for s in specs if s.kind != "categorical"]
    cat = [s.name for s in specs if s.kind == "categorical"]
    ct = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                            keep_empty_features=True), StandardScaler()), num),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=True), cat),
    ], sparse_threshold=1.0, verbose_feature_names_out=False)
    lr = LogisticRegression(C=C, max_iter=3000, tol=1e-5)
    return Pipeline([("prep", prep), ("encode", ct), ("clf", lr)])


GB_MAX_ROWS = 300_000      # boosting fits on at most this many rows (a seeded sample)


def model_threads() -> int:
    """OpenMP threads for gradient boosting: 1 unless LEADFLOW_MODEL_THREADS says otherwise.

    On a shared two-core machine (Airflow tasks and other jobs running beside training) OpenMP
    threads spin waiting for each other: measured on X Education, one thread fitted in 2.6 s
    what two threads took 40 s to fit under a load average of 5. One thread is predictable."""
    try:
        return max(1, int(os.environ.get("LEADFLOW_MODEL_THREADS", "1")))
    except ValueError:
        return 1


class SampledHGB(HistGradientBoostingClassifier):
    """HistGradientBoosting that fits on a seeded random sample when data is large.

    Past a few hundred thousand rows, more rows barely move a model over a few dozen lead
    features but cost linear time; sampling keeps training on 1M outcomes within minutes on two
    cores. The logistic model still sees every row. Runs on :func:`model_threads` threads."""

    def fit(self, X, y, sample_weight=None):
        if len(y) > GB_MAX_ROWS:
            idx = np.sort(np.random.default_rng(0).choice(len(y), GB_MAX_ROWS, replace=False))
            X = X.iloc[idx] if hasattr(X, "iloc") else X[idx]
            y = np.asarray(y)[idx]
        with threadpool_limits(model_threads(), user_api="openmp"):
            return super().fit(X, y)

    def predict_proba(self, X):
        with threadpool_limits(model_threads(), user_api="openmp"):
            return super().predict_proba(X)


def _boosting_pipeline(specs: list[FeatureSpec], n_rows: int) -> Pipeline:
    # one float matrix with text columns as level codes, declared categorical by a mask: the
    # same native categorical splits as pandas categoricals, without scikit-learn re-encoding
    # every string at fit and predict time
    prep = FramePrep([s.as_dict() for s in specs], as_array=True)
    # max_features=0.5: each split looks at a random half of the inputs (feature subsampling,
    # as in random forests), which decorrelates the trees; measured on the two public lead
    # files it lifted holdout ROC AUC by 0.001-0.003 on every seed at no cost in time
    gb = SampledHGB(
        learning_rate=0.05 if n_rows < 100_000 else 0.1, max_iter=1500, max_leaf_nodes=15, min_samples_leaf=20,
        l2_regularization=5.0, max_features=0.5, categorical_features=prep.categorical_mask_,
        early_stopping=True, validation_fraction=0.15, n_iter_no_change=50,
        scoring="loss", random_state=0)
    return Pipeline([("prep", prep), ("clf", gb)])


class CategoricalBayes(BaseEstimator, ClassifierMixin):
    """Naive Bayes over categories, on FramePrep's float matrix: text columns keep their level
    codes (a level unseen in training gets a slot of its own), flags are 0/1/missing and numbers
    their training quintile or missing. What Odoo's predictive lead scoring does: per-value
    won/lost frequencies multiplied together (Laplace-smoothed)."""

    def __init__(self, kinds: list[str], alpha: float = 1.0) -> None:
        self.kinds = kinds
        self.alpha = alpha

    def _codes(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros(X.shape, dtype=np.int64)
        for j, k in enumerate(self.kinds):
            v = X[:, j]
            miss = np.isnan(v)
            if k == "categorical":
                out[:, j] = np.where(miss | (v > self.top_[j]), self.top_[j] + 1, np.nan_to_num(v))
            elif k == "boolean":
                out[:, j] = np.where(miss, 2, v > 0.5)
            else:
                out[:, j] = np.where(miss, 5, np.searchsorted(self.edges_[j], v, side="right"))
        return out

    def fit(self, X: np.ndarray, y: Any) -> CategoricalBayes:
        X = np.asarray(X, dtype=float)
        fin = [np.isfinite(X[:, j]) for j in range(X.shape[1])]
        self.edges_ = [np.unique(np.quantile(X[f, j], [0.2, 0.4, 0.6, 0.8]))
                       if k == "numeric" and f.any() else np.array([])
                       for j, (k, f) in enumerate(zip(self.kinds, fin))]
        self.top_ = [int(X[f, j].max()) if k == "categorical" and f.any() else 0
                     for j, (k, f) in enumerate(zip(self.kinds, fin))]
        sizes = [t + 2 if k == "categorical" else 3 if k == "boolean" else 6
                 for k, t in zip(self.kinds, self.top_)]
        self.nb_ = CategoricalNB(alpha=self.alpha, min_categories=np.array(sizes)).fit(self._codes(X), y)
        self.classes_ = self.nb_.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.nb_.predict_proba(self._codes(np.asarray(X, dtype=float)))


def _naive_bayes_pipeline(specs: list[FeatureSpec]) -> Pipeline:
    """The baseline a user should compare with (see :class:`CategoricalBayes`)."""
    prep = FramePrep([s.as_dict() for s in specs], as_array=True)
    return Pipeline([("prep", prep), ("clf", CategoricalBayes([s.kind for s in specs]))])


def build(algorithm: str, specs: list[FeatureSpec], n_rows: int = 0) -> Pipeline:
    if algorithm == "naive_bayes":
        return _naive_bayes_pipeline(specs)
    if algorithm == "logistic":
        return _linear_pipeline(specs)
    if algorithm == "gradient_boosting":
        return _boosting_pipeline(specs, n_rows)
    raise ValueError(f"unknown algorithm {algorithm!r} (known: {', '.join(ALGORITHMS)})")


@dataclass
class Calibrated:
    """A fitted pipeline plus a monotone map from its raw scores to calibrated probabilities."""

    base: Pipeline
    method: str = "none"
    iso: IsotonicRegression | None = None
    platt: LogisticRegression | None = None
    oof_: np.ndarray | None = None

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        return self.base.predict_proba(X)[:, 1]

    def fit_calibration(self, X: pd.DataFrame, y: np.ndarray) -> Calibrated:
        self._fit_map(self.raw(X), y)
        return self

    def fit_calibration_oof(self, X: pd.DataFrame, y: np.ndarray, folds: int = 3,
                            seed: int = 0) -> Calibrated:
        """Calibrate on out-of-fold scores of clones (every training row used for fitting
        and calibrating, never both by the same model). For data without a time order."""
        from sklearn.base import clone
        from sklearn.model_selection import StratifiedKFold
        oof = np.zeros(len(y))
        for a, b in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
            oof[b] = clone(self.base).fit(X.iloc[a], y[a]).predict_proba(X.iloc[b])[:, 1]
        self.oof_ = oof
        self._fit_map(oof, y)
        return self

    def _fit_map(self, p: np.ndarray, y: np.ndarray) -> None:
        if len(np.unique(y)) < 2:
            self.method = "none"
        elif len(y) >= 1000 and min(y.sum(), len(y) - y.sum()) >= 50:
            self.iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(p, y)
            self.method = "isotonic"
        else:
            self.platt = LogisticRegression(C=1e6).fit(_logit(p)[:, None], y)
            self.method = "sigmoid"

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.calibrate(self.raw(X))

    def calibrate(self, p: np.ndarray) -> np.ndarray:
        """Raw model scores -> calibrated probabilities (the map fitted on the calibration slice)."""
        if self.method == "isotonic" and self.iso is not None:
            # isotonic is a step function: a tiny share of the raw score breaks its ties, so
            # ranking (ROC AUC) is kept while probabilities stay calibrated.
            return np.clip(self.iso.predict(p) + 1e-6 * p, 0.0, 1.0)
        if self.method == "sigmoid" and self.platt is not None:
            return self.platt.predict_proba(_logit(p)[:, None])[:, 1]
        return p


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit(algorithm: str, specs: list[FeatureSpec], X: pd.DataFrame, y: np.ndarray) -> Calibrated:
    pipe = build(algorithm, specs, len(X))
    pipe.fit(X, y)
    return Calibrated(pipe)


# --------------------------------------------------------------------------- attributions
@dataclass
class LinearTerms:
    """A fitted logistic pipeline unrolled per input feature, for scoring millions of rows.

    The pipeline's log-odds are ``intercept + sum_j coef_j * encoded_j``; grouping the encoded
    columns by the input feature they came from gives, per feature, a term that is cheap to
    evaluate straight from the prepared arrays:
    - number / flag: ``w * (value or median - mean)`` plus, when training saw it missing,
      ``w_missing * (is_missing - mean_missing)`` (imputer, indicator and scaler folded in);
    - text: a lookup table ``coef[level]`` over the feature's levels (0 for unseen ones).
    No one-hot matrix, no sparse products, one dense float32 column per feature.
    """

    features: list[str]
    intercept: float
    numeric: dict[str, tuple[float, float, float, float, float]]   # fill, w, mean, w_miss, mean_miss
    tables: dict[str, np.ndarray]                                  # text feature -> coef per level

    @classmethod
    def from_pipeline(cls, pipe: Pipeline) -> LinearTerms:
        prep: FramePrep = pipe.named_steps["prep"]
        ct: ColumnTransformer = pipe.named_steps["encode"]
        coef = pipe.named_steps["clf"].coef_.ravel().astype(float)
        feats = [s["name"] for s in prep.specs]
        numeric: dict[str, tuple[float, float, float, float, float]] = {}
        tables: dict[str, np.ndarray] = {}
        at = 0                                  # position in the encoded columns (= coef_)
        for name, trans, cols in ct.transformers_:
            if name == "remainder" or trans == "drop" or not len(cols):
                continue
            cols = list(cols)
            if name == "num":
                imp, sc = trans[0], trans[-1]
                ind = list(imp.indicator_.features_) if getattr(imp, "indicator_", None) \
                    is not None else []
                w = coef[at:at + len(cols)] / sc.scale_[:len(cols)]
                mean = sc.mean_[:len(cols)]
                wm = coef[at + len(cols):at + len(cols) + len(ind)] / sc.scale_[len(cols):]
                mm = sc.mean_[len(cols):]
                miss = {cols[i]: (wm[k], mm[k]) for k, i in enumerate(ind)}
                for i, c in enumerate(cols):
                    a, b = miss.get(c, (0.0, 0.0))
                    numeric[c] = (float(imp.statistics_[i]), float(w[i]), float(mean[i]),
                                  float(a), float(b))
                at += len(cols) + len(ind)
            elif name == "cat":
                for k, c in enumerate(cols):
                    cats = [str(v) for v in trans.categories_[k]]
                    pos = {v: at + j for j, v in enumerate(cats)}
                    tables[c] = np.array([coef[pos[lv]] if lv in pos else 0.0
                                          for lv in prep.levels_[c]], dtype=float)
                    at += len(cats)
            else:
                raise ValueError(f"unexpected encoder step {name!r}")
        if at != len(coef):
            raise ValueError(f"encoded width {at} != {len(coef)} coefficients")
        return cls(feats, float(pipe.named_steps["clf"].intercept_[0]), numeric, tables)

    def terms(self, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(log-odds per row as float64, per-feature terms as an n x features float32 matrix)."""
        n = len(next(iter(arrays.values()))) if arrays else 0
        logit = np.full(n, self.intercept)
        out = np.zeros((n, len(self.features)), dtype=np.float32)
        for j, f in enumerate(self.features):
            if f in self.tables:
                t = self.tables[f][arrays[f]]
            else:
                fill, w, mean, wm, mm = self.numeric[f]
                v = arrays[f]
                miss = np.isnan(v)
                t = w * (np.where(miss, fill, v) - mean)
                if wm:
                    t += wm * (miss - mm)
            logit += t
            out[:, j] = t
        return logit, out


@dataclass
class LinearExplainer:
    """Per-row, per-feature log-odds contributions of a fitted logistic pipeline.

    contribution(row, feature) = sum over the feature's encoded columns of
    coefficient x (value - training mean): zero for an average lead, positive when the feature
    makes this lead likelier to convert than average. Computed through :class:`LinearTerms`.
    """

    pipeline: Pipeline
    features: list[str] = field(default_factory=list)
    group: Any = None            # unused since LinearTerms (kept so older artifacts load)
    baseline: np.ndarray | None = None

    @classmethod
    def from_pipeline(cls, pipe: Pipeline, X_train: pd.DataFrame) -> LinearExplainer:
        feats = [s["name"] for s in pipe.named_steps["prep"].specs]
        ex = cls(pipe, feats)
        _, raw = ex.terms(X_train.iloc[:200_000])
        ex.baseline = raw.astype(float).mean(axis=0)
        return ex

    @property
    def linear(self) -> LinearTerms:
        lt = self.__dict__.get("_linear")
        if lt is None:
            lt = self.__dict__["_linear"] = LinearTerms.from_pipeline(self.pipeline)
        return lt

    def terms(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(log-odds, raw per-feature terms) for ``X`` (uncentred)."""
        return self.linear.terms(self.pipeline.named_steps["prep"].arrays(X))

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(logistic probability, per-feature contributions centred on the training mean):
        one pass serves both the logistic model's prediction and its reasons."""
        logit, raw = self.terms(X)
        raw -= np.asarray(self.baseline, dtype=np.float32)
        return 1.0 / (1.0 + np.exp(-logit)), raw

    def explain(self, X: pd.DataFrame) -> pd.DataFrame:
        _, m = self.contributions(X)
        return pd.DataFrame(m, columns=self.features, index=X.index)
