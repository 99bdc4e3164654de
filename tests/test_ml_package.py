"""The ml/ package on synthetic snapshots whose signal is known (no dbt, a few seconds)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score

from ml import evaluate
from ml.baselines import (
    BGNBDParams,
    bgnbd_log_likelihood,
    bgnbd_probability_alive,
    bgnbd_probability_no_purchase,
    fit_bgnbd,
)
from ml.calibration import OutOfTime, fit_calibrator, forward_calibrated
from ml.champion import choose_champion
from ml.clv import (
    FitFailed,
    GammaGammaParams,
    bgnbd_expected_purchases,
    discounted_purchases,
    fit_clv,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
    gamma_gamma_log_likelihood,
    score_clv,
)
from ml.config import MLConfig
from ml.data import (
    TARGETS,
    SnapshotSource,
    feature_columns,
    iter_features,
    load_features,
)
from ml.evaluate import (
    METRIC_NAMES,
    classification_metrics,
    lift_at,
    permutation_importances,
    precision_at,
    rank_auc,
)
from ml.lifetime_value import revenue_capture, run_clv
from ml.pipelines import MeanImputer, input_positions, make_pipeline
from ml.plan import label_end, plan_backtest, training_date
from ml.records import BACKTEST, BACKTEST_CALIBRATED, CutoffRecord, to_long_relation, to_long_table
from ml.sampling import (
    balanced_sample,
    case_control_sample,
    log_odds_shift,
    stratified_sample,
)
from ml.segments import model_segments, rule_at_risk, segment_figures
from ml.train import (
    DegenerateData,
    TrainingStore,
    fit_for_cutoff,
    mean_and_std,
    run_target,
)

HORIZON = 14
LAST_DATE = dt.date(2020, 1, 31)
# Six snapshots H days apart (D - 5H .. D), each with more than H days of history.
DATES = [LAST_DATE - dt.timedelta(days=HORIZON * k) for k in (5, 4, 3, 2, 1, 0)]
FIRST_DATE = DATES[0] - dt.timedelta(days=30)
# retrain_every_days=1: these snapshot dates are not on the weekly retraining grid; the schedule
# has its own tests below.
FAST = MLConfig(
    horizon_days=HORIZON,
    retrain_every_days=1,
    train_sample_rows=3_000,
    importance_sample_rows=600,
    importance_repeats=2,
    chunk_rows=2_048,
)


# The weekly schedule of the warehouse's default (var ml_retrain_every_days).
WEEKLY = replace(FAST, retrain_every_days=7)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def synthetic_snapshots(n_users: int = 3_000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and labels for six snapshots, H days apart.

    Churn depends on a drifting loyalty trait and activity; big spending on a spend trait. The
    features see those traits through noise; the baselines' inputs see them only weakly.
    """
    rng = np.random.default_rng(seed)
    activity = rng.normal(size=n_users)
    spend = rng.normal(size=n_users)
    loyalty = rng.normal(size=n_users)
    buyer = rng.random(n_users) < 0.6
    features, labels = [], []
    for as_of in DATES:
        loyalty = 0.8 * loyalty + 0.6 * rng.normal(size=n_users)
        with_gaps = loyalty + rng.normal(0, 0.5, n_users)
        with_gaps[rng.random(n_users) < 0.2] = np.nan
        features.append(
            pd.DataFrame(
                {
                    "user_id": np.arange(1, n_users + 1, dtype=np.int64),
                    "as_of_date": as_of,
                    "sessions_28d": rng.poisson(np.exp(0.5 * activity + 0.6 * loyalty)),
                    "loyalty_signal": loyalty + rng.normal(0, 0.4, n_users),
                    "loyalty_with_gaps": with_gaps,
                    "spend_signal": spend + rng.normal(0, 0.4, n_users),
                    "is_mobile": rng.random(n_users) < 0.5,
                    "segment_name": "not a feature",
                    **{f"noise_{i}": rng.normal(size=n_users) for i in range(4)},
                }
            )
        )
        observed = as_of + dt.timedelta(days=HORIZON) <= LAST_DATE
        churned = rng.random(n_users) < _sigmoid(0.8 - 1.6 * loyalty - 0.5 * activity)
        big = rng.random(n_users) < _sigmoid(-2.5 + 2.0 * spend + 0.5 * loyalty)
        age = rng.integers(1, 90, n_users)
        recency = (age * rng.random(n_users)).astype(int)
        frequency = rng.poisson(np.exp(0.3 * activity))
        labels.append(
            pd.DataFrame(
                {
                    "user_id": np.arange(1, n_users + 1, dtype=np.int64),
                    "as_of_date": as_of,
                    "first_event_date": FIRST_DATE,
                    "last_event_date": LAST_DATE,
                    "in_churn_population": buyer,
                    "in_big_spender_population": True,
                    "churned": pd.array(churned if observed else [None] * n_users, "boolean"),
                    "is_big_spender": pd.array(big if observed else [None] * n_users, "boolean"),
                    "days_since_last_purchase": np.exp(
                        2.5 - 0.3 * loyalty + rng.normal(0, 1.0, n_users)
                    ).round(),
                    "bgnbd_frequency": frequency,
                    "bgnbd_recency_days": np.where(frequency > 0, recency, 0),
                    "bgnbd_age_days": age,
                    "purchase_days": frequency + 1,
                    "median_purchase_gap_days": np.where(
                        frequency > 0, np.maximum(recency, 1) / np.maximum(frequency, 1), np.nan
                    ),
                    "past_revenue": np.exp(4 + 0.4 * spend + rng.normal(0, 1.0, n_users)),
                    "future_revenue": np.where(
                        observed,
                        np.where(churned, 0.0, np.exp(3 + 0.5 * spend) * (1 + frequency)),
                        np.nan,
                    ),
                }
            )
        )
    return pd.concat(features, ignore_index=True), pd.concat(labels, ignore_index=True)


def make_source(features: pd.DataFrame, labels: pd.DataFrame) -> SnapshotSource:
    con = duckdb.connect()
    con.register("features_df", features)
    con.register("labels_df", labels)
    con.execute("create table features as select * from features_df")
    con.execute("create table labels as select * from labels_df")
    return SnapshotSource(con, "features", "labels")


@pytest.fixture(scope="module")
def snapshots() -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthetic_snapshots()


@pytest.fixture(scope="module")
def churn_run(snapshots):
    return run_target(make_source(*snapshots), "churn", FAST)


@pytest.fixture(scope="module")
def big_spender_run(snapshots):
    return run_target(make_source(*snapshots), "big_spender", FAST)


@pytest.fixture(scope="module")
def clv_run(snapshots):
    return run_clv(make_source(*snapshots), FAST)


def metric(run, model: str, name: str, evaluation: str = BACKTEST) -> float:
    """The mean of a metric over the backtest cutoffs (as model_metrics' 'mean' row)."""
    values = [
        m.value
        for m in run.metrics
        if m.model == model and m.metric == name and m.evaluation == evaluation
    ]
    assert values, (model, name, run.metrics)
    return mean_and_std(values)[0]


SIMPLEST_FIRST = ["past_revenue", "logistic_regression", "hist_gradient_boosting"]


