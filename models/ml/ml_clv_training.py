"""Customer lifetime value: BG/NBD x Gamma-Gamma at D for every buyer, backtested on the cutoffs.

All the work is in ml/lifetime_value.py. The result is one long table (the four figures per
buyer, backtest metrics, cutoffs, run attributes) that the SQL models customer_lifetime_value,
model_metrics, backtest_cutoffs and model_runs split.
dbt reads dbt.ref() and dbt.config.meta_get() calls from this file: keep them here, literal.
"""

from ml.lifetime_value import dbt_model


def model(dbt, session):
    dbt.config(materialized="table")
    settings = {
        "horizon_days": dbt.config.meta_get("horizon_days"),
        "prediction_date": dbt.config.meta_get("prediction_date"),
        "backtest_cutoffs": dbt.config.meta_get("backtest_cutoffs"),
        "clv_horizon_days": dbt.config.meta_get("clv_horizon_days"),
        "clv_annual_discount_rate": dbt.config.meta_get("clv_annual_discount_rate"),
        "seed": dbt.config.meta_get("seed"),
    }
    labels = dbt.ref("ml_snapshot_labels")
    return dbt_model(session, labels, settings)
