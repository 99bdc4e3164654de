"""Out-of-time backtest and production scoring for one target, as called by dbt.

With D the prediction date and H the horizon (days):
- backtest: fit on snapshot D - 2H (labels from (D - 2H, D - H]), judge on snapshot D - H
  (labels from (D - H, D]); models and baselines alike;
- production: refit the gradient-boosting pipeline on snapshot D - H and score every user of the
  population at D.

Data that cannot support this (missing snapshots, unobserved label windows, a tiny population,
one class) raises `DegenerateData` inside, and the run comes back as `status = 'skipped'` with
the reason and no predictions, never as a traceback.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from ml.baselines import Scorer, fit_baselines
from ml.config import MLConfig
from ml.data import (
    TARGETS,
    SnapshotSource,
    TargetSpec,
    feature_columns,
    iter_features,
    last_label_date,
    load_features,
    population,
    snapshot_dates,
)
from ml.evaluate import classification_metrics, permutation_importances
from ml.pipelines import MODEL_KINDS, PRIMARY_MODEL, make_pipeline
from ml.sampling import balanced_sample, stratified_sample

EVALUATION = "backtest"
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
RUN_ATTRIBUTES = (
    "status",
    "reason",
    "horizon_days",
    "train_as_of_date",
    "evaluation_as_of_date",
    "prediction_as_of_date",
    "feature_count",
    "train_population",
    "train_positives",
    "train_rows",
    "evaluation_population",
    "evaluation_rows",
    "production_train_rows",
    "scored_rows",
    "seconds",
)


class DegenerateData(Exception):
    """The data cannot support a run; the message says why, in words for the build log."""


@dataclass(frozen=True)
class SnapshotPlan:
    train: dt.date
    evaluate: dt.date
    score: dt.date


@dataclass
class TargetRun:
    target: str
    status: str = "ok"
    reason: str = ""
    predictions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"user_id": [], "as_of_date": [], "probability": []})
    )
    metrics: list[tuple[str, bool, str, float]] = field(default_factory=list)
    importance: list[tuple[str, str, float, float]] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)


def plan_snapshots(
    dates: list[dt.date], horizon_days: int, prediction_date: dt.date | None
) -> SnapshotPlan:
    """D, D - H and D - 2H, each of which must be a snapshot of the feature table."""
    if not dates:
        raise DegenerateData("the feature table has no snapshot (no clean events?)")
    score = prediction_date or max(dates)
    horizon = dt.timedelta(days=horizon_days)
    plan = SnapshotPlan(train=score - 2 * horizon, evaluate=score - horizon, score=score)
    wanted = {
        "prediction D": plan.score,
        "backtest D - H": plan.evaluate,
        "training D - 2H": plan.train,
    }
    missing = [f"{name} = {day}" for name, day in wanted.items() if day not in set(dates)]
    if missing:
        raise DegenerateData(
            f"too few snapshots for a {horizon_days}-day horizon: missing {', '.join(missing)}; "
            f"the feature table has {', '.join(str(d) for d in sorted(dates))}. "
            "Use a shorter churn_horizon_days or more days of data."
        )
    return plan


def check_snapshot(frame: pd.DataFrame, name: str, as_of: dt.date, config: MLConfig) -> None:
    """A snapshot to learn from or judge on: observed labels, enough users, both classes."""
    if len(frame) < config.min_population:
        raise DegenerateData(
            f"tiny population: the {name} snapshot {as_of} has {len(frame)} users "
            f"(at least {config.min_population} needed)"
        )
    if frame["label"].isna().any():
        raise DegenerateData(
            f"the label window after the {name} snapshot {as_of} is not fully observed "
            f"(as_of_date + horizon is after the last event date)"
        )
    positives = int(frame["label"].sum())
    negatives = len(frame) - positives
    if min(positives, negatives) < config.min_class_rows:
        raise DegenerateData(
            f"one-class label: the {name} snapshot {as_of} has {positives} positive and "
            f"{negatives} negative users (at least {config.min_class_rows} of each needed)"
        )


def fit_models(
    kinds: tuple[str, ...], features: np.ndarray, label: np.ndarray, seed: int
) -> dict[str, Pipeline]:
    """Fit one fresh pipeline of each kind on the same rows."""
    return {kind: make_pipeline(kind, seed).fit(features, label) for kind in kinds}


def load_training_sample(
    source: SnapshotSource,
    columns: list[str],
    frame: pd.DataFrame,
    as_of: dt.date,
    config: MLConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of a seeded, stratified sample of at most train_sample_rows users."""
    label = frame["label"].to_numpy(dtype=bool)
    rows = stratified_sample(label, config.train_sample_rows, config.seed)
    return load_features(source, columns, as_of, frame["user_id"].to_numpy()[rows]), label[rows]