@pytest.mark.parametrize(
    ("aucs", "winner", "runner_up"),
    [
        ({"past_revenue": 0.70, "logistic_regression": 0.80, "hist_gradient_boosting": 0.85},
         "hist_gradient_boosting", "logistic_regression"),
        # A baseline ahead of both models wins and is reported as one.
        ({"past_revenue": 0.867, "logistic_regression": 0.859, "hist_gradient_boosting": 0.862},
         "past_revenue", "hist_gradient_boosting"),
        # Ties go to the simpler candidate.
        ({"past_revenue": 0.80, "logistic_regression": 0.80, "hist_gradient_boosting": 0.80},
         "past_revenue", "logistic_regression"),
        ({"past_revenue": 0.70, "logistic_regression": 0.80, "hist_gradient_boosting": 0.80},
         "logistic_regression", "hist_gradient_boosting"),
        # An undefined AUC cannot win.
        ({"past_revenue": 0.70, "logistic_regression": float("nan"),
          "hist_gradient_boosting": 0.60}, "past_revenue", "hist_gradient_boosting"),
    ],
)  # fmt: skip
def test_champion_is_the_best_backtest_auc_ties_to_the_simpler(aucs, winner, runner_up) -> None:
    champion = choose_champion(aucs, SIMPLEST_FIRST, ["past_revenue"])
    assert (champion.model, champion.runner_up_model) == (winner, runner_up)
    assert champion.is_baseline == (winner == "past_revenue")
    assert champion.roc_auc == aucs[winner]
    assert champion.margin_over_runner_up == pytest.approx(aucs[winner] - aucs[runner_up])
    assert (champion.best_baseline_model, champion.best_baseline_roc_auc) == (
        "past_revenue",
        aucs["past_revenue"],
    )


def test_reliability_bins_and_calibration_error() -> None:
    label = np.array([0, 0, 1, 1, 1, 0, 1, 1], dtype=bool)
    probability = np.array([0.05, 0.08, 0.15, 0.55, 0.59, 0.95, 1.0, 0.99])
    table = evaluate.reliability_bins(label, probability)
    assert list(table["bin"]) == [1, 2, 6, 10]
    assert list(table["users"]) == [2, 1, 2, 3]
    assert list(table["observed_rate"]) == pytest.approx([0.0, 1.0, 1.0, 2 / 3])
    assert list(table["mean_predicted"]) == pytest.approx([0.065, 0.15, 0.57, 0.98])
    # |0 - .065| * 2 + |1 - .15| + |1 - .57| * 2 + |2/3 - .98| * 3, over 8 users.
    expected = (0.13 + 0.85 + 0.86 + abs(2 / 3 - 0.98) * 3) / 8
    assert evaluate.expected_calibration_error(label, probability) == pytest.approx(expected)
    # A perfectly calibrated constant score has no gap.
    assert evaluate.expected_calibration_error(label, np.full(8, 5 / 8)) == pytest.approx(0.0)


def test_champion_needs_a_finite_auc() -> None:
    with pytest.raises(ValueError, match="finite"):
        choose_champion({"past_revenue": float("nan")}, SIMPLEST_FIRST, ["past_revenue"])


def test_the_champion_writes_the_predictions(big_spender_run) -> None:
    aucs = {
        m.model: metric(big_spender_run, m.model, "roc_auc")
        for m in big_spender_run.metrics
        if m.metric == "roc_auc"
    }
    assert big_spender_run.model == max(aucs, key=aucs.get)
    assert big_spender_run.details["champion_model"] == big_spender_run.model
    table = to_long_table(big_spender_run)
    assert set(table.loc[table["record_type"] == "prediction", "model"]) == {big_spender_run.model}


def test_a_baseline_that_wins_the_backtest_writes_the_predictions(snapshots) -> None:
    # Features that carry no signal: no model can beat days since the last purchase out of time.
    features, labels = snapshots
    rng = np.random.default_rng(11)
    noise = features[["user_id", "as_of_date"]].assign(
        **{f"noise_{i}": rng.normal(size=len(features)) for i in range(3)}
    )
    run = run_target(make_source(noise, labels), "churn", FAST)
    assert run.status == "ok", run.reason
    assert run.model == "days_since_last_purchase"
    assert run.details["champion_is_baseline"] == 1
    assert run.details["champion_roc_auc"] == metric(run, "days_since_last_purchase", "roc_auc")
    assert run.details["champion_margin_over_baseline_roc_auc"] == 0.0
    at_d = labels[(labels["as_of_date"] == DATES[-1]) & labels["in_churn_population"]]
    assert sorted(run.predictions["user_id"]) == sorted(at_d["user_id"])
    assert run.predictions["probability"].between(0, 1).all()
    # The calibrated baseline still ranks buyers by days since the last purchase at D.
    days = at_d.set_index("user_id")["days_since_last_purchase"]
    scored = run.predictions.set_index("user_id")["probability"]
    assert scored.corr(days.loc[scored.index], method="spearman") == pytest.approx(1.0)


def test_feature_columns_are_numeric_or_boolean_and_exclude_keys(snapshots) -> None:
    columns = feature_columns(make_source(*snapshots))
    assert "user_id" not in columns and "as_of_date" not in columns
    assert "segment_name" not in columns
    assert {"sessions_28d", "is_mobile", "loyalty_with_gaps"} <= set(columns)


def test_churn_models_beat_their_baselines(churn_run) -> None:
    assert churn_run.status == "ok", churn_run.reason
    for model in ("hist_gradient_boosting", "logistic_regression"):
        for baseline in ("days_since_last_purchase", "bg_nbd"):
            assert metric(churn_run, model, "roc_auc") > metric(churn_run, baseline, "roc_auc")
    assert metric(churn_run, "hist_gradient_boosting", "roc_auc") > 0.75


def test_big_spender_models_beat_past_revenue(big_spender_run) -> None:
    assert big_spender_run.status == "ok", big_spender_run.reason
    for model in ("hist_gradient_boosting", "logistic_regression"):
        for other in ("past_revenue", "clv_expected_revenue"):
            assert metric(big_spender_run, model, "roc_auc") > metric(
                big_spender_run, other, "roc_auc"
            )


def test_every_model_and_baseline_has_every_metric_at_every_cutoff(
    churn_run, big_spender_run
) -> None:
    cutoffs = set(DATES[1:5])  # the four latest labelled snapshots, each with training history
    for run, models, baselines in (
        (churn_run, {"hist_gradient_boosting", "logistic_regression", "days_since_last_purchase",
                     "bg_nbd"}, {"days_since_last_purchase", "bg_nbd"}),
        (big_spender_run, {"hist_gradient_boosting", "logistic_regression", "past_revenue",
                           "clv_expected_revenue"}, {"past_revenue"}),
    ):  # fmt: skip
        raw = [m for m in run.metrics if m.evaluation == BACKTEST]
        assert {(m.model, m.cutoff, m.metric) for m in raw} == {
            (m, c, n) for m in models for c in cutoffs for n in METRIC_NAMES
        }
        assert len(raw) == len(models) * len(cutoffs) * len(METRIC_NAMES)
        assert {m.model for m in raw if m.is_baseline} == baselines
        # The champion's calibrated scores at every cutoff with an earlier one to calibrate on.
        calibrated = [m for m in run.metrics if m.evaluation == BACKTEST_CALIBRATED]
        assert {(m.model, m.cutoff) for m in calibrated} == {
            (run.model, c) for c in sorted(cutoffs)[1:]
        }
        assert [r.status for r in run.cutoffs] == ["ok"] * 4


