"""Customer lifetime value: BG/NBD purchase days x a Gamma-Gamma spend model, fitted with scipy.

- Purchases: the BG/NBD model of ml.baselines (Fader, Hardie & Lee 2005), one "purchase" being a
  day with at least one purchase event; x = repeat purchase days, t_x = days from the first to
  the last purchase day, T = days from the first purchase day to the end of the snapshot date.
- Spend: the Gamma-Gamma model (Fader, Hardie & Lee 2005, "RFM and CLV"; Colombo & Jiang 1999):
  the revenue of each purchase day of a buyer is Gamma(p, nu) with nu ~ Gamma(q, gamma) across
  buyers, fitted by maximum likelihood on each buyer's number of purchase days n and mean revenue
  per purchase day m (buyers with m > 0). A buyer's expected revenue per purchase day is the
  posterior mean p (gamma + n m) / (p n + q - 1), shrunk from m towards the population mean
  p gamma / (q - 1) the fewer days the buyer has; it needs q > 1.
- Expected purchase days in the next t days, E[Y(t) | x, t_x, T], is P(alive) times the mean over
  the posterior of the dropout probability p ~ Beta(a, b + x) of (1 - ((alpha + T) / (alpha + T
  + p t)) ** (r + x)) / p, the expected purchases of an active buyer. That one-dimensional
  integral is taken by Gauss-Jacobi quadrature (exact for the Beta weight), which stays finite
  where the closed form's hypergeometric function overflows; a test checks the two agree.
- expected_revenue = E[Y(H)] x expected revenue per purchase day; clv sums that over the next
  `clv_horizon_days` in weekly steps, each discounted at the annual rate to its midpoint.

The `lifetimes` package that used to provide these models is archived, and PyMC-Marketing
brings PyMC and its compiler for what is two small likelihoods here: the fits are a few lines of
scipy, tested against simulated data (tests/test_ml_package.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, roots_jacobi

from ml.baselines import (
    BGNBDParams,
    bgnbd_log_likelihood,
    bgnbd_probability_alive,
    fit_score_calibration,
)

QUADRATURE_NODES = 40
STEP_DAYS = 7
LOG_BOUNDS = (-8.0, 8.0)


class FitFailed(Exception):
    """A likelihood fit did not converge or gave unusable parameters; the message says which."""


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float

    @property
    def mean_spend(self) -> float:
        """Population mean revenue per purchase day, p gamma / (q - 1)."""
        return self.p * self.gamma / (self.q - 1.0)


@dataclass(frozen=True)
class CLVModel:
    purchases: BGNBDParams
    spend: GammaGammaParams
    buyers: int
    spend_buyers: int

    def describe(self) -> str:
        b, s = self.purchases, self.spend
        return (
            f"BG/NBD r={b.r:.4g} alpha={b.alpha:.4g} a={b.a:.4g} b={b.b:.4g}; "
            f"Gamma-Gamma p={s.p:.4g} q={s.q:.4g} gamma={s.gamma:.4g} "
            f"(fitted on {self.buyers} buyers, {self.spend_buyers} with revenue)"
        )


def _f64(values: object) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _minimize(objective, start: np.ndarray, what: str) -> np.ndarray:
    """L-BFGS-B on log-parameters; FitFailed unless it ends finite and improved on the start."""
    try:
        result = minimize(objective, start, method="L-BFGS-B", bounds=[LOG_BOUNDS] * len(start))
    except (ValueError, FloatingPointError, OverflowError) as err:
        raise FitFailed(f"the {what} fit failed: {err}") from err
    initial = objective(start)
    if not (np.all(np.isfinite(result.x)) and np.isfinite(result.fun)) or result.fun >= 1e9:
        raise FitFailed(f"the {what} fit did not converge (no finite likelihood)")
    if not result.success and not result.fun < initial:
        raise FitFailed(f"the {what} fit did not converge: {result.message}")
    return np.exp(result.x)


def fit_bgnbd_checked(frequency: np.ndarray, recency: np.ndarray, age: np.ndarray) -> BGNBDParams:
    """ml.baselines.fit_bgnbd with its convergence checked (FitFailed otherwise)."""
    table = pd.DataFrame({"x": frequency, "t_x": recency, "t": age}).astype("float64")
    if len(table) == 0:
        raise FitFailed("the BG/NBD fit has no buyer")
    grouped = table.value_counts(sort=False).reset_index(name="w").sort_values(["x", "t_x", "t"])
    x, t_x, t, w = (grouped[c].to_numpy() for c in ("x", "t_x", "t", "w"))
    if not (x > 0).any():
        raise FitFailed("the BG/NBD fit has no repeat buyer (every buyer bought on one day)")
    total = float(w.sum())

    def objective(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        value = -bgnbd_log_likelihood(BGNBDParams(r, alpha, a, b), x, t_x, t, w) / total
        return value if np.isfinite(value) else 1e10

    start = np.log([1.0, max(1.0, float(np.average(t, weights=w))), 1.0, 1.0])
    r, alpha, a, b = (float(v) for v in _minimize(objective, start, "BG/NBD"))
    return BGNBDParams(r, alpha, a, b)


def gamma_gamma_log_likelihood(
    params: GammaGammaParams,
    count: np.ndarray,
    mean_spend: np.ndarray,
    weights: np.ndarray | None = None,
) -> float:
    """Sum of Gamma-Gamma log-likelihoods of n spends with mean m (n >= 1, m > 0)."""
    n, m = _f64(count), _f64(mean_spend)
    w = np.ones_like(n) if weights is None else _f64(weights)
    p, q, g = params.p, params.q, params.gamma
    terms = (
        gammaln(p * n + q)
        - gammaln(p * n)
        - gammaln(q)
        + q * np.log(g)
        + (p * n - 1) * np.log(m)
        + p * n * np.log(n)
        - (p * n + q) * np.log(n * m + g)
    )
    return float(np.sum(w * terms))


def fit_gamma_gamma(count: np.ndarray, mean_spend: np.ndarray) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma parameters on buyers with a positive mean spend."""
    n, m = _f64(count), _f64(mean_spend)
    keep = (n >= 1) & (m > 0) & np.isfinite(m)
    if keep.sum() < 2:
        raise FitFailed("the Gamma-Gamma spend fit needs at least two buyers with revenue")
    n, m = n[keep], m[keep]
    # Amounts in units of their median keep the parameters near 1 (gamma scales with them).
    scale = float(np.median(m))
    m = m / scale
    if np.allclose(m, m[0]):
        raise FitFailed("the Gamma-Gamma spend fit needs buyers whose mean spends differ")

    def objective(log_params: np.ndarray) -> float:
        p, q, g = np.exp(log_params)
        value = -gamma_gamma_log_likelihood(GammaGammaParams(p, q, g), n, m) / len(n)
        return value if np.isfinite(value) else 1e10

    p, q, g = (float(v) for v in _minimize(objective, np.log([1.0, 2.0, 1.0]), "Gamma-Gamma"))
    params = GammaGammaParams(p, q, g * scale)
    if params.q <= 1.0:
        raise FitFailed(
            f"the Gamma-Gamma spend fit gave q = {params.q:.3g} <= 1: the mean spend per "
            "purchase day is not finite under the fitted model"
        )
    return params


