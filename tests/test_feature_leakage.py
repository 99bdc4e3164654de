"""No leakage, proved: features as of D do not change when events after D arrive.

Build 1 reads only the events on or before D. Build 2 reads the same file plus a second file with
every later event, including events that continue sessions still open at midnight after D. Both
builds fix D with `prediction_date`, so they have the same snapshot dates (D and the calendar grid
dates before it); every feature row at every snapshot must be identical.
"""

from __future__ import annotations

import csv
import gzip
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import query, query_df, run_dbt

SAMPLE = {"rows": 20_000, "start": "2019-10-01", "days": 45, "seed": 11}
CUTOFF = date(2019, 10, 1) + timedelta(days=30)  # D
HORIZON = 7
SELECT = ["--select", "+int_customer_feature_snapshots", "+customer_features"]


def read_rows(files: list[Path]) -> tuple[list[str], list[list[str]]]:
    header: list[str] = []
    rows: list[list[str]] = []
    for path in files:
        with gzip.open(path, "rt", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            rows.extend(reader)
    return header, rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def is_after_cutoff(row: list[str]) -> bool:
    """Rows whose event_time is a date after D; unparseable rows stay in the early file."""
    try:
        return date.fromisoformat(row[0][:10]) > CUTOFF
    except ValueError:
        return False


def continuing_events(early: list[list[str]], count: int = 20) -> list[list[str]]:
    """Purchases just after midnight in sessions whose last early event is late on D."""
    last_by_session: dict[str, list[str]] = {}
    for row in early:
        if len(row) == 9 and row[8] and row[0][:10] == CUTOFF.isoformat():
            last_by_session[row[8]] = row
    late = sorted(last_by_session.values(), key=lambda r: r[0], reverse=True)[:count]
    midnight = (CUTOFF + timedelta(days=1)).isoformat()
    return [[f"{midnight} 00:00:0{i % 10} UTC", "purchase", *r[2:]] for i, r in enumerate(late)]


@pytest.fixture(scope="module")
def split_events(tmp_path_factory) -> tuple[Path, Path]:
    """(dir with events <= D, dir with the same file plus every event after D)."""
    from warehouse.generate import generate

    root = tmp_path_factory.mktemp("leakage")
    generate(out=str(root / "gen" / "events-{month}.csv.gz"), progress=False, **SAMPLE)
    header, rows = read_rows(sorted((root / "gen").glob("*.csv.gz")))
    early = [r for r in rows if not is_after_cutoff(r)]
    later = [r for r in rows if is_after_cutoff(r)] + continuing_events(early)
    assert early and later
    for folder in ("before", "after"):
        write_csv(root / folder / "events-early.csv", header, early)
    write_csv(root / "after" / "events-later.csv", header, later)
    return root / "before", root / "after"


def build(events_dir: Path, workdir: Path) -> Path:
    warehouse = workdir / "warehouse.duckdb"
    dbt_vars = f"{{prediction_date: '{CUTOFF.isoformat()}', churn_horizon_days: {HORIZON}}}"
    res = run_dbt(
        ["run", *SELECT, "--vars", dbt_vars],
        events_path=str(events_dir / "*"),
        warehouse_path=warehouse,
        workdir=workdir,
    )
    assert res.ok, res.output[-5000:]
    return warehouse


def snapshot_frame(warehouse: Path, relation: str) -> pd.DataFrame:
    # loaded_at (the snapshot table's run start time) is bookkeeping, not a feature.
    frame = query_df(warehouse, f"select * from {relation}").drop(
        columns="loaded_at", errors="ignore"
    )
    return frame.sort_values(["as_of_date", "user_id"]).reset_index(drop=True)


def assert_same_features(before: pd.DataFrame, after: pd.DataFrame) -> None:
    assert list(before.columns) == list(after.columns)
    assert len(before) == len(after), "the population at D changed"
    for column in before.columns:
        left, right = before[column], after[column]
        if pd.api.types.is_float_dtype(left):
            # Float sums may differ in the last bits with the aggregation order.
            np.testing.assert_allclose(left, right, rtol=1e-9, atol=1e-9, err_msg=column)
        else:
            assert left.equals(right), f"feature {column} changed after adding later events"


def test_features_at_d_ignore_later_events(split_events: tuple[Path, Path], tmp_path) -> None:
    before_dir, after_dir = split_events
    first = build(before_dir, tmp_path / "before")
    second = build(after_dir, tmp_path / "after")

    # The later events are really there and touch the users of the snapshot at D...
    (last_date,) = query(second, "select max(event_date) from staging.stg_events")[0]
    assert last_date > CUTOFF
    (open_sessions,) = query(
        second,
        "select count(*) from intermediate.int_value_session_days "
        f"where event_date = date '{CUTOFF}' and next_event_date > date '{CUTOFF}'",
    )[0]
    assert open_sessions > 0, "no session crosses midnight after D: truncation is not exercised"

    # ...yet every feature of every snapshot on or before D is unchanged.
    snapshots = snapshot_frame(first, "intermediate.int_customer_feature_snapshots")
    dates = sorted(pd.to_datetime(snapshots["as_of_date"]).dt.date.unique())
    # D and the 5 latest grid dates (every ceil(H / 2) days from Sunday 2000-01-02) whose label
    # window ends by E, the weekly retraining date on or before D (feature_snapshot_count = 6),
    # those on or after the first event date.
    step = (HORIZON + 1) // 2
    trained_through = CUTOFF - timedelta(days=(CUTOFF - date(2000, 1, 2)).days % 7)
    latest = trained_through - timedelta(days=HORIZON)
    latest -= timedelta(days=(latest - date(2000, 1, 2)).days % step)
    wanted = sorted([CUTOFF] + [latest - timedelta(days=k * step) for k in range(5)])
    assert dates == [d for d in wanted if d >= date(2019, 10, 1)]
    assert_same_features(
        snapshots, snapshot_frame(second, "intermediate.int_customer_feature_snapshots")
    )
    features = snapshot_frame(first, "marts.customer_features")
    assert (pd.to_datetime(features["as_of_date"]).dt.date == CUTOFF).all()
    assert_same_features(features, snapshot_frame(second, "marts.customer_features"))