def score_users(
    source: SnapshotSource,
    columns: list[str],
    as_of: dt.date,
    user_ids: np.ndarray,
    pipelines: dict[str, Pipeline],
    chunk_rows: int,
) -> dict[str, np.ndarray]:
    """P(label) of every user for each pipeline, read and scored chunk by chunk."""
    scores = {kind: np.zeros(len(user_ids), dtype=np.float64) for kind in pipelines}
    for positions, features in iter_features(source, columns, as_of, user_ids, chunk_rows):
        for kind, pipeline in pipelines.items():
            scores[kind][positions] = pipeline.predict_proba(features)[:, 1]
    return scores


def record_metrics(
    run: TargetRun,
    source: SnapshotSource,
    columns: list[str],
    evaluate: pd.DataFrame,
    as_of: dt.date,
    pipelines: dict[str, Pipeline],
    baselines: dict[str, Scorer],
    config: MLConfig,
) -> None:
    """Every metric of every model and baseline on (a stratified sample of) the snapshot."""
    rows = stratified_sample(
        evaluate["label"].to_numpy(dtype=bool), config.eval_sample_rows, config.seed
    )
    judged = evaluate.iloc[rows].reset_index(drop=True)
    run.details["evaluation_rows"] = len(judged)
    user_ids = judged["user_id"].to_numpy()
    scores = score_users(source, columns, as_of, user_ids, pipelines, config.chunk_rows)
    scores.update({name: scorer(judged) for name, scorer in baselines.items()})
    label = judged["label"].to_numpy(dtype=bool)
    for name, probability in scores.items():
        for metric, value in classification_metrics(label, probability).items():
            run.metrics.append((name, name in baselines, metric, value))


def record_importance(
    run: TargetRun,
    pipelines: dict[str, Pipeline],
    features: np.ndarray,
    label: np.ndarray,
    columns: list[str],
    config: MLConfig,
) -> None:
    """Permutation importance of each pipeline on the given (class-balanced) rows."""
    for kind, pipeline in pipelines.items():
        table = permutation_importances(
            pipeline,
            features,
            label,
            columns,
            repeats=config.importance_repeats,
            seed=config.seed,
        )
        run.importance.extend(
            (kind, str(f), float(v), float(sd))
            for f, v, sd in zip(
                table["feature"], table["importance"], table["importance_std"], strict=True
            )
        )


def backtest_and_refit(
    run: TargetRun,
    source: SnapshotSource,
    columns: list[str],
    evaluate: pd.DataFrame,
    plan: SnapshotPlan,
    pipelines: dict[str, Pipeline],
    baselines: dict[str, Scorer],
    config: MLConfig,
) -> Pipeline:
    """Judge on snapshot D - H, then refit the production model on it.

    The snapshot is read twice: once in chunks for the metrics, once for the rows of the
    importance sample and of the production training sample together.
    """
    record_metrics(run, source, columns, evaluate, plan.evaluate, pipelines, baselines, config)
    label = evaluate["label"].to_numpy(dtype=bool)
    importance_rows = balanced_sample(label, config.importance_sample_rows, config.seed)
    production_rows = stratified_sample(label, config.train_sample_rows, config.seed)
    rows = np.union1d(importance_rows, production_rows)
    features = load_features(source, columns, plan.evaluate, evaluate["user_id"].to_numpy()[rows])
    at = np.searchsorted(rows, importance_rows)
    record_importance(run, pipelines, features[at], label[importance_rows], columns, config)
    at = np.searchsorted(rows, production_rows)
    run.details["production_train_rows"] = len(production_rows)
    return make_pipeline(PRIMARY_MODEL, config.seed).fit(features[at], label[production_rows])


def score_prediction_date(
    run: TargetRun,
    spec: TargetSpec,
    source: SnapshotSource,
    columns: list[str],
    plan: SnapshotPlan,
    pipeline: Pipeline,
    config: MLConfig,
) -> None:
    """Score every user of the population at D with the production pipeline."""
    scored = population(source, spec, plan.score)
    user_ids = scored["user_id"].to_numpy()
    probability = score_users(
        source, columns, plan.score, user_ids, {PRIMARY_MODEL: pipeline}, config.chunk_rows
    )[PRIMARY_MODEL]
    run.predictions = pd.DataFrame(
        {"user_id": user_ids, "as_of_date": plan.score, "probability": probability}
    )
    run.details["scored_rows"] = len(run.predictions)


