"""The two model pipelines: gradient boosting (production) and logistic regression beside it.

Every step before the estimator maps each column on its own (imputation, an elementwise log,
per-column scaling) or drops whole columns (`DistinctColumns`); ml.evaluate's permutation
importance relies on that, through `input_positions`.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

PRIMARY_MODEL = "hist_gradient_boosting"
MODEL_KINDS = (PRIMARY_MODEL, "logistic_regression")
# For champion selection (ml.champion): a tie in the backtest goes to the simpler model.
MODEL_KINDS_SIMPLEST_FIRST = ("logistic_regression", PRIMARY_MODEL)


def signed_log1p(values: np.ndarray) -> np.ndarray:
    """sign(x) * log(1 + |x|): tames heavy-tailed counts and revenues for a linear model."""
    values = np.asarray(values)
    out = np.abs(values, order="K")  # one new array, transformed in place
    np.log1p(out, out=out)
    return np.copysign(out, values, out=out)


class MeanImputer(TransformerMixin, BaseEstimator):
    """Missing values (NaN) get the training mean of their column; an all-missing column gets 0.

    What SimpleImputer(strategy="mean", keep_empty_features=True) does, in one vectorised pass
    that keeps the input's dtype and memory order (several times faster on wide float32 data).
    """

    def fit(self, X: np.ndarray, y: object = None) -> MeanImputer:
        values = np.asarray(X)
        present = ~np.isnan(values)
        counts = present.sum(axis=0)
        sums = np.where(present, values, 0).sum(axis=0, dtype=np.float64)
        self.statistics_ = np.divide(sums, counts, out=np.zeros(len(counts)), where=counts > 0)
        self.n_features_in_ = values.shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        out = np.array(X, dtype=np.result_type(np.asarray(X).dtype, np.float32), order="K")
        if out.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} columns, got {out.shape[1]}")
        np.copyto(out, self.statistics_.astype(out.dtype), where=np.isnan(out))
        return out


class DistinctColumns(TransformerMixin, BaseEstimator):
    """Keep the first of each group of identical training columns and drop constant ones.

    A tree ensemble cannot split on a constant column, and between identical columns it always
    picks the first (ties go to the lowest index), so fitting without them gives the same model
    at a lower cost. On one month of data, for example, every 28-day, 56-day and all-time window
    holds the same values. Missing values count as a value: identical columns stay identical
    once imputed. `kept_` holds the indices of the kept input columns.
    """

    def fit(self, X: np.ndarray, y: object = None) -> DistinctColumns:
        values = np.asarray(X)
        by_digest: dict[bytes, list[int]] = {}
        kept = []
        for j in range(values.shape[1]):
            column = np.ascontiguousarray(values[:, j])
            if _is_constant(column):
                continue
            same_digest = by_digest.setdefault(hashlib.blake2b(column.data).digest(), [])
            if not any(np.array_equal(column, values[:, k], equal_nan=True) for k in same_digest):
                same_digest.append(j)
                kept.append(j)
        self.kept_ = np.asarray(kept, dtype=np.int64)
        self.n_features_in_ = values.shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X)[:, self.kept_]


def _is_constant(column: np.ndarray) -> bool:
    """Every value equal, or every value missing (an empty column too)."""
    missing = np.isnan(column)
    if missing.all():
        return True
    return not missing.any() and bool(np.all(column == column[0]))


class ShiftedLogOdds(ClassifierMixin, BaseEstimator):
    """A binary classifier whose log-odds are shifted by a constant after fitting.

    Trained on a sample whose class shares differ from the population's (every row of the rare
    class, a fraction of the common one), a model learns the sample's odds; adding
    log_odds_shift = logit(population share) - logit(sample share) of the positive class restores
    the population's odds (prior correction, King & Zeng 2001). Rankings do not change.
    """

    def __init__(self, estimator: BaseEstimator, log_odds_shift: float = 0.0) -> None:
        self.estimator = estimator
        self.log_odds_shift = log_odds_shift

    def fit(self, X: np.ndarray, y: np.ndarray) -> ShiftedLogOdds:
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.estimator_.decision_function(X) + self.log_odds_shift

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        positive = expit(self.decision_function(X))
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def make_pipeline(kind: str, seed: int, log_odds_shift: float = 0.0) -> Pipeline:
    """A fresh, unfitted pipeline; missing values get the training mean of their column.

    Mean rather than median: as accurate here and much faster. The linear model takes logs
    first, so its means are not dragged by heavy tails. The boosted trees skip constant and
    duplicate columns (same model, less work). `log_odds_shift`: see ShiftedLogOdds.
    """
    if kind == PRIMARY_MODEL:
        model = HistGradientBoostingClassifier(
            # Smaller trees and a faster rate than the defaults: as accurate in the backtests,
            # half the trees to fit and to predict with (docs/prediction.md).
            learning_rate=0.12,
            max_iter=300,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=True,
            validation_fraction=0.15,
            n_iter_no_change=10,
            random_state=seed,
        )
        return Pipeline(
            [
                ("distinct", DistinctColumns()),
                ("impute", MeanImputer()),
                ("model", ShiftedLogOdds(model, log_odds_shift)),
            ]
        )
    if kind == "logistic_regression":
        model = LogisticRegression(C=0.5, max_iter=2000, random_state=seed)
        return Pipeline(
            [
                ("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
                ("impute", MeanImputer()),
                ("scale", StandardScaler()),
                ("model", ShiftedLogOdds(model, log_odds_shift)),
            ]
        )
    raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")


def input_positions(preprocess: Pipeline, n_features: int) -> np.ndarray:
    """For each input column, its column in preprocess.transform's output, or -1 if dropped.

    Every step is column-wise (output column j comes from input column j) except those with a
    fitted `kept_` (the indices of the input columns they keep, in order).
    """
    positions = np.arange(n_features, dtype=np.int64)
    for _, step in preprocess.steps:
        kept = getattr(step, "kept_", None)
        if kept is None:
            continue
        moved = np.full(step.n_features_in_, -1, dtype=np.int64)
        moved[kept] = np.arange(len(kept))
        positions = np.where(positions >= 0, moved[np.maximum(positions, 0)], -1)
    return positions