def test_predictions_cover_the_population_at_d_with_probabilities(snapshots, churn_run) -> None:
    _, labels = snapshots
    at_d = labels[(labels["as_of_date"] == DATES[-1]) & labels["in_churn_population"]]
    predictions = churn_run.predictions
    assert sorted(predictions["user_id"]) == sorted(at_d["user_id"])
    assert predictions["user_id"].is_unique
    assert set(predictions["as_of_date"]) == {DATES[-1]}
    assert predictions["probability"].between(0, 1).all()


def test_permutation_importance_ranks_the_signal_first(churn_run, big_spender_run) -> None:
    for run, signal in ((churn_run, "loyalty_signal"), (big_spender_run, "spend_signal")):
        table = pd.DataFrame(run.importance, columns=["model", "feature", "importance", "std"])
        boosted = table[table["model"] == "hist_gradient_boosting"]
        assert boosted.sort_values("importance")["feature"].iloc[-1] == signal
        assert boosted.loc[boosted["feature"].str.startswith("noise_"), "importance"].max() < 0.02


def test_same_input_gives_identical_tables(snapshots, churn_run) -> None:
    again = run_target(make_source(*snapshots), "churn", FAST)
    pd.testing.assert_frame_equal(churn_run.predictions, again.predictions)
    assert churn_run.metrics == again.metrics
    assert churn_run.importance == again.importance


def cutoff_scores(source: SnapshotSource, target: str, cutoff) -> tuple[dict, dict]:
    """Every candidate fitted for `cutoff` from `source` (a fresh store)."""
    spec = TARGETS[target]
    columns = feature_columns(source)
    store = TrainingStore(source, spec, columns, FAST)
    pipelines, scorers = fit_for_cutoff(
        spec, source, cutoff, store, CutoffRecord(cutoff.date), FAST
    )
    return pipelines, scorers


@pytest.mark.parametrize("target", ["churn", "big_spender"])
def test_a_cutoffs_models_ignore_everything_observed_after_the_cutoff(snapshots, target) -> None:
    """Leakage, rolling: for every cutoff c, rewrite everything not known at c (the features of
    later snapshots, and every label whose window (T, T + H] ends after c, c's own included):
    the models, baselines and challengers fitted for c give the same scores on c's users."""
    features, labels = snapshots
    plan = plan_backtest(
        DATES, HORIZON, None, LAST_DATE, 4, 3, first_event_date=FIRST_DATE, min_history_days=28
    )
    reference = make_source(features, labels)
    columns = feature_columns(reference)
    label = TARGETS[target].label
    for cutoff in plan.usable_cutoffs:
        rng = np.random.default_rng(99)
        later_f = features["as_of_date"] > cutoff.date
        as_of = pd.to_datetime(labels["as_of_date"])
        unknown = as_of + pd.Timedelta(days=HORIZON) > pd.Timestamp(cutoff.date)
        changed_f = features.copy()
        changed_f.loc[later_f, "loyalty_signal"] = rng.normal(size=int(later_f.sum())) * 100
        changed_l = labels.copy()
        changed_l.loc[unknown, label] = ~changed_l.loc[unknown, label].fillna(False)
        changed_l.loc[unknown & (as_of > pd.Timestamp(cutoff.date)),
                      ["days_since_last_purchase", "past_revenue"]] = 0.0  # fmt: skip
        perturbed = make_source(changed_f, changed_l)
        # c's users, with c's features and baseline inputs (known at c).
        frame = population_frame(reference, target, cutoff.date)
        matrix = load_features(reference, columns, cutoff.date, frame["user_id"].to_numpy())
        results = []
        for source in (reference, perturbed):
            pipelines, scorers = cutoff_scores(source, target, cutoff)
            results.append(
                {
                    **{k: p.predict_proba(matrix)[:, 1] for k, p in pipelines.items()},
                    **{k: scorer(frame) for k, scorer in scorers.items()},
                }
            )
        assert results[0].keys() == results[1].keys() and len(results[0]) >= 3
        for name in results[0]:
            np.testing.assert_array_equal(results[0][name], results[1][name], err_msg=name)
        # And the perturbation did reach c's own labels (a leak would have seen it).
        assert not labels.loc[unknown, label].equals(changed_l.loc[unknown, label])


def population_frame(source: SnapshotSource, target: str, as_of: dt.date) -> pd.DataFrame:
    from ml.data import population

    return population(source, TARGETS[target], as_of)


