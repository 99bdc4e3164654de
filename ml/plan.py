"""Which snapshots a run trains on, judges on and scores: the rolling-origin backtest plan.

Written against the snapshot dates that exist (any set of dates, any spacing), never against
D - k x H arithmetic. With D the prediction date and H the horizon:

- a snapshot T is *labelled* when its label window (T, T + H] ends on or before D and on or before
  the last event date: only then is "no purchase" final, and nothing after D is ever used;
- a *cutoff* c is a labelled snapshot the models are judged on (labels in (c, c + H]); the latest
  `max_cutoffs` labelled snapshots are the candidates;
- the *training snapshots* of a cutoff c are the latest `train_snapshots` labelled snapshots T
  with T + H <= c (every label the model learns from was fully observed by c) and at least
  `min_history_days` of data up to T (T - first event date + 1: a snapshot taken a few days into
  the data sees every user as new, and its 28- and 56-day feature windows are cut short). A
  cutoff without one is skipped, with the reason ("not enough history");
- the *production* model is trained on the latest `train_snapshots` labelled snapshots (every
  label observed by D) and scores the snapshot D.

ML on a schedule: with `trained_through` E (the latest date of the retraining grid on or before D,
`training_date`), "labelled" means labelled by E instead of D. The whole backtest and the
production fit then depend on E, not on D, so the builds of the days between two grid dates reuse
one fitted model and only score their own D (ml.store).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass


class DegenerateData(Exception):
    """The data cannot support a run; the message says why, in words for the build log."""


@dataclass(frozen=True)
class Cutoff:
    date: dt.date
    # Snapshots stacked into the training set, oldest first; each has T + H <= date.
    train_dates: tuple[dt.date, ...]
    # Why the cutoff cannot be used ("" when it can).
    reason: str = ""

    @property
    def usable(self) -> bool:
        return not self.reason


@dataclass(frozen=True)
class BacktestPlan:
    horizon_days: int
    score: dt.date  # D
    trained_through: dt.date  # E: labels observed up to this date are learnt from and judged on
    labelled: tuple[dt.date, ...]
    cutoffs: tuple[Cutoff, ...]  # oldest first, skipped ones included
    production_dates: tuple[dt.date, ...]

    @property
    def usable_cutoffs(self) -> tuple[Cutoff, ...]:
        return tuple(c for c in self.cutoffs if c.usable)


# The anchor of every calendar grid of the project (macros/feature_dates.sql): a Sunday.
GRID_ANCHOR = dt.date(2000, 1, 2)


def training_date(observed: dt.date, every_days: int) -> dt.date:
    """E: the latest date of the retraining grid (every `every_days` days from GRID_ANCHOR) on
    or before `observed`; `observed` itself when every_days is 1."""
    return observed - dt.timedelta(days=(observed - GRID_ANCHOR).days % every_days)


def label_end(as_of: dt.date, horizon_days: int) -> dt.date:
    """The last day of the label window (T, T + H]."""
    return as_of + dt.timedelta(days=horizon_days)


def plan_backtest(
    dates: Sequence[dt.date],
    horizon_days: int,
    prediction_date: dt.date | None,
    last_event_date: dt.date | None,
    max_cutoffs: int,
    train_snapshots: int,
    *,
    first_event_date: dt.date | None = None,
    min_history_days: int = 0,
    needs_training: bool = True,
    retrain_every_days: int = 1,
) -> BacktestPlan:
    """The rolling-origin plan (module docstring). Raises DegenerateData when nothing can be
    judged: no snapshot, D not a snapshot, no labelled snapshot, or no usable cutoff.

    `first_event_date`: the first day of data (None: every labelled snapshot can train);
    `min_history_days`: days of data a training snapshot needs up to its date.
    `needs_training=False` (the CLV model, fitted on each cutoff's own history): every candidate
    cutoff is usable and the training snapshots are left empty.
    `retrain_every_days`: the step of the retraining grid; labels count as observed only up to
    its latest date on or before D and the last event date (`trained_through`).
    """
    snapshots = sorted(set(dates))
    if not snapshots:
        raise DegenerateData("the feature table has no snapshot (no clean events?)")
    score = prediction_date or snapshots[-1]
    listed = ", ".join(str(d) for d in snapshots)
    if score not in snapshots:
        raise DegenerateData(
            f"the prediction date {score} is not a snapshot of the feature table ({listed})"
        )
    observed = score if last_event_date is None else min(score, last_event_date)
    observed_until = training_date(observed, retrain_every_days)
    labelled = tuple(t for t in snapshots if label_end(t, horizon_days) <= observed_until)
    if not labelled:
        raise DegenerateData(
            f"too few snapshots for a {horizon_days}-day horizon: no snapshot T has its label "
            f"window (T, T + {horizon_days}] observed by {observed_until} (the feature table has "
            f"{listed}). Use a shorter churn_horizon_days or more days of data."
        )
    trainable = tuple(
        t
        for t in labelled
        if first_event_date is None or (t - first_event_date).days + 1 >= min_history_days
    )
    cutoffs = []
    for c in labelled[-max_cutoffs:]:
        if not needs_training:
            cutoffs.append(Cutoff(c, ()))
            continue
        train = tuple(t for t in trainable if label_end(t, horizon_days) <= c)[-train_snapshots:]
        reason = (
            ""
            if train
            else f"not enough history: no snapshot T with at least {min_history_days} days of "
            f"data and its label window (T, T + {horizon_days}] ended by the cutoff {c}"
        )
        cutoffs.append(Cutoff(c, train, reason))
    plan = BacktestPlan(
        horizon_days=horizon_days,
        score=score,
        trained_through=observed_until,
        labelled=labelled,
        cutoffs=tuple(cutoffs),
        production_dates=trainable[-train_snapshots:] if needs_training else (),
    )
    if not plan.usable_cutoffs:
        raise DegenerateData(
            f"too few snapshots for a {horizon_days}-day horizon: no backtest cutoff c has a "
            f"training snapshot T (at least {min_history_days} days of data, "
            f"T + {horizon_days} days <= c) and its own label window observed by "
            f"{observed_until} (the feature table has {listed}). Use a shorter "
            "churn_horizon_days, more days of data or a larger feature_snapshot_count."
        )
    return plan
