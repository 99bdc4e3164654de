"""Settings of one training run, read from dbt vars (YAML `meta`) or given directly in tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class MLConfig:
    """Everything that changes what a run produces. Same config + same data -> same tables."""

    horizon_days: int = 28
    # Empty / None: the latest snapshot date of the feature table (the last clean event date).
    prediction_date: dt.date | None = None
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
        for f in fields(cls):
            raw = get(f.name)
            if raw is None or (isinstance(raw, str) and raw.strip() in ("", "None")):
                continue
            if f.name == "prediction_date":
                values[f.name] = dt.date.fromisoformat(str(raw).strip()[:10])
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
        if self.majority_ratio < 1:
            raise ValueError(f"majority_ratio must be >= 1, got {self.majority_ratio}")
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if self.chunk_rows < 1_000:
            raise ValueError(f"chunk_rows must be >= 1000, got {self.chunk_rows}")