@pytest.mark.parametrize("seed", range(20))
def test_every_training_label_ends_by_its_cutoff_whatever_the_dates(seed: int) -> None:
    """The plan, on random snapshot dates (any spacing), horizons and prediction dates."""
    rng = np.random.default_rng(seed)
    start = dt.date(2019, 1, 1)
    dates = sorted({start + dt.timedelta(days=int(d)) for d in rng.integers(0, 300, 12)})
    horizon = int(rng.integers(3, 60))
    last = dates[-1] - dt.timedelta(days=int(rng.integers(0, 20)))
    prediction = dates[int(rng.integers(len(dates) // 2, len(dates)))]
    try:
        plan = plan_backtest(
            dates, horizon, prediction, last, 4, 3, first_event_date=start, min_history_days=horizon
        )
    except DegenerateData as err:
        assert "too few snapshots" in str(err)
        return
    observed_until = min(prediction, last)
    assert len(plan.cutoffs) <= 4
    for cutoff in plan.cutoffs:
        assert label_end(cutoff.date, horizon) <= observed_until
        assert len(cutoff.train_dates) <= 3
        for t in cutoff.train_dates:
            assert label_end(t, horizon) <= cutoff.date
            assert (t - start).days + 1 >= horizon
        assert cutoff.usable == bool(cutoff.train_dates)
    for t in plan.production_dates:
        assert label_end(t, horizon) <= observed_until


def test_plan_uses_the_dates_present_and_skips_cutoffs_without_history() -> None:
    # Irregular dates: the plan never assumes D - k x H.
    dates = [dt.date(2020, 1, d) for d in (1, 3, 10, 11, 20, 31)]
    first = dt.date(2019, 12, 28)  # Jan 1 has 5 days of history (< H = 7), Jan 3 has 7
    plan = plan_backtest(
        dates, 7, None, dt.date(2020, 1, 31), 4, 2, first_event_date=first, min_history_days=7
    )
    assert plan.score == dt.date(2020, 1, 31)
    assert plan.labelled == tuple(dates[:5])  # T + 7 <= Jan 31
    assert [c.date for c in plan.cutoffs] == dates[1:5]
    by_date = {c.date: c for c in plan.cutoffs}
    assert not by_date[dates[1]].usable and "not enough history" in by_date[dates[1]].reason
    assert by_date[dates[2]].train_dates == (dates[1],)  # Jan 3 + 7 <= Jan 10
    assert by_date[dates[3]].train_dates == (dates[1],)
    assert by_date[dates[4]].train_dates == (dates[2], dates[3])  # the latest two
    assert plan.production_dates == (dates[3], dates[4])
    # Labels after the prediction date are never used, even when the data has them.
    early = plan_backtest(dates, 7, dates[4], dt.date(2020, 1, 31), 4, 2, first_event_date=None)
    assert all(label_end(c.date, 7) <= dates[4] for c in early.cutoffs)
    with pytest.raises(DegenerateData, match="too few snapshots"):
        plan_backtest(dates[-2:], 7, None, dt.date(2020, 1, 31), 4, 2)
    with pytest.raises(DegenerateData, match="not a snapshot"):
        plan_backtest(dates, 7, dt.date(2020, 1, 30), None, 4, 2)


def test_too_few_snapshots_for_the_horizon_is_a_skipped_run(snapshots) -> None:
    features, labels = snapshots
    keep = features["as_of_date"] >= DATES[-2]  # D - H and D: nothing to train on before D - H
    run = run_target(make_source(features[keep], labels), "churn", FAST)
    assert run.status == "skipped"
    assert "too few snapshots" in run.reason and str(DATES[-2]) in run.reason
    assert run.predictions.empty and not run.metrics


def test_one_class_label_is_a_skipped_run(snapshots) -> None:
    features, labels = snapshots
    one_class = labels.assign(churned=labels["churned"].where(labels["churned"].isna(), True))
    run = run_target(make_source(features, one_class), "churn", FAST)
    assert run.status == "skipped" and "one-class label" in run.reason
    # Every cutoff says why it was skipped.
    assert run.cutoffs and all(
        r.status == "skipped" and "one-class label" in r.reason for r in run.cutoffs
    )


def test_tiny_population_is_a_skipped_run(snapshots) -> None:
    features, labels = snapshots
    few = labels[labels["user_id"] <= 30]
    run = run_target(make_source(features, few), "big_spender", FAST)
    assert run.status == "skipped" and "tiny population" in run.reason


def test_a_cutoff_that_cannot_be_judged_is_skipped_with_its_reason(snapshots) -> None:
    features, labels = snapshots
    # Only 50 users at D - 4H: that cutoff is skipped with the reason (its snapshot still adds
    # its rows to the later cutoffs' training stacks), the others are used.
    few = labels[(labels["as_of_date"] != DATES[1]) | (labels["user_id"] <= 50)]
    run = run_target(make_source(features, few), "churn", FAST)
    assert run.status == "ok", run.reason
    statuses = {r.date: (r.status, r.reason) for r in run.cutoffs}
    assert statuses[DATES[1]][0] == "skipped" and "tiny population" in statuses[DATES[1]][1]
    assert {d for d, (status, _) in statuses.items() if status == "ok"} == set(DATES[2:5])
    assert run.details["skipped_cutoff_count"] == 1 and run.details["cutoff_count"] == 3


def test_label_windows_after_the_last_event_date_are_never_used(snapshots) -> None:
    features, labels = snapshots
    early = labels.assign(last_event_date=DATES[-1] - dt.timedelta(days=1))
    config = MLConfig(**{**FAST.__dict__, "prediction_date": DATES[-1]})
    run = run_target(make_source(features, early), "churn", config)
    assert run.status == "ok", run.reason
    used = [r.date for r in run.cutoffs if r.status == "ok"]
    assert used and max(used) == DATES[-3]  # D - H + H = D is after the last event date


def test_long_table_of_a_skipped_run_has_the_reason_and_no_rows(snapshots) -> None:
    features, labels = snapshots
    run = run_target(make_source(features.iloc[0:0], labels), "churn", FAST)
    table = to_long_table(run)
    assert set(table["record_type"]) == {"run"}
    attributes = dict(zip(table["name"], table["text"], strict=True))
    assert attributes["status"] == "skipped" and "no snapshot" in attributes["reason"]


def test_long_table_types_are_stable(churn_run) -> None:
    table = to_long_table(churn_run)
    assert set(table["record_type"]) == {
        "prediction",
        "metric",
        "importance",
        "calibration",
        "cutoff",
        "segment",
        "run",
        "state",
    }
    assert str(table["user_id"].dtype) == "Int64"
    assert table.loc[table["record_type"] == "prediction", "value"].between(0, 1).all()


def test_long_relation_for_dbt_equals_the_long_table(snapshots, churn_run, clv_run) -> None:
    features, labels = snapshots
    skipped = run_target(make_source(features.iloc[0:0], labels), "churn", FAST)
    con = duckdb.connect()
    for run in (churn_run, skipped, clv_run):
        relation = to_long_relation(con, run)
        expected = con.from_df(to_long_table(run))
        assert relation.columns == expected.columns and relation.types == expected.types
        assert len(relation) == len(expected)
        assert relation.except_(expected).fetchall() == []
        assert expected.except_(relation).fetchall() == []


def test_stratified_sample_keeps_class_shares_and_is_seeded() -> None:
    labels = np.r_[np.ones(1_000, bool), np.zeros(9_000, bool)]
    rows = stratified_sample(labels, 2_000, seed=3)
    assert len(rows) == 2_000 and labels[rows].sum() == 200
    np.testing.assert_array_equal(rows, stratified_sample(labels, 2_000, seed=3))
    assert not np.array_equal(rows, stratified_sample(labels, 2_000, seed=4))
    assert len(stratified_sample(labels, 50_000, seed=3)) == 10_000


def test_balanced_sample_gives_rare_positives_half_the_rows() -> None:
    labels = np.r_[np.ones(300, bool), np.zeros(9_700, bool)]
    rows = balanced_sample(labels, 1_000, seed=1)
    assert len(rows) == 1_000 and labels[rows].sum() == 300


def test_precision_and_lift_at_top_share() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1], dtype=bool)
    score = np.arange(10)[::-1].astype(float)  # the first rows score highest
    assert precision_at(y, score, 0.2) == 1.0
    assert lift_at(y, score, 0.2) == pytest.approx(1.0 / 0.3)
    metrics = classification_metrics(y, score / 10)
    assert metrics["positives"] == 3 and metrics["population"] == 10
    assert list(metrics) == list(METRIC_NAMES)


def simulate_bgnbd(params: BGNBDParams, age: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """Draw (x, t_x) for customers observed for `age` days (and their purchases in (T, T + h])."""
    rng = np.random.default_rng(seed)
    n = len(age)
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    drop = rng.beta(params.a, params.b, n)
    x, t_x, future = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        t, alive = 0.0, True
        while alive:
            t += rng.exponential(1 / rate[i])
            if t > age[i] + HORIZON:
                break
            if t <= age[i]:
                x[i], t_x[i] = x[i] + 1, t
            else:
                future[i] += 1
            alive = rng.random() >= drop[i]
    return x, t_x, future


def test_bgnbd_fit_recovers_parameters_and_predicts_churn() -> None:
    truth = BGNBDParams(r=0.8, alpha=20.0, a=0.9, b=3.0)
    age = np.random.default_rng(5).uniform(30, 120, 6_000)
    x, t_x, future = simulate_bgnbd(truth, age, seed=6)
    fitted = fit_bgnbd(x, t_x, age)
    assert fitted.r == pytest.approx(truth.r, rel=0.3)
    assert fitted.alpha == pytest.approx(truth.alpha, rel=0.4)
    assert bgnbd_log_likelihood(fitted, x, t_x, age) >= bgnbd_log_likelihood(truth, x, t_x, age)
    p_churn = bgnbd_probability_no_purchase(fitted, x, t_x, age, HORIZON)
    assert ((p_churn >= 0) & (p_churn <= 1)).all()
    # Calibrated on average, and ranks churners above buyers.
    assert p_churn.mean() == pytest.approx(np.mean(future == 0), abs=0.03)
    assert p_churn[future == 0].mean() > p_churn[future > 0].mean() + 0.1


def test_bgnbd_probability_alive_is_one_without_repeat_purchases() -> None:
    params = BGNBDParams(r=1.0, alpha=10.0, a=1.0, b=2.0)
    alive = bgnbd_probability_alive(
        params, np.array([0, 3, 3]), np.array([0, 50, 5]), np.full(3, 60)
    )
    assert alive[0] == 1.0 and alive[1] > alive[2]


def test_config_reads_rendered_meta_strings() -> None:
    meta = {"horizon_days": "90", "prediction_date": "2020-02-01", "seed": "7", "chunk_rows": ""}
    config = MLConfig.from_meta(meta.get)
    assert config.horizon_days == 90 and config.seed == 7
    assert config.prediction_date == dt.date(2020, 2, 1)
    assert config.chunk_rows == MLConfig().chunk_rows
    assert MLConfig.from_meta({"prediction_date": ""}.get).prediction_date is None


def test_metrics_equal_sklearn() -> None:
    from sklearn.metrics import brier_score_loss, log_loss

    rng = np.random.default_rng(3)
    y = rng.random(2_000) < 0.2
    p = np.round(_sigmoid(rng.normal(-1.5, 1.0, 2_000) + 1.2 * y), 2)  # ties, some 0 and 1
    p[:3] = [0.0, 1.0, 0.5]
    metrics = classification_metrics(y, p)
    clipped = np.clip(p, evaluate.PROBABILITY_EPS, 1 - evaluate.PROBABILITY_EPS)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert metrics["log_loss"] == pytest.approx(log_loss(y, clipped, labels=[False, True]))
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, clipped, pos_label=True))


