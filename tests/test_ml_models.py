"""The ml tables written by `dbt build` (shared `built_warehouse`: 60k rows, 90 days, H = 14).

Snapshots D and five calendar-grid dates before D - H; the rolling backtest judges the latest
grid dates.

The models' quality on data with a known signal is tested in test_ml_package.py; here: the
tables' shape and consistency, labels against a pandas recount, and a degenerate horizon that
must degrade with a message instead of failing the build.
"""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml.plan import training_date
from tests.conftest import SMALL_VARS, query, query_df, run_dbt

HORIZON = 14
MODELS = {
    "churn": {
        "hist_gradient_boosting",
        "logistic_regression",
        "days_since_last_purchase",
        "bg_nbd",
    },
    "big_spender": {
        "hist_gradient_boosting",
        "logistic_regression",
        "clv_expected_revenue",
        "past_revenue",
    },
}
CLV_MODELS = {"bg_nbd_gamma_gamma", "past_revenue"}
BASELINES = {"days_since_last_purchase", "bg_nbd", "past_revenue"}
METRICS = {
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "precision_at_10pct",
    "precision_at_20pct",
    "lift_at_10pct",
    "expected_calibration_error",
    "positives",
    "population",
}


@pytest.fixture(scope="module")
def runs(built_warehouse) -> pd.DataFrame:
    return query_df(built_warehouse.path, "select * from ml.model_runs").set_index("target")


@pytest.fixture(scope="module")
def prediction_date(built_warehouse) -> dt.date:
    [(last,)] = query(
        built_warehouse.path, "select max(event_date) from intermediate.int_user_days"
    )
    return last


def labelled_snapshot_dates(built_warehouse, observed_by: dt.date) -> list[pd.Timestamp]:
    """The stored snapshot dates whose label window (T, T + H] ends by `observed_by`, ascending."""
    dates = query_df(
        built_warehouse.path,
        "select distinct as_of_date from intermediate.int_customer_feature_snapshots order by 1",
    )["as_of_date"]
    d, h = pd.Timestamp(observed_by), pd.Timedelta(days=HORIZON)
    return [pd.Timestamp(t) for t in dates if pd.Timestamp(t) + h <= d]


def test_every_run_completed_on_the_rolling_cutoffs(built_warehouse, runs, prediction_date) -> None:
    assert set(runs.index) == {*MODELS, "clv"}
    d = pd.Timestamp(prediction_date)
    # The classifiers learn from the labels observed by E, the latest date of the weekly
    # retraining grid on or before D (ml.plan.training_date); the CLV model by D itself.
    trained_through = training_date(prediction_date, 7)
    for target, run in runs.iterrows():
        assert run["status"] == "ok", (target, run["reason"])
        assert run["horizon_days"] == HORIZON
        assert pd.Timestamp(run["prediction_as_of_date"]) == d
        observed_by = prediction_date if target == "clv" else trained_through
        labelled = labelled_snapshot_dates(built_warehouse, observed_by)
        # The latest cutoff is the latest snapshot whose label window is observed.
        assert pd.Timestamp(run["last_cutoff_date"]) == labelled[-1]
        assert run["cutoff_count"] + run["skipped_cutoff_count"] == 4
        # D - 4H has no training snapshot with 28 days of data; on this small data set a
        # cutoff can also have too few big spenders to be judged (skipped, with the reason).
        assert run["cutoff_count"] >= 2
    labelled = labelled_snapshot_dates(built_warehouse, trained_through)
    for target in MODELS:
        run = runs.loc[target]
        assert pd.Timestamp(run["trained_through"]) == pd.Timestamp(trained_through)
        # The production model is trained on the latest three labelled snapshots.
        assert run["train_snapshot_dates"] == ", ".join(str(t.date()) for t in labelled[-3:])
        assert run["train_rows"] <= run["train_population"]
        assert run["calibration_method"] == "platt"
        assert run["calibration_rows"] == run["evaluation_rows"]


