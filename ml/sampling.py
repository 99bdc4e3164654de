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