def test_rank_auc_equals_sklearn_with_ties() -> None:
    rng = np.random.default_rng(2)
    y = rng.random(500) < 0.3
    score = np.round(rng.random(500) + 0.3 * y, 1)  # many ties
    assert rank_auc(y, score) == pytest.approx(roc_auc_score(y, score))


@pytest.mark.parametrize("kind", ["hist_gradient_boosting", "logistic_regression"])
def test_preprocessing_is_columnwise_so_shuffled_importance_is_exact(kind: str) -> None:
    """permutation_importances shuffles transformed columns: valid only if every step before
    the estimator maps each column on its own (or drops it, which input_positions tracks)."""
    rng = np.random.default_rng(4)
    x = rng.lognormal(size=(300, 5))
    x[rng.random(x.shape) < 0.2] = np.nan
    x[:, 3] = x[:, 1]  # a duplicate and a constant column: the trees drop them
    x[:, 4] = 7.0
    y = rng.random(300) < 0.4
    preprocess = make_pipeline(kind, seed=1).fit(x, y)[:-1]
    positions = input_positions(preprocess, 5)
    if kind == "hist_gradient_boosting":
        assert list(positions) == [0, 1, 2, -1, -1]
    order = rng.permutation(300)
    shuffled = x.copy()
    shuffled[:, 2] = x[order, 2]
    expected = preprocess.transform(x)
    expected[:, positions[2]] = expected[order, positions[2]]
    np.testing.assert_allclose(preprocess.transform(shuffled), expected)


def test_dropping_constant_and_duplicate_columns_keeps_the_same_boosted_model() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2_000, 6))
    x[:, 4] = x[:, 1]
    x[:, 5] = 0.0
    y = rng.random(2_000) < 1 / (1 + np.exp(-x[:, 0] - x[:, 1]))
    pipeline = make_pipeline("hist_gradient_boosting", seed=3).fit(x, y)
    assert list(pipeline.named_steps["distinct"].kept_) == [0, 1, 2, 3]
    plain = pipeline.named_steps["model"].estimator
    plain = HistGradientBoostingClassifier(**plain.get_params()).fit(x, y)
    np.testing.assert_allclose(pipeline.predict_proba(x), plain.predict_proba(x), rtol=1e-12)


def test_mean_imputer_matches_sklearn_and_keeps_order() -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(size=(500, 4)).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 3] = np.nan
    x = np.asfortranarray(x)
    ours = MeanImputer().fit(x).transform(x)
    theirs = SimpleImputer(strategy="mean", keep_empty_features=True).fit(x).transform(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert ours.dtype == np.float32 and ours.flags.f_contiguous
    assert (ours[:, 3] == 0).all()


def test_case_control_sample_keeps_the_rare_class_and_caps_the_rest() -> None:
    labels = np.r_[np.ones(300, bool), np.zeros(9_700, bool)]
    rows = case_control_sample(labels, cap=5_000, majority_ratio=10, seed=1)
    assert labels[rows].sum() == 300 and len(rows) == 300 + 3_000
    np.testing.assert_array_equal(rows, case_control_sample(labels, 5_000, 10, seed=1))
    rows = case_control_sample(labels, cap=1_000, majority_ratio=10, seed=1)
    assert labels[rows].sum() == 300 and len(rows) == 1_000
    # Nothing to drop: every row, in order.
    few = np.r_[np.ones(300, bool), np.zeros(2_000, bool)]
    np.testing.assert_array_equal(case_control_sample(few, 5_000, 10, seed=1), np.arange(2_300))
    # The rare class may be the negative one.
    rows = case_control_sample(~labels, cap=5_000, majority_ratio=2, seed=1)
    assert labels[rows].sum() == 300 and len(rows) == 900  # rare: False in ~labels


@pytest.mark.parametrize("kind", ["hist_gradient_boosting", "logistic_regression"])
def test_log_odds_shift_gives_population_probabilities(kind: str) -> None:
    """Fit on every positive and a tenth of the negatives, then shift: probabilities are those
    of the population (calibrated on average), and the ranking is untouched by the shift."""
    rng = np.random.default_rng(10)
    x = rng.normal(size=(40_000, 3))
    y = rng.random(40_000) < 1 / (1 + np.exp(-(-4.0 + 1.5 * x[:, 0])))
    rows = case_control_sample(y, cap=40_000, majority_ratio=5, seed=2)
    shift = log_odds_shift(y, rows)
    assert shift < -1.0 and log_odds_shift(y, np.arange(len(y))) == 0.0
    shifted = make_pipeline(kind, 2, shift).fit(x[rows], y[rows]).predict_proba(x)[:, 1]
    unshifted = make_pipeline(kind, 2).fit(x[rows], y[rows]).predict_proba(x)[:, 1]
    assert shifted.mean() == pytest.approx(y.mean(), rel=0.1)
    assert unshifted.mean() > 2 * y.mean()
    assert rank_auc(y, shifted) == pytest.approx(rank_auc(y, unshifted), abs=1e-9)


def test_tree_rescoring_gives_the_same_importance_as_full_predictions(monkeypatch) -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3_000, 8))
    x[:, 6] = x[:, 2]
    y = rng.random(3_000) < 1 / (1 + np.exp(-x[:, 0] + 0.5 * x[:, 1] * x[:, 3]))
    names = [f"f{j}" for j in range(8)]
    pipeline = make_pipeline("hist_gradient_boosting", seed=5).fit(x, y)
    fast = permutation_importances(pipeline, x, y, names, repeats=2, seed=6)
    monkeypatch.setattr(evaluate._Rescorer, "_trees", staticmethod(lambda model: None))
    slow = permutation_importances(pipeline, x, y, names, repeats=2, seed=6)
    pd.testing.assert_frame_equal(fast, slow, atol=1e-12)
    assert fast.loc[6, "importance"] == 0.0  # the duplicate is never split on
    assert fast["importance"].idxmax() == 0


