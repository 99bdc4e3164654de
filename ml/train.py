"""Out-of-time backtest and production scoring for one target, as called by dbt.

With D the prediction date and H the horizon (days):
- backtest: fit on snapshot D - 2H (labels from (D - 2H, D - H]), judge on snapshot D - H
  (labels from (D - H, D]); models and baselines alike;
- champion: whichever model or baseline has the best backtest ROC AUC (ties to the simpler one,
  see ml.champion) writes the predictions;
- production: refit the champion on snapshot D - H and score every user of the population at D.

Data that cannot support this (missing snapshots, unobserved label windows, a tiny population,
one class) raises `DegenerateData` inside, and the run comes back as `status = 'skipped'` with
the reason and no predictions, never as a traceback.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import duckdb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from ml.baselines import BASELINES, Scorer, fit_baselines
from ml.champion import Champion, choose_champion
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
    population_ids,
    snapshot_dates,
)
from ml.evaluate import classification_metrics, permutation_importances, reliability_bins
from ml.pipelines import (
    MODEL_KINDS,
    MODEL_KINDS_SIMPLEST_FIRST,
    PRIMARY_MODEL,
    input_positions,
    make_pipeline,
)
from ml.sampling import balanced_sample, case_control_sample, log_odds_shift, stratified_sample

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
CALIBRATION_FIGURES = ("bin_low", "bin_high", "users", "mean_predicted", "observed_rate")
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
    "champion_model",
    "champion_is_baseline",
    "champion_roc_auc",
    "runner_up_model",
    "runner_up_roc_auc",
    "champion_margin_roc_auc",
    "best_baseline_model",
    "best_baseline_roc_auc",
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
    # The model or baseline that wrote the predictions (ml.champion).
    model: str = PRIMARY_MODEL
    predictions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"user_id": [], "as_of_date": [], "probability": []})
    )
    metrics: list[tuple[str, bool, str, float]] = field(default_factory=list)
    # Reliability table rows: (model, is_baseline, bin, bin_low, bin_high, users, mean_predicted,
    # observed_rate), on the backtest's judged rows (ml.evaluate.reliability_bins).
    calibration: list[tuple[str, bool, int, float, float, int, float, float]] = field(
        default_factory=list
    )
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


@dataclass(frozen=True)
class TrainingSample:
    """Feature rows and labels to fit on, and the log-odds shift back to the population."""

    features: np.ndarray
    label: np.ndarray
    log_odds_shift: float


def training_rows(label: np.ndarray, config: MLConfig) -> tuple[np.ndarray, float]:
    """Rows of the seeded case-control training sample and their log-odds shift."""
    rows = case_control_sample(label, config.train_sample_rows, config.majority_ratio, config.seed)
    return rows, log_odds_shift(label, rows)


def fit_models(kinds: tuple[str, ...], sample: TrainingSample, seed: int) -> dict[str, Pipeline]:
    """Fit one fresh pipeline of each kind on the same rows."""
    return {
        kind: make_pipeline(kind, seed, sample.log_odds_shift).fit(sample.features, sample.label)
        for kind in kinds
    }


def load_training_sample(
    source: SnapshotSource,
    columns: list[str],
    frame: pd.DataFrame,
    as_of: dt.date,
    config: MLConfig,
) -> TrainingSample:
    """Features and labels of the seeded case-control sample (see ml.sampling) of `frame`."""
    label = frame["label"].to_numpy(dtype=bool)
    rows, shift = training_rows(label, config)
    features = load_features(
        source, columns, as_of, frame["user_id"].to_numpy()[rows], config.chunk_rows
    )
    return TrainingSample(features, label[rows], shift)


def used_columns(pipeline: Pipeline, n_features: int) -> np.ndarray:
    """Boolean mask of the input columns a fitted pipeline reads (the others can be NaN)."""
    return input_positions(pipeline[:-1], n_features) >= 0


def locate(sorted_values: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index into sorted_values, found) for each of `values`."""
    at = np.minimum(np.searchsorted(sorted_values, values), max(len(sorted_values) - 1, 0))
    found = sorted_values[at] == values if len(sorted_values) else np.zeros(len(values), bool)
    return at, found


