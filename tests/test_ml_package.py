"""The ml/ package on synthetic snapshots whose signal is known (no dbt, a few seconds)."""

from __future__ import annotations

import datetime as dt

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
from ml.champion import choose_champion
from ml.config import MLConfig
from ml.data import (
    TARGETS,
    SnapshotSource,
    feature_columns,
    iter_features,
    load_features,
    population,
)
from ml.evaluate import (
    METRIC_NAMES,
    classification_metrics,
    lift_at,
    permutation_importances,
    precision_at,
    rank_auc,
)
from ml.pipelines import MeanImputer, input_positions, make_pipeline
from ml.sampling import (
    balanced_sample,
    case_control_sample,
    log_odds_shift,
    stratified_sample,
)
from ml.train import (
    DegenerateData,
    fit_models,
    load_training_sample,
    plan_snapshots,
    run_target,
    to_long_relation,
    to_long_table,
)

HORIZON = 14
LAST_DATE = dt.date(2020, 1, 31)
DATES = [LAST_DATE - dt.timedelta(days=HORIZON * k) for k in (2, 1, 0)]
FAST = MLConfig(
    horizon_days=HORIZON,
    train_sample_rows=3_000,
    importance_sample_rows=600,
    importance_repeats=2,
    chunk_rows=2_048,
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def synthetic_snapshots(n_users: int = 4_000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and labels for three snapshots, H days apart.

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
        labels.append(
            pd.DataFrame(
                {
                    "user_id": np.arange(1, n_users + 1, dtype=np.int64),
                    "as_of_date": as_of,
                    "last_event_date": LAST_DATE,
                    "in_churn_population": buyer,
                    "in_big_spender_population": True,
                    "churned": pd.array(churned if observed else [None] * n_users, "boolean"),
                    "is_big_spender": pd.array(big if observed else [None] * n_users, "boolean"),
                    "days_since_last_purchase": np.exp(
                        2.5 - 0.3 * loyalty + rng.normal(0, 1.0, n_users)
                    ).round(),
                    "bgnbd_frequency": rng.poisson(np.exp(0.3 * activity)),
                    "bgnbd_recency_days": recency,
                    "bgnbd_age_days": age,
                    "past_revenue": np.exp(4 + 0.4 * spend + rng.normal(0, 1.0, n_users)),
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


def metric(run, model: str, name: str) -> float:
    values = [v for m, _, n, v in run.metrics if m == model and n == name]
    assert len(values) == 1, (model, name, run.metrics)
    return values[0]


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
    aucs = {m: v for m, _, n, v in big_spender_run.metrics if n == "roc_auc"}
    assert big_spender_run.model == max(aucs, key=aucs.get)
    assert big_spender_run.details["champion_model"] == big_spender_run.model
    table = to_long_table(big_spender_run)
    assert set(table.loc[table["record_type"] == "prediction", "model"]) == {big_spender_run.model}


def test_a_baseline_that_wins_the_backtest_writes_the_predictions(snapshots) -> None:
    # Features that carry no signal: no model can beat past revenue out of time.
    features, labels = snapshots
    rng = np.random.default_rng(11)
    noise = features[["user_id", "as_of_date"]].assign(
        **{f"noise_{i}": rng.normal(size=len(features)) for i in range(3)}
    )
    run = run_target(make_source(noise, labels), "big_spender", FAST)
    assert run.status == "ok", run.reason
    assert run.model == "past_revenue"
    assert run.details["champion_is_baseline"] == 1
    assert run.details["champion_roc_auc"] == metric(run, "past_revenue", "roc_auc")
    at_d = labels[(labels["as_of_date"] == DATES[-1]) & labels["in_big_spender_population"]]
    assert sorted(run.predictions["user_id"]) == sorted(at_d["user_id"])
    assert run.predictions["probability"].between(0, 1).all()
    # The baseline's scores rank users by past revenue at D.
    revenue = at_d.set_index("user_id")["past_revenue"]
    scored = run.predictions.set_index("user_id")["probability"]
    assert scored.corr(revenue.loc[scored.index], method="spearman") == pytest.approx(1.0)


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
        assert metric(big_spender_run, model, "roc_auc") > metric(
            big_spender_run, "past_revenue", "roc_auc"
        )


def test_every_model_and_baseline_has_every_metric(churn_run, big_spender_run) -> None:
    for run, models in (
        (churn_run, {"hist_gradient_boosting", "logistic_regression", "days_since_last_purchase",
                     "bg_nbd"}),
        (big_spender_run, {"hist_gradient_boosting", "logistic_regression", "past_revenue"}),
    ):  # fmt: skip
        assert {(m, n) for m, _, n, _ in run.metrics} == {
            (m, n) for m in models for n in METRIC_NAMES
        }
        baselines = {m for m, is_baseline, _, _ in run.metrics if is_baseline}
        assert baselines == models - {"hist_gradient_boosting", "logistic_regression"}


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


def test_training_rows_at_t_ignore_everything_after_t(snapshots) -> None:
    """Leakage: rewriting every later snapshot (features and labels) changes nothing at T."""
    features, labels = snapshots
    plan = plan_snapshots(DATES, HORIZON, None)
    later_f = features["as_of_date"] > plan.train
    later_l = labels["as_of_date"] > plan.train
    rng = np.random.default_rng(99)
    changed_f = features.copy()
    changed_f.loc[later_f, "loyalty_signal"] = rng.normal(size=int(later_f.sum())) * 100
    changed_l = labels.copy()
    changed_l.loc[later_l, "churned"] = ~changed_l.loc[later_l, "churned"].fillna(False)
    changed_l.loc[later_l, "days_since_last_purchase"] = 0.0
    spec = TARGETS["churn"]

    frames = []
    for source in (make_source(features, labels), make_source(changed_f, changed_l)):
        train = population(source, spec, plan.train)
        columns = feature_columns(source)
        matrix = load_features(source, columns, plan.train, train["user_id"].to_numpy())
        sample = load_training_sample(source, columns, train, plan.train, FAST)
        pipeline = fit_models(("hist_gradient_boosting",), sample, FAST.seed)[
            "hist_gradient_boosting"
        ]
        frames.append((train, matrix, pipeline.predict_proba(np.nan_to_num(matrix))[:, 1]))
    pd.testing.assert_frame_equal(frames[0][0], frames[1][0])
    np.testing.assert_array_equal(frames[0][1], frames[1][1])
    np.testing.assert_array_equal(frames[0][2], frames[1][2])


def test_too_few_snapshots_for_the_horizon_is_a_skipped_run(snapshots) -> None:
    features, labels = snapshots
    keep = features["as_of_date"] >= DATES[1]
    run = run_target(make_source(features[keep], labels), "churn", FAST)
    assert run.status == "skipped"
    assert "too few snapshots" in run.reason and str(DATES[0]) in run.reason
    assert run.predictions.empty and not run.metrics


def test_one_class_label_is_a_skipped_run(snapshots) -> None:
    features, labels = snapshots
    one_class = labels.assign(churned=labels["churned"].where(labels["churned"].isna(), True))
    run = run_target(make_source(features, one_class), "churn", FAST)
    assert run.status == "skipped" and "one-class label" in run.reason


def test_tiny_population_is_a_skipped_run(snapshots) -> None:
    features, labels = snapshots
    few = labels[labels["user_id"] <= 30]
    run = run_target(make_source(features, few), "big_spender", FAST)
    assert run.status == "skipped" and "tiny population" in run.reason


def test_unobserved_backtest_window_is_a_skipped_run(snapshots) -> None:
    features, labels = snapshots
    early = labels.assign(last_event_date=DATES[-1] - dt.timedelta(days=1))
    config = MLConfig(**{**FAST.__dict__, "prediction_date": DATES[-1]})
    run = run_target(make_source(features, early), "churn", config)
    assert run.status == "skipped"
    assert "ends after the last event date" in run.reason


def test_long_table_of_a_skipped_run_has_the_reason_and_no_rows(snapshots) -> None:
    features, labels = snapshots
    run = run_target(make_source(features.iloc[0:0], labels), "churn", FAST)
    table = to_long_table(run)
    assert set(table["record_type"]) == {"run"}
    attributes = dict(zip(table["name"], table["text"], strict=True))
    assert attributes["status"] == "skipped" and "no snapshot" in attributes["reason"]


def test_long_table_types_are_stable(churn_run) -> None:
    table = to_long_table(churn_run)
    assert set(table["record_type"]) == {"prediction", "metric", "importance", "calibration", "run"}
    assert str(table["user_id"].dtype) == "Int64"
    assert table.loc[table["record_type"] == "prediction", "value"].between(0, 1).all()


def test_long_relation_for_dbt_equals_the_long_table(snapshots, churn_run) -> None:
    features, labels = snapshots
    skipped = run_target(make_source(features.iloc[0:0], labels), "churn", FAST)
    con = duckdb.connect()
    for run in (churn_run, skipped):
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


def test_plan_snapshots_uses_prediction_date_or_latest() -> None:
    plan = plan_snapshots(DATES, HORIZON, None)
    assert (plan.train, plan.evaluate, plan.score) == tuple(DATES)
    with pytest.raises(DegenerateData, match="too few snapshots"):
        plan_snapshots(DATES, HORIZON, DATES[-1] - dt.timedelta(days=1))


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