def test_iter_features_reads_only_the_selected_columns(snapshots) -> None:
    source = make_source(*snapshots)
    columns = feature_columns(source)
    read = np.array([c in ("loyalty_signal", "is_mobile") for c in columns])
    ids = np.array([3, 1, 2, 999_999])
    chunks = list(iter_features(source, columns, DATES[0], ids, chunk_rows=1_000, read=read))
    positions = np.concatenate([p for p, _ in chunks])
    matrix = np.vstack([m for _, m in chunks])[np.argsort(positions)]
    full = load_features(source, columns, DATES[0], ids)
    assert matrix.flags.f_contiguous or len(chunks) > 1
    np.testing.assert_array_equal(matrix[:, read], full[:, read])
    assert np.isnan(matrix[:, ~read]).all() and np.isnan(full[3]).all()


def test_users_without_a_feature_row_are_still_scored(snapshots) -> None:
    features, labels = snapshots
    missing = features[~((features["as_of_date"] == DATES[-1]) & (features["user_id"] <= 50))]
    source = make_source(missing, labels)
    columns = feature_columns(source)
    matrix = load_features(source, columns, DATES[-1], np.array([1, 2, 3000]))
    assert np.isnan(matrix[:2]).all() and not np.isnan(matrix[2]).all()
    run = run_target(source, "big_spender", FAST)
    assert run.status == "ok" and {1, 2, 50} <= set(run.predictions["user_id"])


# ---- calibration --------------------------------------------------------------------------


def overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true probability, outcome, a score whose log-odds are twice the true ones)."""
    rng = np.random.default_rng(seed)
    truth = _sigmoid(rng.normal(-1.0, 1.2, n))
    outcome = rng.random(n) < truth
    score = _sigmoid(2.0 * np.log(truth / (1 - truth)))
    return truth, outcome, score


def test_platt_calibration_undoes_overconfidence_and_keeps_the_ranking() -> None:
    truth, outcome, score = overconfident(20_000, seed=1)
    calibrator = fit_calibrator(score, outcome, "platt")
    assert calibrator.slope == pytest.approx(0.5, abs=0.05)
    assert calibrator.intercept == pytest.approx(0.0, abs=0.06)
    new_truth, new_outcome, new_score = overconfident(20_000, seed=2)
    calibrated = calibrator(new_score)
    before = classification_metrics(new_outcome, new_score)
    after = classification_metrics(new_outcome, calibrated)
    assert after["roc_auc"] == pytest.approx(before["roc_auc"], abs=1e-12)
    assert after["expected_calibration_error"] < 0.02 < before["expected_calibration_error"]
    assert after["log_loss"] < before["log_loss"] and after["brier"] < before["brier"]
    np.testing.assert_allclose(calibrated, new_truth, atol=0.05)


def test_isotonic_calibration_is_monotone_and_bounded() -> None:
    _, outcome, score = overconfident(5_000, seed=3)
    calibrator = fit_calibrator(score, outcome, "isotonic")
    grid = np.linspace(0, 1, 101)
    values = calibrator(grid)
    assert np.all(np.diff(values) >= 0) and values.min() >= 0 and values.max() <= 1
    after = classification_metrics(outcome, calibrator(score))
    assert after["expected_calibration_error"] < 0.02
    with pytest.raises(ValueError, match="both outcomes"):
        fit_calibrator(score[:10], np.ones(10, bool), "platt")


def test_calibration_is_forward_chained_on_earlier_cutoffs_only() -> None:
    """Cutoff c is calibrated on the cutoffs whose labels ended by c; the first has none, and
    what happens after c cannot move c's calibrated scores."""
    days = [dt.date(2020, 1, 1), dt.date(2020, 1, 15), dt.date(2020, 1, 29)]
    parts = []
    for i, day in enumerate(days):
        _, outcome, score = overconfident(2_000, seed=10 + i)
        parts.append(OutOfTime(day, outcome, score))
    out = forward_calibrated(parts, horizon_days=14, method="platt")
    assert [o.cutoff for o, _ in out] == days[1:]
    assert [c.rows for _, c in out] == [2_000, 4_000]
    # A short horizon makes every earlier cutoff usable; a long one none.
    assert forward_calibrated(parts, horizon_days=30, method="platt") == []
    # Rewriting the last cutoff's outcomes leaves the second one's calibrated scores alone.
    flipped = [*parts[:2], OutOfTime(days[2], ~parts[2].label, parts[2].probability)]
    again = forward_calibrated(flipped, horizon_days=14, method="platt")
    np.testing.assert_array_equal(again[0][0].probability, out[0][0].probability)


def test_the_predictions_are_the_calibrated_champion(churn_run) -> None:
    assert churn_run.details["calibration_method"] == "platt"
    # Fitted on every cutoff's judged users.
    assert churn_run.details["calibration_rows"] == churn_run.details["evaluation_rows"]
    calibrated = metric(churn_run, churn_run.model, "roc_auc", BACKTEST_CALIBRATED)
    assert calibrated > 0.5
    for figure in ("brier", "log_loss", "expected_calibration_error"):
        assert 0 <= metric(churn_run, churn_run.model, figure, BACKTEST_CALIBRATED) < 1


@pytest.mark.parametrize(
    ("per_cutoff", "winner"),
    [
        # The model wins the latest cutoff but not on average: the baseline is the champion.
        ({"bg_nbd": [0.80, 0.82, 0.81], "hist_gradient_boosting": [0.70, 0.78, 0.84]}, "bg_nbd"),
        ({"bg_nbd": [0.80, 0.80], "hist_gradient_boosting": [0.81, 0.80]},
         "hist_gradient_boosting"),
        # Equal means: the simpler one.
        ({"bg_nbd": [0.80, 0.82], "hist_gradient_boosting": [0.82, 0.80]}, "bg_nbd"),
    ],
)  # fmt: skip
def test_champion_is_chosen_on_the_mean_over_cutoffs(per_cutoff, winner) -> None:
    means = {name: mean_and_std(values)[0] for name, values in per_cutoff.items()}
    champion = choose_champion(means, ["bg_nbd", "hist_gradient_boosting"], ["bg_nbd"])
    assert champion.model == winner
    assert champion.is_baseline == (winner == "bg_nbd")
    assert mean_and_std([0.8])[1] != mean_and_std([0.8])[1]  # NaN: no spread from one cutoff
    assert mean_and_std([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2.0)))


# ---- customer lifetime value --------------------------------------------------------------


def closed_form_expected_purchases(params, x, t_x, age, t):
    """Fader, Hardie & Lee (2005), eq. 10, with scipy's hypergeometric function."""
    from scipy.special import hyp2f1

    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + age + t)
    head = (a + b + x - 1) / (a - 1)
    tail = 1 - ((alpha + age) / (alpha + age + t)) ** (r + x) * hyp2f1(
        r + x, b + x, a + b + x - 1, z
    )
    dead = 1 + (x > 0) * a / (b + x - 1) * ((alpha + age) / (alpha + t_x)) ** (r + x)
    return head * tail / dead


def test_expected_purchases_by_quadrature_equal_the_closed_form() -> None:
    params = BGNBDParams(r=0.8, alpha=20.0, a=1.9, b=3.0)
    x = np.array([0, 1, 3, 10, 0, 5])
    t_x = np.array([0, 10, 40, 80, 0, 5])
    age = np.array([30, 50, 60, 90, 5, 100])
    for t in (7.0, 28.0, 365.0):
        np.testing.assert_allclose(
            bgnbd_expected_purchases(params, x, t_x, age, t),
            closed_form_expected_purchases(params, x, t_x, age, t),
            rtol=1e-8,
        )
    # Several horizons at once; with no discount the steps add up to the whole horizon.
    both = bgnbd_expected_purchases(params, x, t_x, age, np.array([28.0, 365.0]))
    np.testing.assert_allclose(both[:, 1], closed_form_expected_purchases(params, x, t_x, age, 365))
    np.testing.assert_allclose(discounted_purchases(params, x, t_x, age, 365, 0.0), both[:, 1])
    discounted = discounted_purchases(params, x, t_x, age, 365, 0.1)
    assert np.all(discounted < both[:, 1]) and np.all(discounted > both[:, 1] / 1.1)