def take_rows(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """matrix[rows] in column-major order (fancy indexing would return row-major)."""
    if rows.dtype == bool and rows.all():
        return matrix
    return np.asfortranarray(matrix[rows])


def score_users(
    source: SnapshotSource,
    columns: list[str],
    as_of: dt.date,
    user_ids: np.ndarray,
    pipeline: Pipeline,
    chunk_rows: int,
) -> np.ndarray:
    """P(label) of every user, read (only the columns the pipeline uses) and scored by chunk."""
    scores = np.zeros(len(user_ids), dtype=np.float64)
    read = used_columns(pipeline, len(columns))
    for positions, features in iter_features(source, columns, as_of, user_ids, chunk_rows, read):
        scores[positions] = pipeline.predict_proba(features)[:, 1]
    return scores


def record_metrics(
    run: TargetRun,
    judged: pd.DataFrame,
    scores: dict[str, np.ndarray],
    baselines: dict[str, Scorer],
) -> None:
    """Every metric of every model and baseline on the judged rows (scores in their order)."""
    run.details["evaluation_rows"] = len(judged)
    scores = {**scores, **{name: scorer(judged) for name, scorer in baselines.items()}}
    label = judged["label"].to_numpy(dtype=bool)
    for name, probability in scores.items():
        for metric, value in classification_metrics(label, probability).items():
            run.metrics.append((name, name in baselines, metric, value))
        for row in reliability_bins(label, probability).itertuples(index=False):
            run.calibration.append(
                (name, name in baselines, int(row.bin), float(row.bin_low), float(row.bin_high),
                 int(row.users), float(row.mean_predicted), float(row.observed_rate))
            )  # fmt: skip


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


def backtest(
    run: TargetRun,
    source: SnapshotSource,
    columns: list[str],
    evaluate: pd.DataFrame,
    plan: SnapshotPlan,
    pipelines: dict[str, Pipeline],
    baselines: dict[str, Scorer],
    config: MLConfig,
) -> TrainingSample:
    """Judge on snapshot D - H; return the training sample of the production refit on it.

    The snapshot is read once, in chunks: the rows of the (stratified) evaluation sample are
    scored chunk by chunk, and only the rows of the importance sample and of the production
    training sample are kept in memory.
    """
    label = evaluate["label"].to_numpy(dtype=bool)
    judged = stratified_sample(label, config.eval_sample_rows, config.seed)
    importance_rows = balanced_sample(label, config.importance_sample_rows, config.seed)
    production_rows, shift = training_rows(label, config)
    kept = np.union1d(importance_rows, production_rows)
    rows = np.union1d(judged, kept)
    user_ids = evaluate["user_id"].to_numpy()[rows]
    scores = {kind: np.zeros(len(judged), dtype=np.float64) for kind in pipelines}
    kept_features = np.full((len(kept), len(columns)), np.nan, dtype=np.float32, order="F")
    for positions, features in iter_features(
        source, columns, plan.evaluate, user_ids, config.chunk_rows
    ):
        chunk = rows[positions]
        at, found = locate(judged, chunk)
        if found.any():
            sub = take_rows(features, found)
            for kind, pipeline in pipelines.items():
                scores[kind][at[found]] = pipeline.predict_proba(sub)[:, 1]
        at, found = locate(kept, chunk)
        kept_features[at[found]] = features[found]
    record_metrics(run, evaluate.iloc[judged].reset_index(drop=True), scores, baselines)
    at = np.searchsorted(kept, importance_rows)
    record_importance(
        run, pipelines, take_rows(kept_features, at), label[importance_rows], columns, config
    )
    at = np.searchsorted(kept, production_rows)
    run.details["production_train_rows"] = len(production_rows)
    return TrainingSample(take_rows(kept_features, at), label[production_rows], shift)


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
    user_ids = population_ids(source, spec, plan.score)
    probability = score_users(source, columns, plan.score, user_ids, pipeline, config.chunk_rows)
    run.predictions = pd.DataFrame(
        {"user_id": user_ids, "as_of_date": plan.score, "probability": probability}
    )
    run.details["scored_rows"] = len(run.predictions)


def record_champion(run: TargetRun, spec: TargetSpec) -> Champion:
    """Pick the backtest's winner on ROC AUC (ml.champion) and record it in the run details."""
    roc_auc = {name: value for name, _, metric, value in run.metrics if metric == "roc_auc"}
    baselines = BASELINES[spec.name]
    try:
        champion = choose_champion(roc_auc, [*baselines, *MODEL_KINDS_SIMPLEST_FIRST], baselines)
    except ValueError as err:
        raise DegenerateData(f"no champion: {err}") from err
    run.model = champion.model
    run.details.update(
        champion_model=champion.model,
        champion_is_baseline=int(champion.is_baseline),
        champion_roc_auc=champion.roc_auc,
        runner_up_model=champion.runner_up_model,
        runner_up_roc_auc=champion.runner_up_roc_auc,
        champion_margin_roc_auc=champion.margin_over_runner_up,
        best_baseline_model=champion.best_baseline_model,
        best_baseline_roc_auc=champion.best_baseline_roc_auc,
    )
    margin = champion.margin_over_runner_up
    lead = "no runner-up" if margin is None else f"{margin:.4f} ahead of {champion.runner_up_model}"
    print(
        f"ml: {spec.name} champion {champion.model} (backtest ROC AUC {champion.roc_auc:.4f}, "
        f"{lead})",
        file=sys.stderr,
    )
    return champion


def score_with_baseline(
    run: TargetRun,
    spec: TargetSpec,
    source: SnapshotSource,
    evaluate: pd.DataFrame,
    plan: SnapshotPlan,
    name: str,
    config: MLConfig,
) -> None:
    """A baseline champion: refit it on D - H (as a model would be) and score everyone at D."""
    label = evaluate["label"].to_numpy(dtype=bool)
    scorer = fit_baselines(spec.name, evaluate, label, config.horizon_days)[name]
    scored = population(source, spec, plan.score)
    run.predictions = pd.DataFrame(
        {
            "user_id": scored["user_id"].to_numpy(dtype=np.int64),
            "as_of_date": plan.score,
            "probability": np.asarray(scorer(scored), dtype=np.float64),
        }
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

    # Populations run to millions of users: one frame at a time.
    train = population(source, spec, plan.train)
    check_snapshot(train, "training", plan.train, config)
    run.details.update(train_population=len(train), train_positives=int(train["label"].sum()))
    # Backtest: fit on D - 2H (one read of the training sample for both models).
    sample = load_training_sample(source, columns, train, plan.train, config)
    run.details["train_rows"] = len(sample.label)
    pipelines = fit_models(MODEL_KINDS, sample, config.seed)
    baselines = fit_baselines(
        spec.name, train, train["label"].to_numpy(dtype=bool), config.horizon_days
    )
    del sample, train
    evaluate = population(source, spec, plan.evaluate)
    check_snapshot(evaluate, "backtest", plan.evaluate, config)
    run.details["evaluation_population"] = len(evaluate)
    sample = backtest(run, source, columns, evaluate, plan, pipelines, baselines, config)
    del pipelines, baselines
    champion = record_champion(run, spec)
    # Production: refit the champion on D - H, score everyone at D.
    if champion.is_baseline:
        del sample
        score_with_baseline(run, spec, source, evaluate, plan, champion.model, config)
        return
    del evaluate
    production = fit_models((champion.model,), sample, config.seed)[champion.model]
    del sample
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
        run.metrics, run.importance, run.calibration = [], [], []
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
            "model": run.model,
            "value": run.predictions["probability"].astype("float64"),
        }
    )
    metrics = pd.DataFrame(run.metrics, columns=["model", "is_baseline", "name", "value"]).assign(
        record_type="metric", evaluation=EVALUATION
    )
    importance = pd.DataFrame(
        run.importance, columns=["model", "name", "value", "value_std"]
    ).assign(record_type="importance", is_baseline=False, evaluation=EVALUATION)
    # One long row per (model, bin, figure): the bin number in `text`, the figure in `name`.
    calibration = (
        pd.DataFrame(
            run.calibration, columns=["model", "is_baseline", "text", *CALIBRATION_FIGURES]
        )
        .astype({"text": "str"})
        .melt(id_vars=["model", "is_baseline", "text"], var_name="name", value_name="value")
        .assign(record_type="calibration", evaluation=EVALUATION)
    )
    details = [(k, run.details.get(k)) for k in RUN_ATTRIBUTES]
    attributes = pd.DataFrame(
        {
            "record_type": "run",
            "name": [k for k, _ in details],
            "value": [float(v) if isinstance(v, int | float) else np.nan for _, v in details],
            "text": [v if isinstance(v, str) else None for _, v in details],
        }
    )
    parts = [p for p in (predictions, metrics, importance, calibration, attributes) if len(p)]
    table = pd.concat(parts, ignore_index=True).reindex(columns=list(LONG_COLUMNS))
    table["target"] = run.target
    return table.astype(LONG_COLUMNS)


