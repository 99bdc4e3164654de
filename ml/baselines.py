"""Simple baselines every model is judged against.

- churn, `days_since_last_purchase`: the longer since the last purchase, the likelier churn.
- churn, `bg_nbd`: the BG/NBD purchase model (Fader, Hardie & Lee 2005) fitted by maximum
  likelihood on the training snapshot's (frequency, recency, age) per buyer; its churn score is
  the model's probability of no purchase in the next H days.
- big spender, `past_revenue`: revenue on or before the snapshot date.

A one-number score (days, revenue) becomes a probability through a one-feature logistic
regression on log1p(score) fitted on the training snapshot. It is monotone, so the rank metrics
(ROC AUC, precision at k) are those of the raw score; log loss and Brier score get a fair chance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, gammaln
from sklearn.linear_model import LogisticRegression

# Inputs the baselines read from the labels table (ml_snapshot_labels), all as of the snapshot.
# The CLV challenger (ml.clv) also reads purchase_days; the churn segments' rule
# (ml.segments) reads median_purchase_gap_days.
BASELINE_INPUTS = (
    "days_since_last_purchase",
    "bgnbd_frequency",
    "bgnbd_recency_days",
    "bgnbd_age_days",
    "past_revenue",
    "purchase_days",
    "median_purchase_gap_days",
)
BGNBD_COLUMNS = ("bgnbd_frequency", "bgnbd_recency_days", "bgnbd_age_days")
BASELINES: dict[str, tuple[str, ...]] = {
    "churn": ("days_since_last_purchase", "bg_nbd"),
    "big_spender": ("past_revenue",),
}

Scorer = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class BGNBDParams:
    r: float
    alpha: float
    a: float
    b: float


def _as_float(values: object) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def bgnbd_log_likelihood(
    params: BGNBDParams,
    frequency: np.ndarray,
    recency: np.ndarray,
    age: np.ndarray,
    weights: np.ndarray | None = None,
) -> float:
    """Sum of BG/NBD log-likelihoods: x repeat purchases, the last at t_x, observed for T."""
    x, t_x, t = _as_float(frequency), _as_float(recency), _as_float(age)
    w = np.ones_like(x) if weights is None else _as_float(weights)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + t)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return float(np.sum(w * (a1 + a2 + np.logaddexp(a3, a4))))


def fit_bgnbd(frequency: np.ndarray, recency: np.ndarray, age: np.ndarray) -> BGNBDParams:
    """Maximum-likelihood BG/NBD parameters (L-BFGS-B on log-parameters, deterministic).

    Identical (x, t_x, T) rows are collapsed with weights first, so millions of buyers cost a
    few thousand likelihood terms.
    """
    table = pd.DataFrame({"x": frequency, "t_x": recency, "t": age}).astype("float64")
    grouped = table.value_counts(sort=False).reset_index(name="w").sort_values(["x", "t_x", "t"])
    x, t_x, t, w = (grouped[c].to_numpy() for c in ("x", "t_x", "t", "w"))
    total = float(w.sum())

    def objective(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        value = -bgnbd_log_likelihood(BGNBDParams(r, alpha, a, b), x, t_x, t, w) / total
        return value if np.isfinite(value) else 1e10

    start = np.log([1.0, max(1.0, float(np.average(t, weights=w))), 1.0, 1.0])
    result = minimize(objective, start, method="L-BFGS-B", bounds=[(-8.0, 8.0)] * 4)
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    return BGNBDParams(r, alpha, a, b)


def bgnbd_probability_alive(
    params: BGNBDParams, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """P(still active at the end of the observation period | x, t_x, T)."""
    x, t_x, t = _as_float(frequency), _as_float(recency), _as_float(age)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds_dead = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-12))
            + (r + x) * (np.log(alpha + t) - np.log(alpha + t_x))
        )
    return np.where(x > 0, expit(-log_odds_dead), 1.0)


def bgnbd_probability_no_purchase(
    params: BGNBDParams,
    frequency: np.ndarray,
    recency: np.ndarray,
    age: np.ndarray,
    horizon: float,
) -> np.ndarray:
    """P(no purchase in the next `horizon` days | x, t_x, T) under BG/NBD: the churn score.

    An active buyer purchases at rate lambda ~ Gamma(r + x, alpha + T) a posteriori and can only
    drop out right after a purchase, so P(no purchase | active) = E[exp(-lambda h)]
    = ((alpha + T) / (alpha + T + h)) ** (r + x); an inactive buyer never purchases.
    """
    x, t = _as_float(frequency), _as_float(age)
    alive = bgnbd_probability_alive(params, frequency, recency, age)
    buys_if_alive = 1.0 - np.exp(
        (params.r + x) * (np.log(params.alpha + t) - np.log(params.alpha + t + horizon))
    )
    return 1.0 - alive * buys_if_alive


def fit_score_calibration(
    score: np.ndarray, label: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """A monotone map from a non-negative score to a probability (logistic on log1p(score))."""
    features = np.log1p(np.maximum(_as_float(score), 0.0)).reshape(-1, 1)
    model = LogisticRegression(C=1e6, max_iter=1000).fit(features, np.asarray(label, dtype=int))

    def predict(new_score: np.ndarray) -> np.ndarray:
        z = np.log1p(np.maximum(_as_float(new_score), 0.0)).reshape(-1, 1)
        return model.predict_proba(z)[:, 1]

    return predict


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy(dtype=np.float64, na_value=0.0)


def fit_baselines(
    target: str, train: pd.DataFrame, label: np.ndarray, horizon_days: int
) -> dict[str, Scorer]:
    """Fit the target's baselines on the training population; each maps a frame to P(label)."""
    scorers: dict[str, Scorer] = {}
    if target == "churn":
        recency = fit_score_calibration(_column(train, "days_since_last_purchase"), label)
        scorers["days_since_last_purchase"] = lambda f: recency(
            _column(f, "days_since_last_purchase")
        )
        params = fit_bgnbd(*(_column(train, c) for c in BGNBD_COLUMNS))
        scorers["bg_nbd"] = lambda f: bgnbd_probability_no_purchase(
            params, *(_column(f, c) for c in BGNBD_COLUMNS), horizon=horizon_days
        )
    elif target == "big_spender":
        revenue = fit_score_calibration(_column(train, "past_revenue"), label)
        scorers["past_revenue"] = lambda f: revenue(_column(f, "past_revenue"))
    else:
        raise ValueError(f"unknown target {target!r}")
    return scorers