def test_backtest_cutoffs_train_only_on_labels_ended_by_the_cutoff(built_warehouse) -> None:
    cutoffs = query_df(built_warehouse.path, "select * from ml.backtest_cutoffs")
    assert set(cutoffs["target"]) == {*MODELS, "clv"}
    h = pd.Timedelta(days=HORIZON)
    for row in cutoffs[cutoffs["status"] == "ok"].itertuples():
        assert pd.Timestamp(row.label_window_end) == pd.Timestamp(row.cutoff_date) + h
        for text in filter(None, (row.train_snapshot_dates or "").split(", ")):
            assert pd.Timestamp(text) + h <= pd.Timestamp(row.cutoff_date)
        if row.target in MODELS:
            assert row.train_snapshot_dates and row.train_rows <= row.train_population
    skipped = cutoffs[cutoffs["status"] == "skipped"]
    assert skipped["reason"].str.len().gt(0).all()


@pytest.mark.parametrize(
    ("table", "population", "probability"),
    [
        ("churn_predictions", "in_churn_population", "churn_probability"),
        ("big_spender_predictions", "in_big_spender_population", "big_spender_probability"),
    ],
)
def test_one_prediction_per_user_of_the_population_at_d(
    built_warehouse, runs, prediction_date, table: str, population: str, probability: str
) -> None:
    predictions = query_df(built_warehouse.path, f"select * from ml.{table}")
    expected = query_df(
        built_warehouse.path,
        f"select user_id from ml.ml_snapshot_labels "
        f"where {population} and as_of_date = date '{prediction_date}'",
    )
    assert len(predictions) > 0
    assert predictions["user_id"].is_unique
    assert set(predictions["user_id"]) == set(expected["user_id"])
    assert set(pd.to_datetime(predictions["as_of_date"]).dt.date) == {prediction_date}
    assert predictions[probability].between(0, 1).all()
    assert predictions[probability].nunique() > 1
    target = table.removesuffix("_predictions")
    assert runs.loc[target, "scored_rows"] == len(predictions)


def test_big_spender_population_is_everyone_seen_by_d(built_warehouse, prediction_date) -> None:
    [(seen,)] = query(
        built_warehouse.path,
        "select count(distinct user_id) from intermediate.int_user_days "
        f"where event_date <= date '{prediction_date}'",
    )
    [(scored,)] = query(built_warehouse.path, "select count(*) from ml.big_spender_predictions")
    assert scored == seen


def test_big_spender_rank_orders_by_probability(built_warehouse) -> None:
    ranked = query_df(
        built_warehouse.path, "select * from ml.big_spender_predictions order by rank"
    )
    assert list(ranked["rank"]) == list(range(1, len(ranked) + 1))
    assert ranked["big_spender_probability"].is_monotonic_decreasing


def test_churn_risk_band_follows_the_probability(built_warehouse) -> None:
    bands = query_df(
        built_warehouse.path,
        "select churn_risk_band, min(churn_probability) as lo, max(churn_probability) as hi "
        "from ml.churn_predictions group by 1",
    ).set_index("churn_risk_band")
    assert set(bands.index) <= {"high", "medium", "low"}
    assert bands["lo"].get("high", 1.0) >= 0.8 and bands["hi"].get("low", 0.0) < 0.5