def test_bgnbd_expected_purchases_match_simulated_future_purchases() -> None:
    truth = BGNBDParams(r=0.8, alpha=20.0, a=0.9, b=3.0)
    age = np.random.default_rng(5).uniform(30, 120, 6_000)
    x, t_x, future = simulate_bgnbd(truth, age, seed=6)
    expected = bgnbd_expected_purchases(truth, x, t_x, age, float(HORIZON))
    assert expected.mean() == pytest.approx(future.mean(), rel=0.08)
    # Buyers expected to buy more do buy more.
    high = expected > np.quantile(expected, 0.8)
    assert future[high].mean() > 2 * future[~high].mean()


def simulate_gamma_gamma(params: GammaGammaParams, n: int, seed: int):
    rng = np.random.default_rng(seed)
    nu = rng.gamma(params.q, 1 / params.gamma, n)
    count = rng.integers(1, 8, n)
    spends = [rng.gamma(params.p, 1 / nu[i], count[i]) for i in range(n)]
    return count, np.array([s.mean() for s in spends]), params.p / nu


def test_gamma_gamma_fit_recovers_parameters_and_shrinks_to_the_mean() -> None:
    truth = GammaGammaParams(p=6.0, q=4.0, gamma=15.0)
    count, mean, true_mean = simulate_gamma_gamma(truth, 5_000, seed=7)
    fitted = fit_gamma_gamma(count, mean)
    assert fitted.p == pytest.approx(truth.p, rel=0.25)
    assert fitted.q == pytest.approx(truth.q, rel=0.25)
    assert fitted.mean_spend == pytest.approx(truth.mean_spend, rel=0.1)
    assert gamma_gamma_log_likelihood(fitted, count, mean) >= gamma_gamma_log_likelihood(
        truth, count, mean
    )
    posterior = gamma_gamma_expected_spend(fitted, count, mean)
    # Closer to the true spend than the raw means, and between them and the population mean.
    assert np.mean((posterior - true_mean) ** 2) < np.mean((mean - true_mean) ** 2)
    one = count == 1
    assert np.all(
        np.abs(posterior[one] - fitted.mean_spend) <= np.abs(mean[one] - fitted.mean_spend) + 1e-9
    )


def test_a_clv_fit_that_cannot_converge_says_why() -> None:
    with pytest.raises(FitFailed, match="at least two buyers with revenue"):
        fit_gamma_gamma(np.array([1, 2]), np.array([0.0, 0.0]))
    with pytest.raises(FitFailed, match="mean spends differ"):
        fit_gamma_gamma(np.array([1, 2, 3]), np.array([5.0, 5.0, 5.0]))
    one_day = pd.DataFrame(
        {
            "bgnbd_frequency": [0, 0, 0],
            "bgnbd_recency_days": [0, 0, 0],
            "bgnbd_age_days": [3, 9, 20],
            "purchase_days": [1, 1, 1],
            "past_revenue": [10.0, 20.0, 5.0],
        }
    )
    with pytest.raises(FitFailed, match="no repeat buyer"):
        fit_clv(one_day)


def test_clv_run_scores_every_buyer_at_d_and_is_backtested(snapshots, clv_run) -> None:
    _, labels = snapshots
    assert clv_run.status == "ok", clv_run.reason
    at_d = labels[(labels["as_of_date"] == DATES[-1]) & labels["in_churn_population"]]
    predictions = clv_run.predictions
    assert sorted(predictions["user_id"]) == sorted(at_d["user_id"])
    assert list(clv_run.prediction_names) == [
        "expected_purchases",
        "probability_alive",
        "expected_revenue",
        "clv",
    ]
    assert predictions["probability_alive"].between(0, 1).all()
    assert (predictions[["expected_purchases", "expected_revenue", "clv"]] >= 0).all().all()
    # Over a year the value exceeds the next H days' revenue.
    assert (predictions["clv"] >= predictions["expected_revenue"] - 1e-9).all()
    figures = {(m.model, m.metric) for m in clv_run.metrics}
    assert {("bg_nbd_gamma_gamma", "spearman"), ("past_revenue", "spearman"),
            ("bg_nbd_gamma_gamma", "top_10pct_revenue_capture"),
            ("past_revenue", "top_10pct_revenue_capture"),
            ("bg_nbd_gamma_gamma", "revenue_ratio")} <= figures  # fmt: skip
    assert {m.cutoff for m in clv_run.metrics} == set(DATES[1:5])
    assert "BG/NBD r=" in clv_run.details["parameters"]


def test_clv_skips_with_the_reason_when_the_fit_fails(snapshots) -> None:
    features, labels = snapshots
    one_day = labels.assign(bgnbd_frequency=0, bgnbd_recency_days=0, purchase_days=1)
    run = run_clv(make_source(features, one_day), FAST)
    assert run.status == "skipped" and "no repeat buyer" in run.reason
    assert run.predictions.empty and not run.metrics
    assert run.cutoffs and all("no repeat buyer" in r.reason for r in run.cutoffs)


def test_revenue_capture_of_the_top_tenth() -> None:
    realised = np.array([0, 0, 0, 0, 0, 0, 0, 0, 50, 50, 100.0])
    assert revenue_capture(np.arange(11.0), realised) == pytest.approx(150 / 200)  # top 2 rows
    assert revenue_capture(-np.arange(11.0), realised) == 0.0
    assert np.isnan(revenue_capture(np.arange(3.0), np.zeros(3)))


def test_score_clv_on_a_fitted_model() -> None:
    truth = BGNBDParams(r=0.8, alpha=20.0, a=0.9, b=3.0)
    age = np.random.default_rng(5).uniform(30, 120, 3_000)
    x, t_x, _ = simulate_bgnbd(truth, age, seed=8)
    buyers = pd.DataFrame(
        {
            "bgnbd_frequency": x,
            "bgnbd_recency_days": t_x,
            "bgnbd_age_days": age,
            "purchase_days": x + 1,
            "past_revenue": (x + 1) * np.random.default_rng(9).gamma(5.0, 10.0, len(x)),
        }
    )
    model = fit_clv(buyers)
    scored = score_clv(model, buyers, HORIZON, 365, 0.1)
    np.testing.assert_allclose(
        scored["expected_revenue"],
        scored["expected_purchases"]
        * gamma_gamma_expected_spend(model.spend, buyers["purchase_days"], buyers["past_revenue"]
                                     / buyers["purchase_days"]),
    )  # fmt: skip
    assert (scored["clv"] > scored["expected_revenue"]).all()


# ---- churn-risk segments ------------------------------------------------------------------


