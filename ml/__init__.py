"""Churn, big-spender and customer-lifetime-value prediction for the warehouse.

Plain functions called by the dbt Python models in models/ml/:

- `ml.data`: read one snapshot (features + SQL-built labels) from DuckDB.
- `ml.plan`: the rolling-origin backtest's cutoffs and training snapshots, from the dates present.
- `ml.sampling`: seeded, stratified row samples (training cap, importance sample).
- `ml.pipelines`: the scikit-learn pipelines (gradient boosting; logistic regression beside it).
- `ml.baselines`: simple baselines (days since last purchase, BG/NBD, past revenue).
- `ml.clv`: BG/NBD x Gamma-Gamma customer lifetime value (scipy fits), the big-spender challenger.
- `ml.evaluate`: metrics, reliability bins and permutation importance.
- `ml.champion`: the backtest's winner, ties to the simpler candidate.
- `ml.calibration`: Platt / isotonic calibration on out-of-time backtest scores.
- `ml.segments`: churn-risk segments and their precision in the backtest.
- `ml.train`: the classifiers' rolling backtest, champion, calibration and scoring at D.
- `ml.lifetime_value`: the CLV run (every buyer at D, backtested against realised revenue).
- `ml.records`: what a run produced, as the long table the dbt models return.
"""

from ml.config import MLConfig

__all__ = ["MLConfig"]