def gamma_gamma_expected_spend(
    params: GammaGammaParams, count: np.ndarray, mean_spend: np.ndarray
) -> np.ndarray:
    """Posterior mean revenue per purchase day; the population mean for n = 0."""
    n = np.maximum(_f64(count), 0.0)
    m = np.where(np.isfinite(_f64(mean_spend)), np.maximum(_f64(mean_spend), 0.0), 0.0)
    return params.p * (params.gamma + n * m) / (params.p * n + params.q - 1.0)


def bgnbd_expected_purchases(
    params: BGNBDParams,
    frequency: np.ndarray,
    recency: np.ndarray,
    age: np.ndarray,
    days: np.ndarray | float,
    nodes: int = QUADRATURE_NODES,
) -> np.ndarray:
    """E[purchase days in (T, T + t]] per buyer (rows) and horizon t (columns if `days` is an
    array; a vector for a single t). See the module docstring.

    Buyers with the same (x, t_x, T) share a value, so each distinct triple is computed once,
    in chunks that bound the (rows x horizons x nodes) work array to a few MB.
    """
    horizons = np.atleast_1d(_f64(days))
    triples = pd.DataFrame({"x": _f64(frequency), "t_x": _f64(recency), "t": _f64(age)})
    distinct = triples.drop_duplicates().reset_index(drop=True)
    back = triples.merge(distinct.reset_index(), on=["x", "t_x", "t"], how="left")["index"]
    x, t_age = distinct["x"].to_numpy(), distinct["t"].to_numpy()
    alive = bgnbd_probability_alive(params, x, distinct["t_x"].to_numpy(), t_age)
    values = np.zeros((len(distinct), len(horizons)))
    chunk = max(1, 4_000_000 // (len(horizons) * nodes * 8))
    for value in np.unique(x):
        # Gauss-Jacobi: weight (1 - u)^(b + x - 1) (1 + u)^(a - 1) on [-1, 1], p = (1 + u) / 2.
        u, weight = roots_jacobi(nodes, params.b + value - 1.0, params.a - 1.0)
        weight = weight / weight.sum()
        drop = (1.0 + u) / 2.0
        shape = params.r + value
        group = np.flatnonzero(x == value)
        for start in range(0, len(group), chunk):
            rows = group[start : start + chunk]
            base = params.alpha + t_age[rows]
            # (rows, horizons, nodes): (r + x) log(1 + p t / (alpha + T))
            ratio = np.log1p(drop[None, None, :] * horizons[None, :, None] / base[:, None, None])
            active = -np.expm1(-shape * ratio) / drop[None, None, :]
            values[rows] = active @ weight
    result = (alive[:, None] * values)[back.to_numpy()]
    return result[:, 0] if np.ndim(days) == 0 else result


def discounted_purchases(
    params: BGNBDParams,
    frequency: np.ndarray,
    recency: np.ndarray,
    age: np.ndarray,
    horizon_days: int,
    annual_rate: float,
    step_days: int = STEP_DAYS,
) -> np.ndarray:
    """Expected purchase days in the next `horizon_days`, each step's discounted to its midpoint
    at `annual_rate` per 365 days (weekly steps, the last one shorter)."""
    ends = np.unique(np.r_[np.arange(step_days, horizon_days, step_days), horizon_days]).astype(
        np.float64
    )
    cumulative = bgnbd_expected_purchases(params, frequency, recency, age, ends)
    increments = np.diff(np.column_stack([np.zeros(len(cumulative)), cumulative]), axis=1)
    midpoints = (ends + np.r_[0.0, ends[:-1]]) / 2.0
    discount = (1.0 + annual_rate) ** (-midpoints / 365.0)
    return increments @ discount


def fit_clv(buyers: pd.DataFrame) -> CLVModel:
    """Fit both models on buyers' (bgnbd_frequency, bgnbd_recency_days, bgnbd_age_days,
    purchase_days, past_revenue) as of one snapshot. FitFailed says why it could not."""
    purchases = fit_bgnbd_checked(*(buyers[c].to_numpy(dtype=np.float64) for c in BGNBD_INPUTS))
    count, mean = spend_inputs(buyers)
    spend = fit_gamma_gamma(count, mean)
    return CLVModel(purchases, spend, len(buyers), int(((count >= 1) & (mean > 0)).sum()))


BGNBD_INPUTS = ("bgnbd_frequency", "bgnbd_recency_days", "bgnbd_age_days")
CLV_FIGURES = ("expected_purchases", "probability_alive", "expected_revenue", "clv")


def spend_inputs(buyers: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(purchase days, mean revenue per purchase day) per buyer."""
    count = buyers["purchase_days"].to_numpy(dtype=np.float64, na_value=0.0)
    revenue = buyers["past_revenue"].to_numpy(dtype=np.float64, na_value=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, revenue / np.maximum(count, 1.0), 0.0)
    return count, mean


def score_clv(
    model: CLVModel,
    buyers: pd.DataFrame,
    horizon_days: int,
    clv_horizon_days: int,
    annual_rate: float,
) -> pd.DataFrame:
    """CLV_FIGURES per buyer (rows in the order of `buyers`)."""
    inputs = [buyers[c].to_numpy(dtype=np.float64) for c in BGNBD_INPUTS]
    count, mean = spend_inputs(buyers)
    spend = gamma_gamma_expected_spend(model.spend, count, mean)
    expected = bgnbd_expected_purchases(model.purchases, *inputs, float(horizon_days))
    lifetime = discounted_purchases(model.purchases, *inputs, clv_horizon_days, annual_rate)
    return pd.DataFrame(
        {
            "expected_purchases": expected,
            "probability_alive": bgnbd_probability_alive(model.purchases, *inputs),
            "expected_revenue": expected * spend,
            "clv": lifetime * spend,
        }
    )


def expected_revenue_scores(frame: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """Expected revenue in the next `horizon_days` for every row of a population frame, the
    models fitted on the frame's own buyers (history up to its snapshot only); 0 for a user
    without a purchase. FitFailed when the models cannot be fitted."""
    buyers = frame["bgnbd_frequency"].notna().to_numpy()
    model = fit_clv(frame.loc[buyers])
    scores = np.zeros(len(frame))
    inputs = [frame.loc[buyers, c].to_numpy(dtype=np.float64) for c in BGNBD_INPUTS]
    count, mean = spend_inputs(frame.loc[buyers])
    expected = bgnbd_expected_purchases(model.purchases, *inputs, float(horizon_days))
    scores[buyers] = expected * gamma_gamma_expected_spend(model.spend, count, mean)
    return scores


# Scorers that compete with the models and baselines of a classification target. The CLV
# model's expected revenue in the next H days is a big-spender score: it is not a baseline (it is
# a fitted model) and ranks, for champion selection, between the baselines and the learned models.
CHALLENGERS: dict[str, tuple[str, ...]] = {"churn": (), "big_spender": ("clv_expected_revenue",)}


def fit_challengers(
    target: str, train: pd.DataFrame, label: np.ndarray, horizon_days: int
) -> dict[str, Callable[[pd.DataFrame], np.ndarray]]:
    """The target's challengers, each a map from a population frame to P(label).

    `clv_expected_revenue`: the CLV models are fitted on each frame's own history (they use no
    label), and a one-feature logistic regression on log1p(expected revenue) fitted on the
    training frame turns the expected revenue into a probability (monotone: the ranking is the
    expected revenue's). FitFailed propagates when the models cannot be fitted.
    """
    if not CHALLENGERS.get(target):
        return {}
    to_probability = fit_score_calibration(expected_revenue_scores(train, horizon_days), label)
    return {
        "clv_expected_revenue": lambda frame: to_probability(
            expected_revenue_scores(frame, horizon_days)
        )
    }
