"""What one run produced, and the long table the dbt Python models return.

Every run (churn, big spender, customer lifetime value) fills a `TargetRun`; `to_long_relation`
turns it into one long table with a `record_type` per row, which thin SQL models in models/ml/
split into the tables people read (predictions, model_metrics, model_calibration,
feature_importance, backtest_cutoffs, churn_segment_backtest, model_runs).
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import duckdb
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ml.plan import DegenerateData

BACKTEST = "backtest"
BACKTEST_CALIBRATED = "backtest_calibrated"
LONG_COLUMNS = {
    "record_type": "str",
    "target": "str",
    "user_id": "Int64",
    "as_of_date": "datetime64[us]",
    "model": "str",
    "is_baseline": "boolean",
    "evaluation": "str",
    "name": "str",
    "value": "float64",
    "value_std": "float64",
    "text": "str",
}
CALIBRATION_FIGURES = ("bin_low", "bin_high", "users", "mean_predicted", "observed_rate")
CUTOFF_ATTRIBUTES = (
    "status",
    "reason",
    "train_snapshot_dates",
    "train_population",
    "train_positives",
    "train_rows",
    "evaluation_population",
    "evaluation_rows",
)
RUN_ATTRIBUTES = (
    "status",
    "reason",
    "horizon_days",
    "prediction_as_of_date",
    "feature_count",
    "cutoff_count",
    "skipped_cutoff_count",
    "first_cutoff_date",
    "last_cutoff_date",
    "train_snapshot_dates",
    "train_population",
    "train_positives",
    "train_rows",
    "evaluation_rows",
    "scored_rows",
    "champion_model",
    "champion_is_baseline",
    "champion_roc_auc",
    "champion_roc_auc_std",
    "runner_up_model",
    "runner_up_roc_auc",
    "champion_margin_roc_auc",
    "best_baseline_model",
    "best_baseline_roc_auc",
    "champion_margin_over_baseline_roc_auc",
    "calibration_method",
    "calibration_rows",
    "trained_through",
    "training_reused",
    "parameters",
    "seconds",
)


class Metric(NamedTuple):
    model: str
    is_baseline: bool
    evaluation: str  # BACKTEST (raw scores) or BACKTEST_CALIBRATED
    cutoff: dt.date
    metric: str
    value: float


class Reliability(NamedTuple):
    model: str
    is_baseline: bool
    evaluation: str
    cutoff: dt.date
    bin: int
    bin_low: float
    bin_high: float
    users: int
    mean_predicted: float
    observed_rate: float


class SegmentFigure(NamedTuple):
    cutoff: dt.date
    segment: str
    source: str  # 'model' or 'rule'
    figure: str
    value: float


@dataclass
class CutoffRecord:
    """One backtest cutoff: used ('ok') or 'skipped' with the reason, and its row counts."""

    date: dt.date
    status: str = "ok"
    reason: str = ""
    train_dates: tuple[dt.date, ...] = ()
    figures: dict[str, float] = field(default_factory=dict)


def empty_predictions() -> pd.DataFrame:
    return pd.DataFrame({"user_id": [], "as_of_date": [], "probability": []})


@dataclass
class TargetRun:
    target: str
    status: str = "ok"
    reason: str = ""
    # The model or baseline that wrote the predictions (ml.champion).
    model: str = ""
    # user_id, as_of_date and one column per predicted figure (see `prediction_names`).
    predictions: pd.DataFrame = field(default_factory=empty_predictions)
    # Predicted figure column -> the long table's `name` (None: the single probability).
    prediction_names: dict[str, str | None] = field(default_factory=lambda: {"probability": None})
    metrics: list[Metric] = field(default_factory=list)
    calibration: list[Reliability] = field(default_factory=list)
    importance: list[tuple[str, str, float, float]] = field(default_factory=list)
    cutoffs: list[CutoffRecord] = field(default_factory=list)
    segments: list[SegmentFigure] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)
    # (name, text) rows of record_type 'state': fitted models a later build may reuse (ml.store).
    state: list[tuple[str, str]] = field(default_factory=list)

    def clear_results(self) -> None:
        """A skipped run keeps its cutoff records (why each was skipped) and nothing else."""
        self.metrics, self.calibration, self.importance, self.segments = [], [], [], []
        self.state = []
        self.predictions = empty_predictions()
        self.prediction_names = {"probability": None}


def _timestamps(values: list[dt.date]) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="object"))


def to_long_table(run: TargetRun) -> pd.DataFrame:
    """One table for everything a run produced; thin SQL models in models/ml/ split it."""
    predictions = [
        pd.DataFrame(
            {
                "record_type": "prediction",
                "user_id": run.predictions["user_id"].astype("int64"),
                "as_of_date": pd.to_datetime(run.predictions["as_of_date"]),
                "model": run.model,
                "name": name,
                "value": run.predictions[column].astype("float64"),
            }
        )
        for column, name in run.prediction_names.items()
    ]
    metrics = pd.DataFrame(run.metrics, columns=list(Metric._fields))
    metrics = metrics.assign(record_type="metric", as_of_date=_timestamps(list(metrics["cutoff"])))
    metrics = metrics.rename(columns={"metric": "name"}).drop(columns="cutoff")
    importance = pd.DataFrame(
        run.importance, columns=["model", "name", "value", "value_std"]
    ).assign(record_type="importance", is_baseline=False, evaluation=BACKTEST)
    # One long row per (model, evaluation, cutoff, bin, figure): the bin number in `text`.
    reliability = pd.DataFrame(run.calibration, columns=list(Reliability._fields))
    calibration = (
        reliability.rename(columns={"bin": "text"})
        .astype({"text": "str"})
        .melt(
            id_vars=["model", "is_baseline", "evaluation", "cutoff", "text"],
            var_name="name",
            value_name="value",
        )
        .assign(record_type="calibration")
    )
    calibration["as_of_date"] = _timestamps(list(calibration["cutoff"]))
    calibration = calibration.drop(columns="cutoff")
    cutoff_rows = []
    for record in run.cutoffs:
        attributes = {
            "status": record.status,
            "reason": record.reason,
            "train_snapshot_dates": ", ".join(str(d) for d in record.train_dates),
            **record.figures,
        }
        for name in CUTOFF_ATTRIBUTES:
            value = attributes.get(name)
            cutoff_rows.append(
                {
                    "record_type": "cutoff",
                    "as_of_date": pd.Timestamp(record.date),
                    "name": name,
                    "value": float(value) if isinstance(value, int | float) else np.nan,
                    "text": value if isinstance(value, str) else None,
                }
            )
    cutoffs = pd.DataFrame(cutoff_rows)
    segments = pd.DataFrame(run.segments, columns=list(SegmentFigure._fields))
    segments = segments.rename(
        columns={"segment": "model", "source": "evaluation", "figure": "name"}
    ).assign(record_type="segment", as_of_date=_timestamps(list(segments["cutoff"])))
    segments = segments.drop(columns="cutoff")
    details = [(k, run.details.get(k)) for k in RUN_ATTRIBUTES]
    attributes = pd.DataFrame(
        {
            "record_type": "run",
            "name": [k for k, _ in details],
            "value": [float(v) if isinstance(v, int | float) else np.nan for _, v in details],
            "text": [v if isinstance(v, str) else None for _, v in details],
        }
    )
    state = pd.DataFrame(run.state, columns=["name", "text"]).assign(record_type="state")
    parts = [
        p
        for p in (
            *predictions,
            metrics,
            importance,
            calibration,
            cutoffs,
            segments,
            attributes,
            state,
        )
        if len(p)
    ]
    table = pd.concat(parts, ignore_index=True).reindex(columns=list(LONG_COLUMNS))
    table["target"] = run.target
    return table.astype(LONG_COLUMNS)


def to_long_relation(con: duckdb.DuckDBPyConnection, run: TargetRun) -> duckdb.DuckDBPyRelation:
    """to_long_table(run) as a DuckDB relation on `con`: same columns, types and rows.

    The predictions (a row per user and figure: millions at full scale) go in as numeric
    columns and DuckDB adds the constant ones, instead of building string columns in pandas.
    """
    others = con.from_df(to_long_table(replace(run, predictions=run.predictions.iloc[0:0])))
    if len(run.predictions) == 0:
        return others
    # Every prediction of a run is at the prediction date D.
    as_of = pd.Timestamp(run.predictions["as_of_date"].iloc[0])
    columns = list(run.prediction_names)
    predictions = pd.DataFrame(
        {
            "user_id": run.predictions["user_id"].to_numpy(dtype=np.int64),
            **{c: run.predictions[c].to_numpy(dtype=np.float64) for c in columns},
        }
    )
    relation = con.from_df(predictions)
    text = _sql_string
    result = others
    for column, name in run.prediction_names.items():
        constant = {
            "record_type": f"cast({text('prediction')} as varchar)",
            "target": f"cast({text(run.target)} as varchar)",
            "user_id": "user_id",
            "as_of_date": f"cast({text(as_of.strftime('%Y-%m-%d %H:%M:%S'))} as timestamp)",
            "model": f"cast({text(run.model)} as varchar)",
            "is_baseline": "cast(null as boolean)",
            "evaluation": "cast(null as varchar)",
            "name": "cast(null as varchar)" if name is None else f"cast({text(name)} as varchar)",
            "value": f"cast({_quote(column)} as double)",
            "value_std": "cast(null as double)",
            "text": "cast(null as varchar)",
        }
        projection = ", ".join(f"{constant[c]} as {c}" for c in LONG_COLUMNS)
        result = relation.project(projection).union(result)
    return result


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def guarded_run(run: TargetRun, threads: int, body: Callable[[], None]) -> TargetRun:
    """Run body (which fills run) with at most `threads` BLAS/OpenMP threads; degenerate data
    (ml.plan.DegenerateData) gives a skipped run with its reason instead of an error.

    Two dbt threads train two targets at once: one BLAS/OpenMP thread each keeps the cores from
    being oversubscribed (OpenMP spin-waits made that 10x slower on 2 busy cores)."""
    started = time.perf_counter()
    try:
        with threadpool_limits(limits=threads):
            body()
    except DegenerateData as err:
        run.status, run.reason = "skipped", str(err)
        run.clear_results()
        print(f"ml: {run.target} model skipped: {err}", file=sys.stderr)
    run.details.update(status=run.status, reason=run.reason)
    run.details["seconds"] = round(time.perf_counter() - started, 3)
    return run