def to_long_relation(con: duckdb.DuckDBPyConnection, run: TargetRun) -> duckdb.DuckDBPyRelation:
    """to_long_table(run) as a DuckDB relation on `con`: same columns, types and rows.

    The predictions (a row per user: millions at full scale) go in as two numeric columns and
    DuckDB adds the constant ones, instead of building string columns in pandas (seconds).
    """
    others = con.from_df(to_long_table(replace(run, predictions=run.predictions.iloc[0:0])))
    if len(run.predictions) == 0:
        return others
    # Every prediction of a run is at the prediction date D.
    as_of = pd.Timestamp(run.predictions["as_of_date"].iloc[0])
    predictions = pd.DataFrame(
        {
            "user_id": run.predictions["user_id"].to_numpy(dtype=np.int64),
            "value": run.predictions["probability"].to_numpy(dtype=np.float64),
        }
    )
    text = _sql_string
    constant = {
        "record_type": f"cast({text('prediction')} as varchar)",
        "target": f"cast({text(run.target)} as varchar)",
        "user_id": "user_id",
        "as_of_date": f"cast({text(as_of.strftime('%Y-%m-%d %H:%M:%S'))} as timestamp)",
        "model": f"cast({text(run.model)} as varchar)",
        "is_baseline": "cast(null as boolean)",
        "evaluation": "cast(null as varchar)",
        "name": "cast(null as varchar)",
        "value": "value",
        "value_std": "cast(null as double)",
        "text": "cast(null as varchar)",
    }
    projection = ", ".join(f"{constant[c]} as {c}" for c in LONG_COLUMNS)
    return con.from_df(predictions).project(projection).union(others)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def dbt_model(
    session: duckdb.DuckDBPyConnection,
    target: str,
    features: duckdb.DuckDBPyRelation,
    labels: duckdb.DuckDBPyRelation,
    settings: Mapping[str, object],
) -> duckdb.DuckDBPyRelation:
    """Body of the dbt Python models ml_<target>_training.

    The model file itself must call dbt.ref() and dbt.config.meta_get("<key>") with literal
    arguments: dbt finds dependencies and the meta keys to pass by parsing the model file, so a
    meta_get inside this package would silently return None. The result is a DuckDB relation on
    `session`, which dbt-duckdb materializes with `create table ... as select`.
    """
    source = SnapshotSource.from_relations(session, features, labels)
    run = run_target(source, target, MLConfig.from_meta(settings.get))
    return to_long_relation(session, run)
