"""Choose the model that writes the predictions: whichever candidate wins the backtest.

Candidates are every model and every baseline of a target, judged on the same out-of-time
backtest by ROC AUC. They are ranked from the simplest (the baselines, in the order ml.baselines
lists them) to the most complex (ml.pipelines.MODEL_KINDS, last = most complex); a more complex
candidate wins only with a strictly higher AUC, so a tie goes to the simpler one. When a baseline
wins, it writes the predictions: a model that does not beat it out of time has not earned its place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Champion:
    model: str
    roc_auc: float
    is_baseline: bool
    # The best other candidate, and the best baseline (the champion itself when it is one).
    runner_up_model: str | None
    runner_up_roc_auc: float | None
    best_baseline_model: str | None
    best_baseline_roc_auc: float | None

    @property
    def margin_over_runner_up(self) -> float | None:
        if self.runner_up_roc_auc is None:
            return None
        return self.roc_auc - self.runner_up_roc_auc


def choose_champion(
    roc_auc: Mapping[str, float],
    simplest_first: Sequence[str],
    baselines: Sequence[str],
) -> Champion:
    """The candidate with the highest backtest ROC AUC; ties go to the simpler candidate.

    `simplest_first` orders every candidate by complexity; one without a finite AUC (e.g. a
    one-class evaluation) cannot win. Raises ValueError when no candidate has one.
    """
    scored = [
        (name, float(roc_auc[name]))
        for name in simplest_first
        if name in roc_auc and math.isfinite(float(roc_auc[name]))
    ]
    if not scored:
        raise ValueError("no candidate has a finite backtest ROC AUC")
    # max() keeps the first of equal keys, i.e. the simplest: ties to the simpler one.
    best_name, best_auc = max(scored, key=lambda item: item[1])
    others = [(n, a) for n, a in scored if n != best_name]
    runner_up = max(others, key=lambda item: item[1]) if others else (None, None)
    scored_baselines = [(n, a) for n, a in scored if n in set(baselines)]
    best_baseline = (
        max(scored_baselines, key=lambda item: item[1]) if scored_baselines else (None, None)
    )
    return Champion(
        model=best_name,
        roc_auc=best_auc,
        is_baseline=best_name in set(baselines),
        runner_up_model=runner_up[0],
        runner_up_roc_auc=runner_up[1],
        best_baseline_model=best_baseline[0],
        best_baseline_roc_auc=best_baseline[1],
    )
