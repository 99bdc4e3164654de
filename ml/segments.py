"""Churn-risk segments that can be acted on, and how precise they were in the backtest.

Among the buyers at a date, with their calibrated churn probability (no purchase in the next H
days) and their customer lifetime value (ml.clv):

- high value: the top `core_tier_share` of buyers by CLV (ceil(share x buyers), ties by
  user_id): the same share as the power and core tiers of the rule below, ranked by what the
  buyers are expected to bring rather than by what they brought;
- segment `at_risk_high_value`: among the high-value buyers whose churn probability is at least
  `churn_risk_band_high`, the `risk_segment_share` of all buyers (ceil(share x buyers)) with the
  highest churn probability (ties by user_id): a short list, of valuable buyers, most likely
  to lapse;
- segment `at_risk`: the other buyers with a churn probability of at least
  `churn_risk_band_high`;
- the rest are `not_at_risk`;
- `clv_at_risk` = churn probability x CLV, summed per segment: the lifetime value the segment
  stands to lose.

Ranking the high band by clv_at_risk itself was tried: it picks the most valuable buyers, who
are mostly active, and on the 1M-event sample its precision was at the base rate (0.81-0.90
against 0.85-0.90, three cutoffs); the likeliest churners among high-value buyers reached
0.94-0.99.

marts.customer_churn_risk assigns the same segments at D in SQL. The rule it falls back to when
the models are skipped is marts.customer_segments' `at_risk_high_value`: a power or core buyer
(the top `core_tier_share` of buyers by revenue) whose days since the last purchase exceed H or
`at_risk_gap_multiplier` x the median gap between purchase days; it is judged here as well.

Precision of a segment at a cutoff c: the share of its buyers with no purchase in (c, c + H],
beside the base rate (the share among all judged buyers) and their ratio, the lift. The model
segments use the forward-chained calibrated churn probabilities (ml.calibration), so a cutoff
without an earlier one to calibrate on is not judged; the rule is judged at the same cutoffs.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ml.clv import FitFailed, fit_clv, score_clv
from ml.config import MLConfig
from ml.records import SegmentFigure, TargetRun

MODEL_SEGMENTS = ("at_risk_high_value", "at_risk", "not_at_risk")
RULE_SEGMENT = "at_risk_high_value"
SEGMENT_FIGURES = (
    "users",
    "user_share",
    "churned_users",
    "precision",
    "base_rate",
    "lift",
    "clv_at_risk",
)


def top_count(share: float, n: int) -> int:
    """ceil(share x n) with the product rounded to 9 places first, as the SQL macro
    value_tier_cutoff does (0.28 x 25 = 7.000000000000001 must give 7)."""
    return min(n, math.ceil(round(share * n, 9)))


def _first_by(key: np.ndarray, user_id: np.ndarray, rows: np.ndarray, count: int) -> np.ndarray:
    """The `count` rows (of `rows`) with the highest key, ties by user_id."""
    order = rows[np.lexsort((user_id[rows], -key[rows]))]
    return order[:count]


def model_segments(
    user_id: np.ndarray,
    churn_probability: np.ndarray,
    clv: np.ndarray,
    share: float,
    high_band: float,
    high_value_share: float,
) -> np.ndarray:
    """The model segment of each buyer (see the module docstring)."""
    ids = np.asarray(user_id)
    p = np.asarray(churn_probability, dtype=np.float64)
    value = np.asarray(clv, dtype=np.float64)
    n = len(p)
    high_value = np.zeros(n, dtype=bool)
    high_value[_first_by(value, ids, np.arange(n), top_count(high_value_share, n))] = True
    at_risk = p >= high_band
    segment = np.where(at_risk, "at_risk", "not_at_risk").astype(object)
    chosen = _first_by(p, ids, np.flatnonzero(at_risk & high_value), top_count(share, n))
    segment[chosen] = "at_risk_high_value"
    return segment


def rule_at_risk(frame: pd.DataFrame, horizon_days: int, config: MLConfig) -> np.ndarray:
    """marts.customer_segments' at_risk_high_value rule as of the frame's snapshot."""
    # Ranked as marts.customer_value ranks buyers: revenue rounded to cents, ties by user_id.
    revenue = np.round(frame["past_revenue"].to_numpy(dtype=np.float64, na_value=0.0), 2)
    order = np.lexsort((frame["user_id"].to_numpy(), -revenue))
    rank = np.empty(len(frame), dtype=np.int64)
    rank[order] = np.arange(1, len(frame) + 1)
    high_value = rank <= top_count(config.core_tier_share, len(frame))
    days = frame["days_since_last_purchase"].to_numpy(dtype=np.float64, na_value=np.nan)
    gap = frame["median_purchase_gap_days"].to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        lapsed = (days > horizon_days) | (days > config.at_risk_gap_multiplier * gap)
    return high_value & lapsed


def segment_figures(
    members: np.ndarray, churned: np.ndarray, clv_at_risk: np.ndarray
) -> dict[str, float]:
    """SEGMENT_FIGURES of one segment (boolean membership) among the judged buyers."""
    users = int(members.sum())
    churned_users = int((members & churned).sum())
    base_rate = float(churned.mean()) if len(churned) else math.nan
    precision = churned_users / users if users else math.nan
    return {
        "users": float(users),
        "user_share": users / len(churned) if len(churned) else math.nan,
        "churned_users": float(churned_users),
        "precision": precision,
        "base_rate": base_rate,
        "lift": precision / base_rate if users and base_rate > 0 else math.nan,
        "clv_at_risk": float(np.sum(clv_at_risk[members])),
    }


def record_segments(
    run: TargetRun,
    judged: Sequence[tuple[dt.date, pd.DataFrame]],
    calibrated: Mapping[dt.date, np.ndarray],
    config: MLConfig,
) -> None:
    """Judge the model segments and the rule at each cutoff with calibrated scores."""
    for cutoff, frame in judged:
        if cutoff not in calibrated:
            continue
        churned = frame["label"].to_numpy(dtype=bool)
        try:
            model = fit_clv(frame)
        except FitFailed as err:
            print(f"ml: churn: segments not judged at {cutoff}: {err}", file=sys.stderr)
            continue
        clv = score_clv(
            model,
            frame,
            config.horizon_days,
            config.clv_horizon_days,
            config.clv_annual_discount_rate,
        )["clv"].to_numpy()
        segment = model_segments(
            frame["user_id"].to_numpy(),
            calibrated[cutoff],
            clv,
            config.risk_segment_share,
            config.churn_risk_band_high,
            config.core_tier_share,
        )
        groups = {("model", name): segment == name for name in MODEL_SEGMENTS}
        groups[("rule", RULE_SEGMENT)] = rule_at_risk(frame, config.horizon_days, config)
        at_stake = calibrated[cutoff] * clv
        for (source, name), members in groups.items():
            for figure, value in segment_figures(members, churned, at_stake).items():
                run.segments.append(SegmentFigure(cutoff, name, source, figure, value))
