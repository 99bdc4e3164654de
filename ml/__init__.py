"""Churn and big-spender prediction for the warehouse.

Plain functions called by the dbt Python models in models/ml/:

- `ml.data`: read one feature snapshot (features + SQL-built labels) from DuckDB.
- `ml.sampling`: seeded, stratified row samples (training cap, importance sample).
- `ml.pipelines`: the scikit-learn pipelines (gradient boosting; logistic regression beside it).
- `ml.baselines`: simple baselines (days since last purchase, BG/NBD, past revenue).
- `ml.evaluate`: metrics and permutation importance.
- `ml.train`: the out-of-time backtest and the production scoring, as one long table.
"""

from ml.config import MLConfig

__all__ = ["MLConfig"]