def test_model_segments_pick_the_likeliest_churners_among_high_value_buyers() -> None:
    user_id = np.arange(1, 11)
    p = np.array([0.95, 0.9, 0.85, 0.99, 0.5, 0.97, 0.81, 0.2, 0.96, 0.9])
    clv = np.array([100, 90, 80, 1, 500, 70, 60, 400, 2, 90.0])
    segment = model_segments(user_id, p, clv, share=0.2, high_band=0.8, high_value_share=0.5)
    # High value (top 5 by CLV): users 5, 8, 1, 2, 10 (2 and 10 tie at 90: by user_id).
    # In the high band among them: 1 (0.95), 2 (0.9), 10 (0.9); the top 2 of 10 buyers: 1, 2.
    assert list(np.flatnonzero(segment == "at_risk_high_value") + 1) == [1, 2]
    assert list(np.flatnonzero(segment == "at_risk") + 1) == [3, 4, 6, 7, 9, 10]
    assert list(np.flatnonzero(segment == "not_at_risk") + 1) == [5, 8]


def test_rule_at_risk_follows_customer_segments() -> None:
    frame = pd.DataFrame(
        {
            "user_id": [1, 2, 3, 4],
            "past_revenue": [400.0, 300.0, 200.0, 100.0],
            "days_since_last_purchase": [40, 10, 50, 60],
            "median_purchase_gap_days": [np.nan, 4.0, np.nan, 1.0],
        }
    )
    config = MLConfig(core_tier_share=0.5, at_risk_gap_multiplier=2)
    # Users 1, 2 are the top half by revenue; 1 lapsed (40 > 28), 2 by its gap (10 > 2 x 4).
    np.testing.assert_array_equal(rule_at_risk(frame, 28, config), [True, True, False, False])


def test_segment_figures_precision_beside_the_base_rate() -> None:
    members = np.array([True, True, False, False])
    churned = np.array([True, False, True, False])
    figures = segment_figures(members, churned, np.array([1.0, 2.0, 3.0, 4.0]))
    assert figures["users"] == 2 and figures["precision"] == 0.5
    assert figures["base_rate"] == 0.5 and figures["lift"] == 1.0
    assert figures["clv_at_risk"] == 3.0
    empty = segment_figures(np.zeros(4, bool), churned, np.zeros(4))
    assert empty["users"] == 0 and np.isnan(empty["precision"])


def test_churn_run_judges_the_segments_and_the_rule(churn_run) -> None:
    rows = pd.DataFrame(churn_run.segments)
    assert set(rows["cutoff"]) == set(DATES[2:5])  # the cutoffs with calibrated scores
    assert set(zip(rows["source"], rows["segment"], strict=True)) == {
        ("model", "at_risk_high_value"),
        ("model", "at_risk"),
        ("model", "not_at_risk"),
        ("rule", "at_risk_high_value"),
    }
    users = rows[(rows["figure"] == "users") & (rows["source"] == "model")]
    # The model segments partition the judged buyers.
    per_cutoff = users.groupby("cutoff")["value"].sum()
    judged = {r.date: r.figures["evaluation_rows"] for r in churn_run.cutoffs}
    assert all(per_cutoff[c] == judged[c] for c in per_cutoff.index)


# ML on a schedule (ml.plan.training_date, ml.store): refit only when the retraining grid moves.


def test_training_date_is_the_latest_retraining_grid_date() -> None:
    friday, sunday = dt.date(2019, 11, 1), dt.date(2019, 10, 27)
    assert training_date(friday, 7) == sunday
    assert training_date(sunday, 7) == sunday
    assert training_date(friday, 1) == friday
    fortnightly = training_date(friday, 14)
    assert 0 <= (friday - fortnightly).days < 14 and fortnightly.weekday() == 6
    plan = plan_backtest(DATES, HORIZON, LAST_DATE, LAST_DATE, 4, 3, retrain_every_days=7)
    assert plan.trained_through == training_date(LAST_DATE, 7) < LAST_DATE
    assert all(label_end(t, HORIZON) <= plan.trained_through for t in plan.labelled)
    # DATES[-2]'s window ends on D itself: labelled by D, not yet by the training date.
    assert DATES[-2] not in plan.labelled
    assert DATES[-2] in plan_backtest(DATES, HORIZON, LAST_DATE, LAST_DATE, 4, 3).labelled
    assert plan.score == LAST_DATE


def with_next_day(features: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """The data one day later: a snapshot at D + 1 (D's rows moved a day) and the last event
    date moved on; every earlier snapshot unchanged."""
    next_day = LAST_DATE + dt.timedelta(days=1)
    moved_features = features[features["as_of_date"] == LAST_DATE].assign(as_of_date=next_day)
    moved_labels = labels[labels["as_of_date"] == LAST_DATE].assign(as_of_date=next_day)
    return (
        pd.concat([features, moved_features], ignore_index=True),
        pd.concat([labels, moved_labels], ignore_index=True).assign(last_event_date=next_day),
    )


def keep_as_previous(source: SnapshotSource, run) -> str:
    """Store a run's long table the way dbt leaves the model's table for the next build."""
    source.con.register("previous_df", to_long_table(run))
    source.con.execute("create or replace table previous_run as select * from previous_df")
    return "previous_run"


def comparable(run) -> pd.DataFrame:
    """A run's long table without what differs between a reused and a fresh fit by design: the
    run's seconds and reuse flag, and the pickled state (its copy of the run names its D)."""
    table = to_long_table(run)
    bookkeeping = (table["record_type"] == "run") & table["name"].isin(
        ["seconds", "training_reused"]
    )
    pickled = (table["record_type"] == "state") & (table["name"] == "fitted_state")
    table = table[~bookkeeping & ~pickled].astype({"as_of_date": "str"})
    return table.sort_values(list(table.columns)).reset_index(drop=True)


@pytest.mark.parametrize("target", ["churn", "big_spender"])
def test_a_new_day_before_the_next_retraining_date_reuses_the_stored_models(
    snapshots, target
) -> None:
    first_source = make_source(*snapshots)
    first = run_target(first_source, target, WEEKLY)
    assert first.status == "ok" and first.details["training_reused"] == 0
    later = with_next_day(*snapshots)
    assert (
        str(training_date(LAST_DATE + dt.timedelta(days=1), 7)) == first.details["trained_through"]
    )
    source = make_source(*later)
    reused = run_target(source, target, WEEKLY, keep_as_previous(source, first))
    fresh = run_target(make_source(*later), target, WEEKLY)
    assert reused.details["training_reused"] == 1 and fresh.details["training_reused"] == 0
    assert (reused.predictions["as_of_date"] == LAST_DATE + dt.timedelta(days=1)).all()
    # The stored models score the new D exactly as a build from scratch would.
    pd.testing.assert_frame_equal(comparable(reused), comparable(fresh))


def test_any_change_to_what_the_models_saw_retrains(snapshots) -> None:
    source = make_source(*snapshots)
    first = run_target(source, "churn", WEEKLY)
    previous = keep_as_previous(source, first)
    assert run_target(source, "churn", WEEKLY, previous).details["training_reused"] == 1
    # Another setting, another target's table, or no stored table: fitted afresh.
    assert (
        run_target(source, "churn", replace(WEEKLY, seed=7), previous).details["training_reused"]
        == 0
    )
    assert run_target(source, "big_spender", WEEKLY, previous).details["training_reused"] == 0
    assert run_target(source, "churn", WEEKLY, "no_such_table").details["training_reused"] == 0
    # One label of a training snapshot corrected (a late file): fitted afresh.
    trained_on = first.details["train_snapshot_dates"].split(", ")[0]
    source.con.execute(
        "update labels set churned = not churned where user_id = ("
        "  select min(user_id) from labels where in_churn_population and as_of_date = ?"
        ") and as_of_date = ?",
        [trained_on, trained_on],
    )
    assert run_target(source, "churn", WEEKLY, previous).details["training_reused"] == 0
