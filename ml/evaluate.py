"""Metrics for a probability score against a 0/1 label, and permutation importance."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score
from sklearn.pipeline import Pipeline

from ml.pipelines import input_positions

METRIC_NAMES = (
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "precision_at_10pct",
    "precision_at_20pct",
    "lift_at_10pct",
    "expected_calibration_error",
    "positives",
    "population",
)
PROBABILITY_EPS = 1e-6
CALIBRATION_BINS = 10


def top_share_mask(score: np.ndarray, share: float) -> np.ndarray:
    """The ceil(share x n) highest scores; ties broken by position (the caller's row order)."""
    return _top_share_mask(_descending_order(score), share)


def _descending_order(score: np.ndarray) -> np.ndarray:
    """Row positions from the highest score down; equal scores keep their row order."""
    return np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")


def _top_share_mask(order: np.ndarray, share: float) -> np.ndarray:
    n = len(order)
    mask = np.zeros(n, dtype=bool)
    mask[order[: min(n, math.ceil(share * n))]] = True
    return mask


def precision_at(label: np.ndarray, score: np.ndarray, share: float) -> float:
    """Share of positives among the top `share` of rows by score."""
    return _precision_at(np.asarray(label, dtype=bool), _descending_order(score), share)


def _precision_at(label: np.ndarray, order: np.ndarray, share: float) -> float:
    if len(label) == 0:
        return math.nan
    return float(np.mean(label[_top_share_mask(order, share)]))


def lift_at(label: np.ndarray, score: np.ndarray, share: float) -> float:
    """Precision in the top `share` over the base rate (1 = no better than random)."""
    return _lift_at(np.asarray(label, dtype=bool), _descending_order(score), share)


def _lift_at(label: np.ndarray, order: np.ndarray, share: float) -> float:
    base = float(np.mean(label)) if len(label) else 0.0
    return _precision_at(label, order, share) / base if base > 0 else math.nan


def classification_metrics(label: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """Every metric of METRIC_NAMES for one model on one snapshot."""
    y = np.asarray(label, dtype=bool)
    p = np.clip(np.asarray(probability, dtype=np.float64), PROBABILITY_EPS, 1 - PROBABILITY_EPS)
    both_classes = 0 < y.sum() < len(y)
    order = _descending_order(p)  # one sort for every top-share metric
    # Plain numpy for the pointwise losses and the rank AUC: the same numbers as sklearn's
    # roc_auc_score, log_loss and brier_score_loss (tests/test_ml_package.py), without their
    # input checks, which cost more than the metrics at a few cutoffs x candidates per run.
    return {
        "roc_auc": rank_auc(y, p) if both_classes else math.nan,
        "pr_auc": float(average_precision_score(y, p)) if both_classes else math.nan,
        "log_loss": float(-np.mean(np.where(y, np.log(p), np.log1p(-p)))) if len(y) else math.nan,
        "brier": float(np.mean((p - y) ** 2)) if len(y) else math.nan,
        "precision_at_10pct": _precision_at(y, order, 0.10),
        "precision_at_20pct": _precision_at(y, order, 0.20),
        "lift_at_10pct": _lift_at(y, order, 0.10),
        # On the scores as given, like the reliability table (p is clipped for log loss).
        "expected_calibration_error": expected_calibration_error(y, np.asarray(probability)),
        "positives": float(y.sum()),
        "population": float(len(y)),
    }


def reliability_bins(
    label: np.ndarray, probability: np.ndarray, bins: int = CALIBRATION_BINS
) -> pd.DataFrame:
    """The reliability table: rows in equal-width bins of predicted probability (bin 1 holds
    [0, 1/bins), the last also holds 1), with the mean prediction and the observed rate of each
    non-empty bin. A calibrated score has observed_rate close to mean_predicted in every bin."""
    y = np.asarray(label, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    number = np.minimum((p * bins).astype(np.int64), bins - 1) + 1
    frame = pd.DataFrame({"bin": number, "p": p, "y": y})
    table = frame.groupby("bin").agg(users=("y", "size"), mean_predicted=("p", "mean"),
                                     observed_rate=("y", "mean")).reset_index()  # fmt: skip
    table["bin_low"] = (table["bin"] - 1) / bins
    table["bin_high"] = table["bin"] / bins
    return table[["bin", "bin_low", "bin_high", "users", "mean_predicted", "observed_rate"]]


def expected_calibration_error(label: np.ndarray, probability: np.ndarray) -> float:
    """Row-weighted mean |observed rate - mean prediction| over the reliability bins."""
    if len(label) == 0:
        return math.nan
    table = reliability_bins(label, probability)
    gap = (table["observed_rate"] - table["mean_predicted"]).abs()
    return float((gap * table["users"]).sum() / table["users"].sum())


def rank_auc(label: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC from average ranks (Mann-Whitney U): equal to roc_auc_score, without its checks."""
    y = np.asarray(label, dtype=bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    ranks = rankdata(score)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class _Rescorer:
    """Scores of a fitted estimator on a matrix in which one column at a time is changed.

    For a binary HistGradientBoostingClassifier (bare or inside ShiftedLogOdds) the score is the
    sum of the trees' outputs, so changing column p only changes the trees that split on p:
    the others' outputs are kept from the unchanged matrix, which makes a rescore several times
    cheaper. It relies on the estimator's fitted trees (`_predictors`, sklearn 1.9); when they
    are not there, every rescore predicts with the whole estimator. Either way the score ranks
    rows exactly as predict_proba does (it is its log-odds up to a constant), which is all
    that ROC AUC sees.
    """

    def __init__(self, estimator: object, matrix: np.ndarray) -> None:
        self.estimator = estimator
        self.trees = self._trees(getattr(estimator, "estimator_", estimator))
        if self.trees is None:
            self.baseline = self._predict(matrix)
            return
        self.outputs = np.column_stack([predict(matrix) for predict, _ in self.trees])
        self.baseline = self.outputs.sum(axis=1)
        self.by_column: dict[int, list[int]] = {}
        for t, (_, used) in enumerate(self.trees):
            for column in used:
                self.by_column.setdefault(int(column), []).append(t)

    def _predict(self, matrix: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(matrix)[:, 1]

    @staticmethod
    def _trees(model: object) -> list[tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]] | None:
        if not isinstance(model, HistGradientBoostingClassifier):
            return None
        try:
            if model.n_trees_per_iteration_ != 1:
                return None
            bitsets, index_map = model._bin_mapper.make_known_categories_bitsets()
            trees = []
            for (predictor,) in model._predictors:
                nodes = predictor.nodes
                used = np.unique(nodes["feature_idx"][nodes["is_leaf"] == 0])
                predict = partial(
                    predictor.predict, known_cat_bitsets=bitsets, f_idx_map=index_map, n_threads=1
                )
                trees.append((predict, used))
            return trees
        except (AttributeError, TypeError, ValueError, KeyError):
            return None

    def rescore(self, matrix: np.ndarray, column: int) -> np.ndarray:
        """The score after matrix[:, column] changed (every other column as at construction)."""
        if self.trees is None:
            return self._predict(matrix)
        changed = self.by_column.get(column, [])
        if not changed:
            return self.baseline
        # Same summation order as the baseline: a row whose trees did not change keeps its score.
        outputs = self.outputs.copy()
        for t in changed:
            outputs[:, t] = self.trees[t][0](matrix)
        return outputs.sum(axis=1)


def permutation_importances(
    pipeline: Pipeline,
    features: np.ndarray,
    label: np.ndarray,
    feature_names: list[str],
    *,
    repeats: int,
    seed: int,
) -> pd.DataFrame:
    """Mean (and std) drop in ROC AUC when one feature's column is shuffled, seeded.

    Every step before the final estimator works column by column (mean imputation, an
    elementwise log, per-column scaling) or drops whole columns, so shuffling a transformed
    column equals transforming the shuffled column: the matrix is transformed once and only the
    estimator predicts again (for boosted trees, only the trees that use the column), which
    makes this many times faster than sklearn.inspection.permutation_importance. A column the
    estimator never sees (dropped by the preprocessing) or with a single value cannot change
    anything and gets 0 without predicting.
    """
    y = np.asarray(label, dtype=bool)
    preprocess, estimator = pipeline[:-1], pipeline[-1]
    positions = input_positions(preprocess, len(feature_names))
    # Column-major: a column is contiguous to shuffle, and trees predict faster on it.
    matrix = np.asfortranarray(preprocess.transform(features), dtype=np.float64)
    scorer = _Rescorer(estimator, matrix)
    baseline = rank_auc(y, scorer.baseline)
    rng = np.random.default_rng(seed)
    drops = np.zeros((len(feature_names), repeats))
    for r in range(repeats):
        for j, position in enumerate(positions):
            order = rng.permutation(len(y))
            if position < 0:
                continue
            column = matrix[:, position].copy()
            if np.all(column == column[0]):
                continue
            matrix[:, position] = column[order]
            drops[j, r] = baseline - rank_auc(y, scorer.rescore(matrix, int(position)))
            matrix[:, position] = column
    return pd.DataFrame(
        {
            "feature": feature_names,
            "importance": drops.mean(axis=1),
            "importance_std": drops.std(axis=1),
        }
    )
