"""Settings of one training run, read from dbt vars (YAML `meta`) or given directly in tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, fields

CALIBRATION_METHODS = ("platt", "isotonic")


@dataclass(frozen=True)
class MLConfig:
    """Everything that changes what a run produces. Same config + same data -> same tables."""

    horizon_days: int = 28
    # Empty / None: the latest snapshot date of the feature table (the last clean event date).
    prediction_date: dt.date | None = None
    # Rolling-origin backtest: at most this many cutoffs (the latest snapshot dates whose label
    # window is observed by D); each is judged on its own snapshot's labels only.
    backtest_cutoffs: int = 4
    # Snapshots stacked into one training set: the latest ones whose label window ends by the
    # cutoff (by D for the production refit).
    train_snapshots: int = 3
    # Days of data a snapshot needs up to its date to be trained on (ml.plan).
    min_history_days: int = 28
    # ML on a schedule: the models are trained with the labels observed by the latest date of a
    # calendar grid (every retrain_every_days days from Sunday 2000-01-02) on or before D, so the
    # training only changes when the grid moves; other builds reuse the fitted models (ml.store)
    # and only score D. 1 = retrain with every new day.
    retrain_every_days: int = 7
    # How the champion's scores become probabilities, fitted on out-of-time backtest scores.
    calibration_method: str = "platt"
    # Customer lifetime value: the horizon of `clv` and its annual discount rate.
    clv_horizon_days: int = 365
    clv_annual_discount_rate: float = 0.1
    # Churn-risk segments (ml.segments): the share of buyers with the most value at risk, the
    # high churn band, and the rule kept as the fallback (marts.customer_segments).
    risk_segment_share: float = 0.1
    churn_risk_band_high: float = 0.8
    at_risk_gap_multiplier: float = 2.0
    core_tier_share: float = 0.5
    # Training rows per snapshot: every row of the rarer class (up to half of the cap) and at
    # most majority_ratio rows of the other class per rare row, seeded. See docs/prediction.md.
    train_sample_rows: int = 100_000
    majority_ratio: int = 10
    # Evaluation rows drawn from the backtest snapshot (stratified, seeded); the metrics use them.
    eval_sample_rows: int = 500_000
    # Rows (class-balanced) and repeats of the permutation importance.
    importance_sample_rows: int = 4_000
    importance_repeats: int = 2
    # Rows per chunk when reading a snapshot for evaluation or scoring.
    chunk_rows: int = 100_000
    # Below these, a snapshot is too small to learn from or to judge a model on.
    min_population: int = 100
    min_class_rows: int = 10
    seed: int = 42
    # BLAS/OpenMP threads per run (dbt already runs the two targets' models in parallel).
    threads: int = 1

    @classmethod
    def from_meta(cls, get: Callable[[str], object]) -> MLConfig:
        """Build from dbt `meta` values (rendered YAML: numbers may arrive as strings)."""
        values: dict[str, object] = {}
        defaults = cls()
        for f in fields(cls):
            raw = get(f.name)
            if raw is None or (isinstance(raw, str) and raw.strip() in ("", "None")):
                continue
            default = getattr(defaults, f.name)
            if f.name == "prediction_date":
                values[f.name] = dt.date.fromisoformat(str(raw).strip()[:10])
            elif isinstance(default, str):
                values[f.name] = str(raw).strip().lower()
            elif isinstance(default, float):
                values[f.name] = float(str(raw))
            else:
                values[f.name] = int(float(str(raw)))
        config = cls(**values)  # type: ignore[arg-type]
        config.validate()
        return config

    def validate(self) -> None:
        if self.horizon_days < 1:
            raise ValueError(f"churn_horizon_days must be >= 1, got {self.horizon_days}")
        for name in ("train_sample_rows", "eval_sample_rows", "importance_sample_rows"):
            if getattr(self, name) < 100:
                raise ValueError(f"{name} must be >= 100, got {getattr(self, name)}")
        for name in (
            "majority_ratio",
            "backtest_cutoffs",
            "train_snapshots",
            "threads",
            "retrain_every_days",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.chunk_rows < 1_000:
            raise ValueError(f"chunk_rows must be >= 1000, got {self.chunk_rows}")
        if self.calibration_method not in CALIBRATION_METHODS:
            raise ValueError(
                f"ml_calibration_method must be one of {CALIBRATION_METHODS}, "
                f"got {self.calibration_method!r}"
            )
        if self.clv_horizon_days < 1:
            raise ValueError(f"clv_horizon_days must be >= 1, got {self.clv_horizon_days}")
        if not 0 <= self.clv_annual_discount_rate < 10:
            raise ValueError(
                f"clv_annual_discount_rate must be in [0, 10), got {self.clv_annual_discount_rate}"
            )
        if not 0 < self.risk_segment_share <= 1:
            raise ValueError(f"risk_segment_share must be in (0, 1], got {self.risk_segment_share}")
        if not 0 < self.core_tier_share <= 1:
            raise ValueError(f"core_tier_share must be in (0, 1], got {self.core_tier_share}")