def test_metrics_for_every_model_and_baseline_per_cutoff_with_mean_and_spread(
    built_warehouse, runs
) -> None:
    metrics = query_df(built_warehouse.path, "select * from ml.model_metrics")
    raw = metrics[metrics["evaluation"] == "backtest"]
    per_cutoff = raw[raw["statistic"] == "cutoff"]
    for target, models in MODELS.items():
        rows = per_cutoff[per_cutoff["target"] == target]
        cutoffs = set(rows["cutoff_date"])
        assert len(cutoffs) == runs.loc[target, "cutoff_count"]
        expected = {(m, c, k) for m in models for c in cutoffs for k in METRICS}
        assert set(zip(rows["model"], rows["cutoff_date"], rows["metric"], strict=True)) == expected
        assert len(rows) == len(expected)
        assert (rows["is_baseline"] == rows["model"].isin(BASELINES)).all()
        population = rows[rows["metric"] == "population"].groupby("model")["value"].sum()
        assert (population == runs.loc[target, "evaluation_rows"]).all()
        auc = rows[rows["metric"] == "roc_auc"]["value"]
        assert auc.between(0, 1).all()
        # The mean and the sample standard deviation of every figure over the cutoffs.
        summary = raw[(raw["target"] == target) & (raw["statistic"] != "cutoff")]
        assert summary["cutoff_date"].isna().all()
        for (model, metric_name), group in rows.groupby(["model", "metric"]):
            stats = summary[(summary["model"] == model) & (summary["metric"] == metric_name)]
            stats = stats.set_index("statistic")
            assert stats.loc["mean", "value"] == pytest.approx(group["value"].mean())
            assert stats.loc["std", "value"] == pytest.approx(group["value"].std(ddof=1))
            assert stats.loc["mean", "cutoffs"] == len(group)
    # The champion's calibrated scores, at every cutoff with an earlier judged cutoff whose label
    # window had ended by it (the calibrator's rows); none where no such cutoff exists.
    calibrated = metrics[metrics["evaluation"] == "backtest_calibrated"]
    judged = raw[(raw["statistic"] == "cutoff") & (raw["metric"] == "roc_auc")]
    h = pd.Timedelta(days=HORIZON)
    exercised = 0
    for target in MODELS:
        rows = calibrated[(calibrated["target"] == target) & (calibrated["statistic"] == "cutoff")]
        cutoffs = sorted(set(judged[judged["target"] == target]["cutoff_date"]))
        expected = {c for c in cutoffs if any(e + h <= c for e in cutoffs)}
        assert set(rows["cutoff_date"]) == expected
        if not expected:
            continue
        exercised += 1
        assert set(rows["model"]) == {runs.loc[target, "champion_model"]}
        assert {"brier", "log_loss", "roc_auc", "expected_calibration_error"} <= set(rows["metric"])
    assert exercised, "no target had a cutoff to calibrate: the test data is too short"


def test_clv_is_backtested_against_realised_revenue_beside_past_revenue(
    built_warehouse, runs
) -> None:
    metrics = query_df(
        built_warehouse.path,
        "select * from ml.model_metrics where target = 'clv' and statistic = 'cutoff'",
    )
    assert set(metrics["model"]) == CLV_MODELS
    assert len(set(metrics["cutoff_date"])) == runs.loc["clv", "cutoff_count"]
    assert set(metrics["metric"]) == {
        "spearman",
        "top_10pct_revenue_capture",
        "revenue_ratio",
        "population",
    }
    assert set(metrics.loc[metrics["metric"] == "revenue_ratio", "model"]) == {"bg_nbd_gamma_gamma"}
    capture = metrics[metrics["metric"] == "top_10pct_revenue_capture"]["value"]
    assert capture.between(0, 1).all()


def test_importance_for_every_feature_of_both_models(built_warehouse) -> None:
    columns = query_df(built_warehouse.path, "describe intermediate.int_customer_feature_snapshots")
    numeric = columns[
        ~columns["column_name"].isin(["user_id", "as_of_date"])
        & columns["column_type"].str.match(r"(BIGINT|INTEGER|DOUBLE|FLOAT|DECIMAL|BOOLEAN|HUGEINT)")
    ]["column_name"]
    importance = query_df(built_warehouse.path, "select * from ml.feature_importance")
    for target in MODELS:
        for model in ("hist_gradient_boosting", "logistic_regression"):
            rows = importance[(importance["target"] == target) & (importance["model"] == model)]
            assert set(rows["feature"]) == set(numeric)
            assert rows["importance"].abs().max() > 0


