"""Churn: rolling backtest, champion, calibration, refit on the latest labelled snapshots, score
the buyers at D, and the risk segments' backtest.

All the work is in ml/train.py. The result is one long table (predictions, metrics, feature
importance, run attributes) that the SQL models churn_predictions, model_metrics,
feature_importance and model_runs split, so the model is trained once per build.
dbt reads dbt.ref() and dbt.config.meta_get() calls from this file: keep them here, literal.
"""

from ml.train import dbt_model


def model(dbt, session):
    dbt.config(materialized="table")
    settings = {
        "horizon_days": dbt.config.meta_get("horizon_days"),
        "prediction_date": dbt.config.meta_get("prediction_date"),
        "train_sample_rows": dbt.config.meta_get("train_sample_rows"),
        "majority_ratio": dbt.config.meta_get("majority_ratio"),
        "eval_sample_rows": dbt.config.meta_get("eval_sample_rows"),
        "seed": dbt.config.meta_get("seed"),
        "backtest_cutoffs": dbt.config.meta_get("backtest_cutoffs"),
        "train_snapshots": dbt.config.meta_get("train_snapshots"),
        "min_history_days": dbt.config.meta_get("min_history_days"),
        "retrain_every_days": dbt.config.meta_get("retrain_every_days"),
        "calibration_method": dbt.config.meta_get("calibration_method"),
        "clv_horizon_days": dbt.config.meta_get("clv_horizon_days"),
        "clv_annual_discount_rate": dbt.config.meta_get("clv_annual_discount_rate"),
        "risk_segment_share": dbt.config.meta_get("risk_segment_share"),
        "churn_risk_band_high": dbt.config.meta_get("churn_risk_band_high"),
        "at_risk_gap_multiplier": dbt.config.meta_get("at_risk_gap_multiplier"),
        "core_tier_share": dbt.config.meta_get("core_tier_share"),
    }
    features = dbt.ref("int_customer_feature_snapshots")
    labels = dbt.ref("ml_snapshot_labels")
    # The previous build's table: its fitted models are reused while nothing they saw changed.
    return dbt_model(session, "churn", features, labels, settings, str(dbt.this))
