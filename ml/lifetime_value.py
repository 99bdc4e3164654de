"""Customer lifetime value of every buyer at D, backtested on the rolling cutoffs.

At D: the CLV models (ml.clv, BG/NBD purchase days x Gamma-Gamma spend) are fitted on every
buyer's history up to D and give, per buyer, the expected purchase days and expected revenue in
the next H days, the probability of being still active, and the CLV over `clv_horizon_days`
discounted at `clv_annual_discount_rate`.

Backtest: at each cutoff c (the latest `backtest_cutoffs` snapshots whose label window is
observed by D, as for the other targets) the models are fitted on the buyers' history up to c
only (they need no label, so no training snapshot) and their expected revenue in (c, c + H] is
compared with the revenue the buyers then brought in, beside the past-revenue baseline (rank by
revenue up to c):
- `spearman`: Spearman rank correlation of the score with the realised revenue;
- `top_10pct_revenue_capture`: the share of all realised revenue brought in by the 10% of buyers
  with the highest score (ceil(10% x buyers), ties by user_id);
- `revenue_ratio` (model only): total expected over total realised revenue (1 = right on the whole);
- `population`: the buyers judged.

A fit that does not converge skips its cutoff, or, at D, the run, with the reason.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ml.clv import BGNBD_INPUTS, CLV_FIGURES, FitFailed, fit_clv, score_clv
from ml.config import MLConfig
from ml.data import SnapshotSource, buyers, label_dates, last_label_date
from ml.engines import dbt_inputs
from ml.plan import DegenerateData, plan_backtest
from ml.records import BACKTEST, CutoffRecord, Metric, TargetRun, guarded_run, to_long_relation

TARGET = "clv"
MODEL = "bg_nbd_gamma_gamma"
BASELINE = "past_revenue"
INPUTS = (*BGNBD_INPUTS, "purchase_days", "past_revenue")
TOP_SHARE = 0.10
CLV_METRICS = ("spearman", "top_10pct_revenue_capture", "revenue_ratio", "population")


def revenue_capture(score: np.ndarray, realised: np.ndarray, share: float = TOP_SHARE) -> float:
    """Share of realised revenue from the top `share` of rows by score (ties: row order)."""
    total = float(np.sum(realised))
    if len(score) == 0 or total <= 0:
        return math.nan
    top = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    return float(np.sum(np.asarray(realised)[top[: math.ceil(share * len(score))]]) / total)


def rank_correlation(score: np.ndarray, realised: np.ndarray) -> float:
    if len(score) < 2 or np.ptp(score) == 0 or np.ptp(realised) == 0:
        return math.nan
    return float(spearmanr(score, realised).statistic)


def clv_metrics(
    expected: np.ndarray, past: np.ndarray, realised: np.ndarray
) -> dict[str, dict[str, float]]:
    """CLV_METRICS of the model (expected revenue) and of the past-revenue baseline."""
    total = float(np.sum(realised))
    return {
        MODEL: {
            "spearman": rank_correlation(expected, realised),
            "top_10pct_revenue_capture": revenue_capture(expected, realised),
            "revenue_ratio": float(np.sum(expected)) / total if total > 0 else math.nan,
            "population": float(len(realised)),
        },
        BASELINE: {
            "spearman": rank_correlation(past, realised),
            "top_10pct_revenue_capture": revenue_capture(past, realised),
            "population": float(len(realised)),
        },
    }


def _run(run: TargetRun, source: SnapshotSource, config: MLConfig) -> None:
    last = last_label_date(source)
    plan = plan_backtest(
        label_dates(source),
        config.horizon_days,
        config.prediction_date or last,
        last,
        config.backtest_cutoffs,
        config.train_snapshots,
        needs_training=False,
    )
    run.details["prediction_as_of_date"] = str(plan.score)
    used = []
    for cutoff in plan.cutoffs:
        record = CutoffRecord(cutoff.date)
        run.cutoffs.append(record)
        frame = buyers(source, cutoff.date, (*INPUTS, "future_revenue"))
        record.figures["evaluation_population"] = len(frame)
        try:
            if len(frame) < config.min_population:
                raise FitFailed(
                    f"tiny population: {len(frame)} buyers at {cutoff.date} "
                    f"(at least {config.min_population} needed)"
                )
            if frame["future_revenue"].isna().any():
                raise FitFailed(f"the label window after {cutoff.date} is not fully observed")
            model = fit_clv(frame)
        except FitFailed as err:
            record.status, record.reason = "skipped", str(err)
            print(f"ml: clv: cutoff {cutoff.date} skipped: {err}", file=sys.stderr)
            continue
        scored = score_clv(
            model,
            frame,
            config.horizon_days,
            config.clv_horizon_days,
            config.clv_annual_discount_rate,
        )
        realised = frame["future_revenue"].to_numpy(dtype=np.float64)
        past = frame["past_revenue"].to_numpy(dtype=np.float64, na_value=0.0)
        for name, values in clv_metrics(
            scored["expected_revenue"].to_numpy(), past, realised
        ).items():
            for metric, value in values.items():
                run.metrics.append(
                    Metric(name, name == BASELINE, BACKTEST, cutoff.date, metric, value)
                )
        record.figures["evaluation_rows"] = len(frame)
        used.append(cutoff.date)
    skipped = [r for r in run.cutoffs if r.status != "ok"]
    run.details.update(cutoff_count=len(used), skipped_cutoff_count=len(skipped))
    if not used:
        raise DegenerateData(
            "no backtest cutoff could be used: "
            + "; ".join(f"{r.date}: {r.reason}" for r in skipped)
        )
    run.details.update(
        first_cutoff_date=str(used[0]),
        last_cutoff_date=str(used[-1]),
        evaluation_rows=sum(int(r.figures.get("evaluation_rows", 0)) for r in run.cutoffs),
    )
    at_d = buyers(source, plan.score, INPUTS)
    if len(at_d) < config.min_population:
        raise DegenerateData(
            f"tiny population: {len(at_d)} buyers at {plan.score} "
            f"(at least {config.min_population} needed)"
        )
    try:
        model = fit_clv(at_d)
    except FitFailed as err:
        raise DegenerateData(f"the CLV models could not be fitted at {plan.score}: {err}") from err
    scored = score_clv(
        model, at_d, config.horizon_days, config.clv_horizon_days, config.clv_annual_discount_rate
    )
    run.model = MODEL
    run.predictions = pd.concat([at_d[["user_id"]].assign(as_of_date=plan.score), scored], axis=1)
    run.prediction_names = {figure: figure for figure in CLV_FIGURES}
    run.details.update(
        scored_rows=len(at_d),
        train_population=model.buyers,
        parameters=(
            f"{model.describe()}; clv over {config.clv_horizon_days} days discounted at "
            f"{config.clv_annual_discount_rate:g} a year"
        ),
    )


def run_clv(source: SnapshotSource, config: MLConfig) -> TargetRun:
    """The whole CLV run; degenerate data or a failed fit give a skipped run with its reason."""
    run = TargetRun(target=TARGET, details={"horizon_days": config.horizon_days})
    return guarded_run(run, config.threads, lambda: _run(run, source, config))


def dbt_model(
    session: object,
    labels: object,
    settings: Mapping[str, object],
) -> object:
    """Body of the dbt Python model ml_clv_training (see ml.train.dbt_model for the rules and
    the engines)."""
    inputs = dbt_inputs(session, None, labels)
    run = run_clv(inputs.source, MLConfig.from_meta(settings.get))
    return inputs.result(to_long_relation(inputs.source.con, run))
