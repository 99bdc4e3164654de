"""Churn: backtest (train D - 2H, judge D - H), refit on D - H, score the buyers at D.

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
    }
    features = dbt.ref("int_customer_feature_snapshots")
    labels = dbt.ref("ml_snapshot_labels")
    return dbt_model(session, "churn", features, labels, settings)
