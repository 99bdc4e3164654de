"""Rolling-origin backtest, champion, calibration and production scoring for one target.

With D the prediction date and H the horizon (ml.plan has the rules, written against the
snapshot dates that exist):
- backtest: at each cutoff c (up to `backtest_cutoffs`, oldest first) fit every model on the
  training snapshots stacked (each with its label window ended by c), fit the baselines and
  challengers on the latest of them, and judge all of them on the users of snapshot c against
  their labels in (c, c + H]; a cutoff that cannot be used is recorded with the reason;
- champion: whichever model, challenger or baseline has the best mean ROC AUC over the cutoffs
  (ties to the simpler one, see ml.champion) writes the predictions;
- calibration: the champion's out-of-time backtest scores fit the calibrator (ml.calibration)
  of its production scores; the calibrated backtest is forward-chained;
- production: refit the champion on the latest labelled snapshots stacked and score every user
  of the population at D, calibrated;
- churn only: the risk segments (ml.segments) judged at each cutoff.

Data that cannot support this (no snapshot, no labelled snapshot, a tiny population, one class,
no usable cutoff) raises `DegenerateData` inside, and the run comes back as `status = 'skipped'`
with the reason and no predictions, never as a traceback.
"""

from __future__ import annotations

import copy
import datetime as dt
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ml.baselines import BASELINES, fit_baselines
from ml.calibration import (
    Calibrator,
    OutOfTime,
    forward_calibrated,
    production_calibrator,
)
from ml.champion import Champion, choose_champion
from ml.clv import CHALLENGERS, FitFailed, fit_challengers
from ml.config import MLConfig
from ml.data import (
    TARGETS,
    SnapshotSource,
    TargetSpec,
    feature_columns,
    first_event_date,
    iter_features,
    last_label_date,
    load_features,
    population,
    population_ids,
    snapshot_dates,
)
from ml.engines import dbt_inputs
from ml.evaluate import classification_metrics, permutation_importances, reliability_bins
from ml.pipelines import (
    MODEL_KINDS,
    MODEL_KINDS_SIMPLEST_FIRST,
    input_positions,
    make_pipeline,
)
from ml.plan import BacktestPlan, Cutoff, DegenerateData, plan_backtest
from ml.records import (
    BACKTEST,
    BACKTEST_CALIBRATED,
    CutoffRecord,
    Metric,
    Reliability,
    TargetRun,
    guarded_run,
    to_long_relation,
)
from ml.sampling import balanced_sample, case_control_sample, stratified_sample
from ml.segments import record_segments
from ml.store import FittedState, load_state, state_rows, training_key

Scorer = Callable[[pd.DataFrame], np.ndarray]

__all__ = ["DegenerateData", "run_target", "dbt_model"]


def check_snapshot(frame: pd.DataFrame, name: str, as_of: object, config: MLConfig) -> None:
    """Rows to learn from or judge on: observed labels, enough users, both classes."""
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


def describe_dates(dates: tuple[dt.date, ...]) -> str:
    return ", ".join(str(d) for d in dates)


@dataclass(frozen=True)
class TrainingSample:
    """Feature rows and labels to fit on, and the log-odds shift back to the population."""

    features: np.ndarray
    label: np.ndarray
    log_odds_shift: float


def training_rows(label: np.ndarray, cap: int, config: MLConfig) -> np.ndarray:
    """Rows of the seeded case-control training sample of one snapshot (ml.sampling)."""
    return case_control_sample(label, cap, config.majority_ratio, config.seed)


def fit_models(kinds: tuple[str, ...], sample: TrainingSample, seed: int) -> dict[str, Pipeline]:
    """Fit one fresh pipeline of each kind on the same rows."""
    return {
        kind: make_pipeline(kind, seed, sample.log_odds_shift).fit(sample.features, sample.label)
        for kind in kinds
    }


@dataclass
class Snapshot:
    """One snapshot's population labels, its training sample and (once read) its features."""

    user_id: np.ndarray  # ascending
    label: pd.Series  # nullable boolean
    rows: np.ndarray | None = None  # the training sample: sorted positions into user_id
    features: np.ndarray | None = None  # features of the sample rows, in their order
    read: np.ndarray | None = None  # which sample rows' features have been read