def _run(run: TargetRun, spec: TargetSpec, source: SnapshotSource, config: MLConfig) -> None:
    # D: the prediction_date var, else the last clean event date (as the feature table does).
    last = last_label_date(source)
    plan = plan_snapshots(
        snapshot_dates(source), config.horizon_days, config.prediction_date or last
    )
    run.details.update(
        train_as_of_date=str(plan.train),
        evaluation_as_of_date=str(plan.evaluate),
        prediction_as_of_date=str(plan.score),
    )
    if last is not None and plan.evaluate + dt.timedelta(days=config.horizon_days) > last:
        raise DegenerateData(
            f"the backtest label window ({plan.evaluate}, {plan.score}] ends after the last "
            f"event date {last}: choose a prediction_date on or before {last}"
        )
    columns = feature_columns(source)
    if not columns:
        raise DegenerateData("the feature table has no numeric feature column")
    run.details["feature_count"] = len(columns)

    train = population(source, spec, plan.train)
    check_snapshot(train, "training", plan.train, config)
    evaluate = population(source, spec, plan.evaluate)
    check_snapshot(evaluate, "backtest", plan.evaluate, config)
    run.details.update(
        train_population=len(train),
        train_positives=int(train["label"].sum()),
        evaluation_population=len(evaluate),
    )
    # Backtest: fit on D - 2H (one read of the training sample for both models).
    features, label = load_training_sample(source, columns, train, plan.train, config)
    run.details["train_rows"] = len(label)
    pipelines = fit_models(MODEL_KINDS, features, label, config.seed)
    del features
    baselines = fit_baselines(
        spec.name, train, train["label"].to_numpy(dtype=bool), config.horizon_days
    )
    production = backtest_and_refit(
        run, source, columns, evaluate, plan, pipelines, baselines, config
    )
    score_prediction_date(run, spec, source, columns, plan, production, config)


def run_target(source: SnapshotSource, target: str, config: MLConfig) -> TargetRun:
    """The whole run for one target; degenerate data gives a skipped run with its reason."""
    spec = TARGETS[target]
    run = TargetRun(target=target, details={"horizon_days": config.horizon_days})
    started = time.perf_counter()
    try:
        # Two dbt threads train two targets at once: one BLAS/OpenMP thread each keeps the cores
        # from being oversubscribed (OpenMP spin-waits made that 10x slower on 2 busy cores).
        with threadpool_limits(limits=config.threads):
            _run(run, spec, source, config)
    except DegenerateData as err:
        run.status, run.reason = "skipped", str(err)
        run.metrics, run.importance = [], []
        run.predictions = TargetRun(target).predictions
        print(f"ml: {target} model skipped: {err}", file=sys.stderr)
    run.details.update(status=run.status, reason=run.reason)
    run.details["seconds"] = round(time.perf_counter() - started, 3)
    return run


def to_long_table(run: TargetRun) -> pd.DataFrame:
    """One table for everything a run produced; thin SQL models in models/ml/ split it."""
    predictions = pd.DataFrame(
        {
            "record_type": "prediction",
            "user_id": run.predictions["user_id"].astype("int64"),
            "as_of_date": pd.to_datetime(run.predictions["as_of_date"]),
            "model": PRIMARY_MODEL,
            "value": run.predictions["probability"].astype("float64"),
        }
    )
    metrics = pd.DataFrame(run.metrics, columns=["model", "is_baseline", "name", "value"]).assign(
        record_type="metric", evaluation=EVALUATION
    )
    importance = pd.DataFrame(
        run.importance, columns=["model", "name", "value", "value_std"]
    ).assign(record_type="importance", is_baseline=False, evaluation=EVALUATION)
    details = [(k, run.details.get(k)) for k in RUN_ATTRIBUTES]
    attributes = pd.DataFrame(
        {
            "record_type": "run",
            "name": [k for k, _ in details],
            "value": [float(v) if isinstance(v, int | float) else np.nan for _, v in details],
            "text": [v if isinstance(v, str) else None for _, v in details],
        }
    )
    parts = [p for p in (predictions, metrics, importance, attributes) if len(p)]
    table = pd.concat(parts, ignore_index=True).reindex(columns=list(LONG_COLUMNS))
    table["target"] = run.target
    return table.astype(LONG_COLUMNS)


def dbt_model(
    session: duckdb.DuckDBPyConnection,
    target: str,
    features: duckdb.DuckDBPyRelation,
    labels: duckdb.DuckDBPyRelation,
    settings: Mapping[str, object],
) -> pd.DataFrame:
    """Body of the dbt Python models ml_<target>_training.

    The model file itself must call dbt.ref() and dbt.config.meta_get("<key>") with literal
    arguments: dbt finds dependencies and the meta keys to pass by parsing the model file, so a
    meta_get inside this package would silently return None.
    """
    source = SnapshotSource.from_relations(session, features, labels)
    return to_long_table(run_target(source, target, MLConfig.from_meta(settings.get)))
