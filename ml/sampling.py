"""Seeded row samples that keep both classes."""

from __future__ import annotations

import numpy as np


def stratified_sample(labels: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Sorted row indices of at most `cap` rows, keeping the class shares of `labels`.

    Each class keeps round(cap x share) rows (at least one when it has any), drawn without
    replacement by a generator seeded with `seed`: the same labels give the same sample.
    """
    labels = np.asarray(labels).astype(bool)
    n = len(labels)
    if n <= cap:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(labels)
    neg = np.flatnonzero(~labels)
    n_pos = min(len(pos), max(1 if len(pos) else 0, round(cap * len(pos) / n)))
    n_neg = min(len(neg), cap - n_pos)
    picked = np.concatenate(
        [rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)]
    )
    return np.sort(picked)


def balanced_sample(labels: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Sorted row indices of at most `cap` rows with up to half of them from each class.

    For rank metrics (ROC AUC) the class shares do not matter, so a rare positive class gets as
    many rows as the cap allows; the other class fills the rest.
    """
    labels = np.asarray(labels).astype(bool)
    if len(labels) <= cap:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(labels)
    neg = np.flatnonzero(~labels)
    n_pos = min(len(pos), cap // 2)
    n_neg = min(len(neg), cap - n_pos)
    n_pos = min(len(pos), cap - n_neg)
    picked = np.concatenate(
        [rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)]
    )
    return np.sort(picked)


def case_control_sample(
    labels: np.ndarray, cap: int, majority_ratio: float, seed: int
) -> np.ndarray:
    """Sorted row indices of a training sample that keeps the rare class whole.

    Every row of the minority class (up to half of `cap`), and of the majority class at most
    `majority_ratio` rows per minority row and at most what the cap leaves, drawn without
    replacement by a generator seeded with `seed`. Rows of a rare class carry most of what a
    model can learn, so this beats a proportional sample of the same size; the class shares
    change, which `log_odds_shift` undoes. All rows when nothing needs to be dropped.
    """
    labels = np.asarray(labels).astype(bool)
    pos = np.flatnonzero(labels)
    neg = np.flatnonzero(~labels)
    minority, majority = (pos, neg) if len(pos) <= len(neg) else (neg, pos)
    n_min = min(len(minority), cap // 2) if len(labels) > cap else len(minority)
    n_maj = min(len(majority), cap - n_min, int(majority_ratio * max(n_min, 1)))
    if n_min == len(minority) and n_maj == len(majority):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    picked = np.concatenate(
        [rng.choice(minority, n_min, replace=False), rng.choice(majority, n_maj, replace=False)]
    )
    return np.sort(picked)


def log_odds_shift(labels: np.ndarray, rows: np.ndarray) -> float:
    """logit(positive share of all rows) - logit(positive share of `rows`).

    Added to the log-odds of a model fitted on `rows`, it gives the odds of the whole population
    (0 when the sample keeps the population's shares). Both shares must be strictly in (0, 1).
    """
    labels = np.asarray(labels).astype(bool)
    sample = labels[rows]
    population_odds = labels.sum() / (len(labels) - labels.sum())
    sample_odds = sample.sum() / (len(sample) - sample.sum())
    return float(np.log(population_odds) - np.log(sample_odds))