class TrainingStore:
    """Training data per snapshot, each read once per run and shared by every stack.

    Each snapshot gets its own seeded case-control sample (at most train_sample_rows /
    train_snapshots rows), so a stack of snapshots has at most train_sample_rows rows and the
    same (snapshot, user) rows in every stack it belongs to: their features are read once, most
    of them during the pass that judges the snapshot as a cutoff (`offer`).
    """

    def __init__(
        self, source: SnapshotSource, spec: TargetSpec, columns: list[str], config: MLConfig
    ) -> None:
        self.source, self.spec, self.columns, self.config = source, spec, columns, config
        self.cap = max(1, config.train_sample_rows // config.train_snapshots)
        self._snapshots: dict[dt.date, Snapshot] = {}

    def remember(self, as_of: dt.date, frame: pd.DataFrame) -> None:
        """Keep the labels of a population frame already read (population(), by user_id)."""
        if as_of not in self._snapshots:
            self._snapshots[as_of] = Snapshot(frame["user_id"].to_numpy(), frame["label"])

    def snapshot(self, as_of: dt.date) -> Snapshot:
        if as_of not in self._snapshots:
            self.remember(as_of, population(self.source, self.spec, as_of))
        return self._snapshots[as_of]

    def sample_rows(self, as_of: dt.date) -> np.ndarray:
        """The snapshot's training sample (positions into its population, ascending)."""
        snapshot = self.snapshot(as_of)
        if snapshot.rows is None:
            if snapshot.label.isna().any():
                raise DegenerateData(
                    f"the label window after the training snapshot {as_of} is not fully observed"
                )
            snapshot.rows = training_rows(
                snapshot.label.to_numpy(dtype=bool), self.cap, self.config
            )
        return snapshot.rows

    def offer(self, as_of: dt.date, positions: np.ndarray, features: np.ndarray) -> None:
        """Features of some population rows of `as_of` (positions into its population), read
        for another purpose: keep those of the training sample."""
        snapshot = self.snapshot(as_of)
        rows = self.sample_rows(as_of)
        if snapshot.features is None:
            snapshot.features = np.full(
                (len(rows), len(self.columns)), np.nan, dtype=np.float32, order="F"
            )
            snapshot.read = np.zeros(len(rows), dtype=bool)
        at, found = locate(rows, positions)
        snapshot.features[at[found]] = features[found]
        snapshot.read[at[found]] = True

    def features(self, as_of: dt.date) -> np.ndarray:
        """Features of the snapshot's training sample, reading the rows not offered yet."""
        snapshot = self.snapshot(as_of)
        rows = self.sample_rows(as_of)
        missing = np.arange(len(rows)) if snapshot.read is None else np.flatnonzero(~snapshot.read)
        if len(missing):
            loaded = load_features(
                self.source,
                self.columns,
                as_of,
                snapshot.user_id[rows[missing]],
                self.config.chunk_rows,
            )
            self.offer(as_of, rows[missing], loaded)
        assert snapshot.features is not None
        return snapshot.features

    def stack(self, dates: tuple[dt.date, ...]) -> tuple[TrainingSample, pd.DataFrame]:
        """The training sample of the stacked snapshots and the stack's population labels
        (one row per snapshot and user). The log-odds shift is the stack's: logit(population
        share) - logit(sample share) of the positive class."""
        population_labels = pd.concat([self.snapshot(d).label for d in dates], ignore_index=True)
        frame = pd.DataFrame(
            {
                "user_id": np.concatenate([self.snapshot(d).user_id for d in dates]),
                "label": population_labels,
            }
        )
        check_snapshot(frame, "training", describe_dates(dates), self.config)
        label = np.concatenate(
            [self.snapshot(d).label.to_numpy(dtype=bool)[self.sample_rows(d)] for d in dates]
        )
        features = np.asfortranarray(np.concatenate([self.features(d) for d in dates]))
        population_share = float(frame["label"].astype(bool).mean())
        sample_share = float(label.mean())
        shift = float(
            np.log(population_share / (1 - population_share))
            - np.log(sample_share / (1 - sample_share))
        )
        return TrainingSample(features, label, shift), frame


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


@dataclass
class CutoffResult:
    """What one cutoff's backtest produced: the judged users' outcomes and every score."""

    cutoff: Cutoff
    judged: pd.DataFrame  # the judged users' population rows (label, baseline inputs)
    scores: dict[str, np.ndarray]  # candidate -> P(label) of each judged user
    pipelines: dict[str, Pipeline]
    importance_features: np.ndarray
    importance_label: np.ndarray

    @property
    def label(self) -> np.ndarray:
        return self.judged["label"].to_numpy(dtype=bool)


def fit_scorers(
    spec: TargetSpec, frame: pd.DataFrame, horizon_days: int
) -> tuple[dict[str, Scorer], dict[str, Scorer]]:
    """(baselines, challengers) fitted on one labelled population frame. A challenger whose
    models cannot be fitted is left out (and so cannot win); the reason is printed."""
    label = frame["label"].to_numpy(dtype=bool)
    baselines = fit_baselines(spec.name, frame, label, horizon_days)
    try:
        challengers = fit_challengers(spec.name, frame, label, horizon_days)
    except FitFailed as err:
        print(f"ml: {spec.name}: challenger left out: {err}", file=sys.stderr)
        challengers = {}
    return baselines, challengers


def score_frame(scorers: Mapping[str, Scorer], frame: pd.DataFrame, target: str) -> dict:
    """Each scorer's probabilities for `frame`; a challenger that fails is left out."""
    scores = {}
    for name, scorer in scorers.items():
        try:
            scores[name] = np.asarray(scorer(frame), dtype=np.float64)
        except FitFailed as err:
            print(f"ml: {target}: {name} left out at this snapshot: {err}", file=sys.stderr)
    return scores


def fit_for_cutoff(
    spec: TargetSpec,
    source: SnapshotSource,
    cutoff: Cutoff,
    store: TrainingStore,
    record: CutoffRecord,
    config: MLConfig,
) -> tuple[dict[str, Pipeline], dict[str, Scorer]]:
    """Every candidate fitted for one cutoff, from its training snapshots only: the models on
    the stacked sample, the baselines and challengers on the latest training snapshot."""
    sample, train = store.stack(cutoff.train_dates)
    record.figures.update(
        train_population=len(train),
        train_positives=int(train["label"].sum()),
        train_rows=len(sample.label),
    )
    pipelines = fit_models(MODEL_KINDS, sample, config.seed)
    del sample, train
    latest = population(source, spec, cutoff.train_dates[-1])
    baselines, challengers = fit_scorers(spec, latest, config.horizon_days)
    return pipelines, {**baselines, **challengers}


def backtest_cutoff(
    spec: TargetSpec,
    source: SnapshotSource,
    columns: list[str],
    cutoff: Cutoff,
    store: TrainingStore,
    record: CutoffRecord,
    config: MLConfig,
) -> CutoffResult:
    """Fit on the cutoff's stacked training snapshots, judge every candidate on snapshot c.

    Snapshot c is read once, in chunks: the rows of the (stratified) evaluation sample are
    scored chunk by chunk; the rows of the importance sample are kept, and those of c's own
    training sample are handed to the store for the later cutoffs that train on c.
    """
    pipelines, scorers = fit_for_cutoff(spec, source, cutoff, store, record, config)
    evaluate = population(source, spec, cutoff.date)
    check_snapshot(evaluate, "backtest", cutoff.date, config)
    record.figures["evaluation_population"] = len(evaluate)
    store.remember(cutoff.date, evaluate)
    label = evaluate["label"].to_numpy(dtype=bool)
    judged = stratified_sample(label, config.eval_sample_rows, config.seed)
    kept = balanced_sample(label, config.importance_sample_rows, config.seed)
    rows = np.union1d(np.union1d(judged, kept), store.sample_rows(cutoff.date))
    scores = {kind: np.zeros(len(judged), dtype=np.float64) for kind in pipelines}
    kept_features = np.full((len(kept), len(columns)), np.nan, dtype=np.float32, order="F")
    user_ids = evaluate["user_id"].to_numpy()[rows]
    for positions, features in iter_features(
        source, columns, cutoff.date, user_ids, config.chunk_rows
    ):
        chunk = rows[positions]
        at, found = locate(judged, chunk)
        if found.any():
            sub = take_rows(features, found)
            for kind, pipeline in pipelines.items():
                scores[kind][at[found]] = pipeline.predict_proba(sub)[:, 1]
        at, found = locate(kept, chunk)
        kept_features[at[found]] = features[found]
        store.offer(cutoff.date, chunk, features)
    judged_frame = evaluate.iloc[judged].reset_index(drop=True)
    scores.update(score_frame(scorers, judged_frame, spec.name))
    record.figures["evaluation_rows"] = len(judged)
    return CutoffResult(cutoff, judged_frame, scores, pipelines, kept_features, label[kept])


def is_baseline(spec: TargetSpec, name: str) -> bool:
    return name in BASELINES[spec.name]


def candidates_simplest_first(spec: TargetSpec) -> list[str]:
    return [*BASELINES[spec.name], *CHALLENGERS[spec.name], *MODEL_KINDS_SIMPLEST_FIRST]


def record_metrics(
    run: TargetRun,
    spec: TargetSpec,
    cutoff: dt.date,
    label: np.ndarray,
    scores: Mapping[str, np.ndarray],
    evaluation: str,
) -> None:
    """Every metric and the reliability bins of each scored candidate at one cutoff."""
    for name, probability in scores.items():
        baseline = is_baseline(spec, name)
        for metric, value in classification_metrics(label, probability).items():
            run.metrics.append(Metric(name, baseline, evaluation, cutoff, metric, value))
        for row in reliability_bins(label, probability).itertuples(index=False):
            run.calibration.append(
                Reliability(name, baseline, evaluation, cutoff, int(row.bin), float(row.bin_low),
                            float(row.bin_high), int(row.users), float(row.mean_predicted),
                            float(row.observed_rate))
            )  # fmt: skip


def comparable_candidates(results: list[CutoffResult], spec: TargetSpec) -> list[str]:
    """Candidates scored at every used cutoff (a mean over fewer cutoffs would not compare)."""
    names = [n for n in candidates_simplest_first(spec) if all(n in r.scores for r in results)]
    for result in results:
        for name in [n for n in result.scores if n not in names]:
            print(
                f"ml: {spec.name}: {name} is not scored at every cutoff; left out of the "
                "comparison",
                file=sys.stderr,
            )
            del result.scores[name]
    return names


def mean_and_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN with one value), as model_metrics computes them."""
    array = np.asarray(values, dtype=np.float64)
    std = float(np.std(array, ddof=1)) if len(array) > 1 else float("nan")
    return float(np.mean(array)), std


def record_champion(run: TargetRun, spec: TargetSpec, results: list[CutoffResult]) -> Champion:
    """Pick the best mean backtest ROC AUC (ml.champion) and record it in the run details."""
    per_candidate: dict[str, list[float]] = {}
    for m in run.metrics:
        if m.evaluation == BACKTEST and m.metric == "roc_auc":
            per_candidate.setdefault(m.model, []).append(m.value)
    summary = {name: mean_and_std(values) for name, values in per_candidate.items()}
    baselines = BASELINES[spec.name]
    try:
        champion = choose_champion(
            {name: mean for name, (mean, _) in summary.items()},
            candidates_simplest_first(spec),
            baselines,
        )
    except ValueError as err:
        raise DegenerateData(f"no champion: {err}") from err
    run.model = champion.model
    over_baseline = (
        None
        if champion.best_baseline_roc_auc is None
        else champion.roc_auc - champion.best_baseline_roc_auc
    )
    run.details.update(
        champion_model=champion.model,
        champion_is_baseline=int(champion.is_baseline),
        champion_roc_auc=champion.roc_auc,
        champion_roc_auc_std=summary[champion.model][1],
        runner_up_model=champion.runner_up_model,
        runner_up_roc_auc=champion.runner_up_roc_auc,
        champion_margin_roc_auc=champion.margin_over_runner_up,
        best_baseline_model=champion.best_baseline_model,
        best_baseline_roc_auc=champion.best_baseline_roc_auc,
        champion_margin_over_baseline_roc_auc=over_baseline,
    )
    margin = champion.margin_over_runner_up
    lead = "no runner-up" if margin is None else f"{margin:.4f} ahead of {champion.runner_up_model}"
    print(
        f"ml: {spec.name} champion {champion.model} (mean backtest ROC AUC over "
        f"{len(results)} cutoffs {champion.roc_auc:.4f}, {lead})",
        file=sys.stderr,
    )
    return champion


def calibrate_champion(
    run: TargetRun,
    spec: TargetSpec,
    results: list[CutoffResult],
    champion: str,
    config: MLConfig,
) -> tuple[Calibrator, dict[dt.date, np.ndarray]]:
    """The production calibrator (every cutoff) and the forward-chained calibrated backtest of
    the champion (metrics and reliability bins with evaluation 'backtest_calibrated').
    Returns the calibrator and the calibrated out-of-time scores per cutoff."""
    scored = [OutOfTime(r.cutoff.date, r.label, r.scores[champion]) for r in results]
    calibrated: dict[dt.date, np.ndarray] = {}
    for oot, _ in forward_calibrated(scored, config.horizon_days, config.calibration_method):
        record_metrics(
            run, spec, oot.cutoff, oot.label, {champion: oot.probability}, BACKTEST_CALIBRATED
        )
        calibrated[oot.cutoff] = oot.probability
    calibrator = production_calibrator(scored, config.calibration_method)
    run.details.update(calibration_method=calibrator.method, calibration_rows=calibrator.rows)
    return calibrator, calibrated


def record_importance(
    run: TargetRun, result: CutoffResult, columns: list[str], config: MLConfig
) -> None:
    """Permutation importance of each pipeline on the cutoff's (class-balanced) rows."""
    for kind, pipeline in result.pipelines.items():
        table = permutation_importances(
            pipeline,
            result.importance_features,
            result.importance_label,
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


def fit_production(
    run: TargetRun,
    spec: TargetSpec,
    source: SnapshotSource,
    plan: BacktestPlan,
    store: TrainingStore,
    champion: Champion,
    config: MLConfig,
) -> Pipeline | None:
    """Refit the champion on the latest labelled snapshots stacked: its pipeline, or None when
    a baseline or challenger won (refitted where it scores, see score_at_d)."""
    sample, train = store.stack(plan.production_dates)
    run.details.update(
        train_snapshot_dates=describe_dates(plan.production_dates),
        train_population=len(train),
        train_positives=int(train["label"].sum()),
    )
    if champion.model in MODEL_KINDS:
        run.details["train_rows"] = len(sample.label)
        return fit_models((champion.model,), sample, config.seed)[champion.model]
    run.details["train_rows"] = len(population(source, spec, plan.production_dates[-1]))
    return None


def score_at_d(
    run: TargetRun,
    spec: TargetSpec,
    source: SnapshotSource,
    columns: list[str],
    plan: BacktestPlan,
    state: FittedState,
    config: MLConfig,
) -> None:
    """Score everyone of the population at D with the (stored or fresh) champion, calibrated."""
    champion = state.champion
    if state.pipeline is not None:
        user_ids = population_ids(source, spec, plan.score)
        raw = score_users(source, columns, plan.score, user_ids, state.pipeline, config.chunk_rows)
    else:
        latest = population(source, spec, plan.production_dates[-1])
        baselines, challengers = fit_scorers(spec, latest, config.horizon_days)
        del latest
        scorers = {**baselines, **challengers}
        if champion.model not in scorers:
            raise DegenerateData(f"the champion {champion.model} could not be refitted")
        scored = population(source, spec, plan.score)
        try:
            raw = np.asarray(scorers[champion.model](scored), dtype=np.float64)
        except FitFailed as err:
            raise DegenerateData(f"the champion {champion.model} could not score D: {err}") from err
        user_ids = scored["user_id"].to_numpy(dtype=np.int64)
    run.predictions = pd.DataFrame(
        {"user_id": user_ids, "as_of_date": plan.score, "probability": state.calibrator(raw)}
    )
    run.details["scored_rows"] = len(run.predictions)


def train(
    run: TargetRun,
    spec: TargetSpec,
    source: SnapshotSource,
    columns: list[str],
    plan: BacktestPlan,
    key: str,
    config: MLConfig,
) -> FittedState:
    """The backtest, champion, calibration and production refit: everything but scoring D."""
    store = TrainingStore(source, spec, columns, config)
    results: list[CutoffResult] = []
    for cutoff in plan.cutoffs:
        record = CutoffRecord(cutoff.date, train_dates=cutoff.train_dates)
        run.cutoffs.append(record)
        if not cutoff.usable:
            record.status, record.reason = "skipped", cutoff.reason
        else:
            try:
                results.append(
                    backtest_cutoff(spec, source, columns, cutoff, store, record, config)
                )
            except DegenerateData as err:
                record.status, record.reason = "skipped", str(err)
        if record.status != "ok":
            print(
                f"ml: {spec.name}: cutoff {cutoff.date} skipped: {record.reason}", file=sys.stderr
            )
    skipped = [r for r in run.cutoffs if r.status != "ok"]
    run.details.update(cutoff_count=len(results), skipped_cutoff_count=len(skipped))
    if not results:
        raise DegenerateData(
            "no backtest cutoff could be used: "
            + "; ".join(f"{r.date}: {r.reason}" for r in skipped)
        )
    run.details.update(
        first_cutoff_date=str(results[0].cutoff.date),
        last_cutoff_date=str(results[-1].cutoff.date),
        evaluation_rows=sum(len(r.judged) for r in results),
    )
    comparable_candidates(results, spec)
    for result in results:
        record_metrics(run, spec, result.cutoff.date, result.label, result.scores, BACKTEST)
    champion = record_champion(run, spec, results)
    calibrator, calibrated = calibrate_champion(run, spec, results, champion.model, config)
    record_importance(run, results[-1], columns, config)
    for result in results:
        result.pipelines, result.importance_features = {}, result.importance_features[:0]
    pipeline = fit_production(run, spec, source, plan, store, champion, config)
    if spec.name == "churn":
        record_segments(run, [(r.cutoff.date, r.judged) for r in results], calibrated, config)
    return FittedState(key, copy.deepcopy(run), champion, calibrator, pipeline)


def reuse(run: TargetRun, state: FittedState) -> None:
    """Fill `run` with the records of the run that fitted `state` (a previous build)."""
    stored = state.run
    run.model, run.metrics, run.calibration = stored.model, stored.metrics, stored.calibration
    run.importance, run.cutoffs, run.segments = stored.importance, stored.cutoffs, stored.segments
    run.details.update(
        {k: v for k, v in stored.details.items() if k not in ("prediction_as_of_date", "seconds")}
    )


def _run(
    run: TargetRun,
    spec: TargetSpec,
    source: SnapshotSource,
    config: MLConfig,
    previous: str | None,
) -> None:
    # D: the prediction_date var, else the last clean event date (as the feature table does).
    last = last_label_date(source)
    plan = plan_backtest(
        snapshot_dates(source),
        config.horizon_days,
        config.prediction_date or last,
        last,
        config.backtest_cutoffs,
        config.train_snapshots,
        first_event_date=first_event_date(source),
        min_history_days=config.min_history_days,
        retrain_every_days=config.retrain_every_days,
    )
    run.details["prediction_as_of_date"] = str(plan.score)
    run.details["trained_through"] = str(plan.trained_through)
    columns = feature_columns(source)
    if not columns:
        raise DegenerateData("the feature table has no numeric feature column")
    run.details["feature_count"] = len(columns)
    key = training_key(source, spec, config, plan)
    state = load_state(source.con, previous, spec.name, key)
    reused = state is not None
    if state is None:
        state = train(run, spec, source, columns, plan, key, config)
    else:
        reuse(run, state)
        print(
            f"ml: {spec.name}: nothing it was trained on changed (labels through "
            f"{plan.trained_through}): reusing the stored {state.champion.model}",
            file=sys.stderr,
        )
    run.details["training_reused"] = int(reused)
    score_at_d(run, spec, source, columns, plan, state, config)
    run.state = state_rows(state)


def run_target(
    source: SnapshotSource, target: str, config: MLConfig, previous: str | None = None
) -> TargetRun:
    """The whole run for one target; degenerate data gives a skipped run with its reason.
    `previous`: the table of the previous build's run, whose stored models are reused when
    nothing they were fitted on changed (ml.store); None always trains."""
    spec = TARGETS[target]
    run = TargetRun(target=target, details={"horizon_days": config.horizon_days})
    return guarded_run(run, config.threads, lambda: _run(run, spec, source, config, previous))


def dbt_model(
    session: object,
    target: str,
    features: object,
    labels: object,
    settings: Mapping[str, object],
    previous: str | None = None,
) -> object:
    """Body of the dbt Python models ml_<target>_training.

    `previous`: the model's own table (dbt's `this`) as the previous build left it; its stored
    models are reused when nothing they were fitted on changed (ml.store).

    The model file itself must call dbt.ref() and dbt.config.meta_get("<key>") with literal
    arguments: dbt finds dependencies and the meta keys to pass by parsing the model file, so a
    meta_get inside this package would silently return None. On dbt-duckdb `session` is the
    warehouse connection, the inputs are relations on it and the result is a DuckDB relation,
    which dbt-duckdb materializes with `create table ... as select`; on dbt-spark they are the
    SparkSession and Spark DataFrames, and the result is a Spark DataFrame (ml.engines).
    """
    inputs = dbt_inputs(session, features, labels, previous)
    run = run_target(inputs.source, target, MLConfig.from_meta(settings.get), inputs.previous)
    return inputs.result(to_long_relation(inputs.source.con, run))