def recount_labels(
    user_days: pd.DataFrame, as_of: pd.Timestamp, last: pd.Timestamp
) -> pd.DataFrame:
    """The labels of one snapshot, recomputed in pandas from int_user_days."""
    end = as_of + pd.Timedelta(days=HORIZON)
    past = user_days[user_days["event_date"] <= as_of]
    future = user_days[(user_days["event_date"] > as_of) & (user_days["event_date"] <= end)]
    users = past.groupby("user_id").agg(past_purchases=("purchases", "sum"))
    ahead = future.groupby("user_id").agg(
        future_purchases=("purchases", "sum"), future_revenue=("revenue", "sum")
    )
    frame = users.join(ahead).fillna({"future_purchases": 0, "future_revenue": 0.0})
    observed = end <= last
    positive = frame.loc[frame["future_revenue"] > 0, "future_revenue"]
    line = np.quantile(positive, 0.8) if len(positive) else np.inf
    frame["in_churn_population"] = frame["past_purchases"] > 0
    frame["churned"] = np.where(
        frame["in_churn_population"] & observed, frame["future_purchases"] == 0, None
    )
    frame["is_big_spender"] = (frame["future_revenue"] > 0) & (frame["future_revenue"] >= line)
    return frame


def test_labels_match_a_pandas_recount_of_user_days(built_warehouse) -> None:
    user_days = query_df(
        built_warehouse.path,
        "select user_id, event_date, purchases, revenue from intermediate.int_user_days",
    )
    user_days["event_date"] = pd.to_datetime(user_days["event_date"])
    last = user_days["event_date"].max()
    labels = query_df(built_warehouse.path, "select * from ml.ml_snapshot_labels")
    labels["as_of_date"] = pd.to_datetime(labels["as_of_date"])
    observed_dates = 0
    for as_of, got in labels.groupby("as_of_date"):
        want = recount_labels(user_days, as_of, last)
        got = got.set_index("user_id").sort_index()
        assert list(got.index) == list(want.index)
        assert (got["in_churn_population"] == want["in_churn_population"]).all()
        if not got["label_window_observed"].iloc[0]:
            assert got["churned"].isna().all() and got["is_big_spender"].isna().all()
            continue
        observed_dates += 1
        np.testing.assert_allclose(got["future_revenue"], want["future_revenue"], atol=1e-6)
        buyers = want["in_churn_population"]
        assert (got.loc[buyers, "churned"] == want.loc[buyers, "churned"].astype(bool)).all()
        assert got.loc[~buyers, "churned"].isna().all()
        assert (got["is_big_spender"] == want["is_big_spender"]).all()
        assert got["is_big_spender"].any()
    assert observed_dates == 5  # the five grid dates; D itself has no observed window


def test_revenue_at_risk_reconciles_with_the_predictions(built_warehouse) -> None:
    [(users, risk, recent, mart_users, mart_risk, mart_recent, share)] = query(
        built_warehouse.path,
        """
        with p as (
            select count(*) as users, sum(l.recent_revenue * p.churn_probability) as risk,
                sum(l.recent_revenue) as recent
            from ml.churn_predictions as p
            inner join ml.ml_snapshot_labels as l using (user_id, as_of_date)
        ),
        m as (
            select sum(users) as users, sum(expected_revenue_at_risk) as risk,
                sum(recent_revenue) as recent, sum(share_of_expected_revenue_at_risk) as share
            from marts.revenue_at_risk
        )
        select p.users, p.risk, p.recent, m.users, m.risk, m.recent, m.share from p, m
        """,
    )
    assert mart_users == users > 0
    assert mart_risk == pytest.approx(risk) and mart_recent == pytest.approx(recent)
    assert 0 < mart_risk <= mart_recent
    assert share == pytest.approx(1.0)


