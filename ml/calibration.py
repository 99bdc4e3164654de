"""Turn a model's scores into probabilities, fitted on out-of-time backtest scores.

A model fitted on a case-control sample of older snapshots ranks users well but its scores need
not be the observed rates of a later period. A calibrator maps a score to a probability, fitted
on scores the models gave *out of time* (each cutoff's users, scored by the model trained before
that cutoff) against what then happened:

- `platt`: a logistic regression on the score's log-odds (two parameters; strictly increasing,
  so ROC AUC and every ranking metric are unchanged);
- `isotonic`: a non-decreasing step function (more flexible, needs more rows; ties can move
  ROC AUC a little).

The calibrated backtest is forward-chained: the scores at cutoff c are calibrated by a
calibrator fitted on earlier cutoffs whose labels had ended by c, so the calibrated metrics are
as out-of-time as the raw ones. The production calibrator is fitted on every cutoff.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ml.plan import label_end

SCORE_EPS = 1e-6


def _log_odds(probability: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probability, dtype=np.float64), SCORE_EPS, 1 - SCORE_EPS)
    return logit(p).reshape(-1, 1)


@dataclass(frozen=True)
class Calibrator:
    """A fitted map from a score in [0, 1] to a probability (see the module docstring)."""

    method: str
    rows: int
    slope: float = 1.0
    intercept: float = 0.0
    isotonic: IsotonicRegression | None = None

    def __call__(self, probability: np.ndarray) -> np.ndarray:
        p = np.asarray(probability, dtype=np.float64)
        if self.method == "isotonic" and self.isotonic is not None:
            return np.asarray(self.isotonic.predict(p), dtype=np.float64)
        return expit(self.slope * _log_odds(p)[:, 0] + self.intercept)


def fit_calibrator(probability: np.ndarray, label: np.ndarray, method: str) -> Calibrator:
    """Fit on (score, outcome) pairs; both classes must be present."""
    y = np.asarray(label, dtype=bool)
    p = np.asarray(probability, dtype=np.float64)
    if len(y) == 0 or y.all() or not y.any():
        raise ValueError("a calibrator needs both outcomes among its rows")
    if method == "isotonic":
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        model.fit(p, y.astype(np.float64))
        return Calibrator("isotonic", len(y), isotonic=model)
    if method == "platt":
        # Almost no penalty: two parameters, many rows.
        fitted = LogisticRegression(C=1e6, max_iter=1000).fit(_log_odds(p), y.astype(int))
        return Calibrator(
            "platt", len(y), slope=float(fitted.coef_[0, 0]), intercept=float(fitted.intercept_[0])
        )
    raise ValueError(f"unknown calibration method {method!r}")


@dataclass(frozen=True)
class OutOfTime:
    """One cutoff's judged users: what happened, and a candidate's score for each."""

    cutoff: dt.date
    label: np.ndarray
    probability: np.ndarray


def forward_calibrated(
    scored: Sequence[OutOfTime], horizon_days: int, method: str
) -> list[tuple[OutOfTime, Calibrator]]:
    """For each cutoff c, its scores calibrated on the earlier cutoffs whose label windows
    ended by c (T + H <= c); cutoffs without such an earlier cutoff are left out."""
    out = []
    for current in sorted(scored, key=lambda s: s.cutoff):
        earlier = [s for s in scored if label_end(s.cutoff, horizon_days) <= current.cutoff]
        if not earlier:
            continue
        calibrator = fit_calibrator(
            np.concatenate([s.probability for s in earlier]),
            np.concatenate([s.label for s in earlier]),
            method,
        )
        out.append(
            (
                OutOfTime(current.cutoff, current.label, calibrator(current.probability)),
                calibrator,
            )
        )
    return out


def production_calibrator(scored: Sequence[OutOfTime], method: str) -> Calibrator:
    """Fitted on every cutoff's out-of-time scores (all of their labels ended by D)."""
    return fit_calibrator(
        np.concatenate([s.probability for s in scored]),
        np.concatenate([s.label for s in scored]),
        method,
    )