def test_a_horizon_too_long_for_the_data_degrades_with_a_message(built_warehouse, tmp_path) -> None:
    """90 days of data cannot hold D - 2H with H = 60: the build succeeds with empty prediction
    tables, the reason in ml.model_runs and a warning in the log (one extra dbt invocation)."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse.path, copy)
    res = run_dbt(
        [
            "build",
            "--select",
            "int_customer_feature_snapshots",
            "ml_snapshot_labels+",
            "--vars",
            "{churn_horizon_days: 60}",
        ],
        events_path=built_warehouse.events_glob,
        warehouse_path=copy,
        workdir=tmp_path,
    )
    assert res.ok, res.output[-5000:]
    assert "too few snapshots for a 60-day horizon" in res.output
    assert "WARN" in res.output and "ml_run_completed" in res.output
    runs = query_df(copy, "select target, status, reason from ml.model_runs where target <> 'clv'")
    assert set(runs["status"]) == {"skipped"}
    assert runs["reason"].str.contains("too few snapshots for a 60-day horizon").all()
    for table in ("churn_predictions", "big_spender_predictions", "model_calibration"):
        assert query(copy, f"select count(*) from ml.{table}") == [(0,)]
    assert query(copy, "select count(*) from ml.model_metrics where target <> 'clv'") == [(0,)]
    assert query(copy, "select count(*) from marts.revenue_at_risk") == [(0,)]
    # Without the churn model the risk segments fall back to customer_segments' rule.
    sources = query(copy, "select distinct segment_source from marts.customer_churn_risk")
    assert sources == [("rule",)]
    [(flagged, rule)] = query(
        copy,
        "select count(*) filter (where r.risk_segment = 'at_risk_high_value'), "
        "count(*) filter (where s.is_at_risk_high_value) "
        "from marts.customer_churn_risk as r join marts.customer_segments as s using (user_id)",
    )
    assert flagged == rule


def test_the_backtest_winner_is_the_champion(built_warehouse, runs) -> None:
    metrics = query_df(
        built_warehouse.path,
        "select target, model, is_baseline, value as roc_auc from ml.model_metrics "
        "where evaluation = 'backtest' and metric = 'roc_auc' and statistic = 'mean'",
    )
    for target in MODELS:
        run = runs.loc[target]
        aucs = metrics[metrics["target"] == target].set_index("model")["roc_auc"]
        assert set(aucs.index) == MODELS[target]
        assert run["champion_roc_auc"] == pytest.approx(aucs.max(), abs=1e-12)
        assert aucs[run["champion_model"]] == pytest.approx(aucs.max(), abs=1e-12)
        assert run["champion_is_baseline"] == (run["champion_model"] in BASELINES)
        assert run["champion_margin_roc_auc"] >= 0
        baselines = aucs[aucs.index.isin(BASELINES)]
        assert run["best_baseline_roc_auc"] == pytest.approx(baselines.max(), abs=1e-12)
        assert run["champion_roc_auc"] >= run["best_baseline_roc_auc"]
        assert run["champion_margin_over_baseline_roc_auc"] == pytest.approx(
            run["champion_roc_auc"] - run["best_baseline_roc_auc"], abs=1e-12
        )


def test_calibration_table_reconciles_with_the_metrics(built_warehouse) -> None:
    table = query_df(built_warehouse.path, "select * from ml.model_calibration")
    metrics = query_df(
        built_warehouse.path,
        "select target, model, evaluation, cutoff_date, metric, value from ml.model_metrics "
        "where statistic = 'cutoff' and target <> 'clv'",
    ).pivot_table(
        index=["target", "model", "evaluation", "cutoff_date"], columns="metric", values="value"
    )
    keys = ["target", "model", "evaluation", "cutoff_date"]
    assert set(map(tuple, table[keys].drop_duplicates().to_numpy())) == set(metrics.index)
    assert set(table["evaluation"]) == {"backtest", "backtest_calibrated"}
    for key, rows in table.groupby(keys):
        figures = metrics.loc[key]
        # Every judged user is in exactly one bin; the positives add up.
        assert rows["users"].sum() == figures["population"]
        assert (rows["users"] * rows["observed_rate"]).sum() == pytest.approx(figures["positives"])
        assert (rows["mean_predicted"] >= rows["bin_low"] - 1e-9).all()
        assert (rows["mean_predicted"] <= rows["bin_high"] + 1e-9).all()
        ece = (rows["calibration_gap"].abs() * rows["users"]).sum() / rows["users"].sum()
        assert ece == pytest.approx(figures["expected_calibration_error"], abs=1e-9)


def test_customer_lifetime_value_for_every_buyer_at_d(built_warehouse, prediction_date) -> None:
    clv = query_df(built_warehouse.path, "select * from ml.customer_lifetime_value")
    buyers = query_df(
        built_warehouse.path,
        "select user_id from ml.ml_snapshot_labels "
        f"where in_churn_population and as_of_date = date '{prediction_date}'",
    )
    assert set(clv["user_id"]) == set(buyers["user_id"]) and clv["user_id"].is_unique
    assert (pd.to_datetime(clv["as_of_date"]).dt.date == prediction_date).all()
    assert clv["probability_alive"].between(0, 1).all()
    assert (clv[["expected_purchases", "expected_revenue", "clv"]] >= 0).all().all()
    assert (clv["clv"] >= clv["expected_revenue"] - 1e-9).all()
    assert clv["clv"].nunique() > 1


def test_risk_segments_follow_the_documented_rule(built_warehouse) -> None:
    """marts.customer_churn_risk, recomputed in pandas from the two ML tables."""
    risk = query_df(built_warehouse.path, "select * from marts.customer_churn_risk")
    assert set(risk["segment_source"]) == {"model"}
    frame = query_df(
        built_warehouse.path,
        "select p.user_id, p.churn_probability, c.clv from ml.churn_predictions as p "
        "join ml.customer_lifetime_value as c using (user_id, as_of_date)",
    )
    from ml.segments import model_segments

    frame["expected"] = model_segments(
        frame["user_id"].to_numpy(),
        frame["churn_probability"].to_numpy(),
        frame["clv"].to_numpy(),
        share=0.1,
        high_band=0.8,
        high_value_share=0.5,
    )
    merged = risk.merge(frame, on="user_id")
    assert len(merged) == len(risk) == len(frame)
    assert (merged["risk_segment"] == merged["expected"]).all()
    assert merged["clv_at_risk"].to_numpy() == pytest.approx(
        (merged["churn_probability_x"] * merged["clv_x"]).to_numpy()
    )
    segments = query_df(built_warehouse.path, "select * from marts.churn_risk_segments")
    active = segments[segments["is_active"]]
    assert active["users"].sum() == len(risk)
    top = active.set_index("segment").loc["at_risk_high_value"]
    assert top["users"] == (risk["risk_segment"] == "at_risk_high_value").sum()
    assert 0 < top["user_share"] <= 0.1 + 1 / len(risk)
    assert 0 <= top["backtest_precision"] <= 1 and top["backtest_cutoffs"] >= 1
    rule = segments[(segments["source"] == "rule")].iloc[0]
    assert rule["users"] == risk["rule_at_risk_high_value"].sum() and not rule["is_active"]


def test_a_rebuild_with_nothing_new_reuses_the_models_and_changes_no_table(
    built_warehouse, tmp_path
) -> None:
    """ML on a schedule, end to end: the next build reads the fitted models back from the
    training tables and scores D with them; every ml table comes out the same."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse.path, copy)
    res = run_dbt(
        ["build", "--select", "ml_churn_training+", "ml_big_spender_training+"]
        + ["--vars", SMALL_VARS],
        events_path=built_warehouse.events_glob,
        warehouse_path=copy,
        workdir=tmp_path,
    )
    assert res.ok, res.output[-5000:]
    assert "reusing the stored" in res.output
    reused = query(copy, "select target from ml.model_runs where training_reused order by 1")
    assert reused == [("big_spender",), ("churn",)]
    con = duckdb.connect(str(copy), read_only=True)
    try:
        con.execute(f"attach '{built_warehouse.path}' as before (read_only)")
        tables = [
            "churn_predictions",
            "big_spender_predictions",
            "model_metrics",
            "model_calibration",
            "feature_importance",
            "backtest_cutoffs",
            "churn_segment_backtest",
        ]
        for table in tables:
            for a, b in (
                (f"ml.{table}", f"before.ml.{table}"),
                (f"before.ml.{table}", f"ml.{table}"),
            ):
                assert con.execute(
                    f"select count(*) from (from {a} except all from {b})"
                ).fetchone() == (0,), table
        runs = "select * exclude (seconds, training_reused) from {}ml.model_runs"
        assert con.execute(
            f"select count(*) from ({runs.format('')} except all {runs.format('before.')})"
        ).fetchone() == (0,)
    finally:
        con.close()
