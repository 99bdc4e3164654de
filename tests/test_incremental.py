"""Incremental loading: three increments give the same tables as one full refresh, row for row.

The data arrives as day files in three builds. Besides the generated days, hand-made files cover
what incremental loading gets wrong most easily:
- a late file with events dated in days already loaded (within lookback_days), one of them joining
  a session loaded by an earlier build;
- an exact copy of a line loaded by an earlier build (a duplicate across builds);
- a session-less event that bridges two gap sessions loaded earlier, merging them into one.
The ML trainings are left out (they only read tables compared here; tests/test_ml_models.py
covers reusing their fitted models); their labels table, incremental by as-of date, is compared.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.conftest import SMALL_SAMPLE, SMALL_VARS, query, run_dbt

HEADER = ",".join(
    ["event_time", "event_type", "product_id", "category_id", "category_code"]
    + ["brand", "price", "user_id", "user_session"]
)
GAP_USER = 999_000_001
LATE_USER = 999_000_002


def line(time: str, event_type: str, product_id: int, price: str, user: int, session: str) -> str:
    category = "2053013555631882655,electronics.smartphone,apple"
    return f"2019-12-24 {time} UTC,{event_type},{product_id},{category},{price},{user},{session}"


# The second increment ends on 2019-12-25; its hand-made file holds two gap sessions on the 24th.
FIRST_GAP_SESSION_LINES = [
    line("10:00:00", "view", 1001, "100.00", GAP_USER, ""),
    line("10:50:00", "cart", 1001, "100.00", GAP_USER, ""),
    line("09:00:00", "view", 1002, "50.00", LATE_USER, "late-sess"),
]
# The third increment: one day late, bridging the two gap sessions, plus a cross-build duplicate
# and a purchase that joins the session late-sess loaded by the previous build.
LATE_LINES = [
    line("10:25:00", "view", 1001, "100.00", GAP_USER, ""),
    FIRST_GAP_SESSION_LINES[0],
    line("09:05:00", "purchase", 1002, "50.00", LATE_USER, "late-sess"),
]
ML_TRAININGS = ["ml_churn_training+", "ml_big_spender_training+", "ml_clv_training+"]
BUILD = ["build", "--exclude", *ML_TRAININGS, "--vars", SMALL_VARS]
SCHEMAS = ("staging", "intermediate", "marts", "ml")
BOOKKEEPING_COLUMNS = {"loaded_at"}


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join([HEADER, *lines]) + "\n")


@pytest.fixture(scope="module")
def day_files(tmp_path_factory) -> list[Path]:
    from warehouse.generate import generate

    out_dir = tmp_path_factory.mktemp("days")
    return generate(out=str(out_dir / "events-{date}.csv.gz"), progress=False, **SMALL_SAMPLE)


def increments(day_files: list[Path], scratch: Path) -> list[list[Path]]:
    """Three loads: days up to 11-15, up to 12-25 (+ gap sessions), the rest (+ late file)."""
    first_gaps = scratch / "events-2019-12-24-extra.csv"
    late = scratch / "events-late-2019-12-24.csv"  # sorts after every day file, as a late file does
    write_lines(first_gaps, FIRST_GAP_SESSION_LINES)
    write_lines(late, LATE_LINES)
    one = [f for f in day_files if f.name <= "events-2019-11-15.csv.gz"]
    two = [
        f for f in day_files if "events-2019-11-15.csv.gz" < f.name <= "events-2019-12-25.csv.gz"
    ]
    three = [f for f in day_files if f.name > "events-2019-12-25.csv.gz"]
    assert one and two and three
    return [one, [*two, first_gaps], [*three, late]]


@pytest.fixture(scope="module")
def warehouses(day_files, tmp_path_factory) -> dict[str, Path]:
    scratch = tmp_path_factory.mktemp("incremental")
    loads = increments(day_files, scratch)

    events = scratch / "events"
    events.mkdir()
    incremental = scratch / "incremental.duckdb"
    for number, files in enumerate(loads, start=1):
        for f in files:
            shutil.copy(f, events / f.name)
        res = run_dbt(BUILD, events_path=events / "*", warehouse_path=incremental, workdir=scratch)
        assert res.ok, f"increment {number} failed:\n{res.output[-5000:]}"

    full = scratch / "full.duckdb"
    res = run_dbt(
        [*BUILD, "--full-refresh"], events_path=events / "*", warehouse_path=full, workdir=scratch
    )
    assert res.ok, res.output[-5000:]
    return {"incremental": incremental, "full": full, "events": events, "scratch": scratch}


def is_list(value: object) -> bool:
    return isinstance(value, list | tuple) or hasattr(value, "shape")


def read_table(con: duckdb.DuckDBPyConnection, database: str, table: str) -> pd.DataFrame:
    """A table without its bookkeeping columns, sorted by exact columns first, then floats.

    List columns (event times) are compared as sorted tuples: a list aggregate's order is the
    order the rows were read in, which differs between builds.
    """
    frame = con.sql(f"select * from {database}.{table}").df()
    frame = frame.drop(columns=[c for c in BOOKKEEPING_COLUMNS if c in frame.columns])
    for column in frame.columns:
        if frame[column].map(is_list).any():
            frame[column] = frame[column].map(lambda v: tuple(sorted(v)) if is_list(v) else None)
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    exact = [c for c in frame.columns if c not in floats]
    return frame.sort_values([*exact, *floats], ignore_index=True)


def table_differences(warehouses: dict[str, Path]) -> dict[str, str]:
    """Every staging, intermediate and mart table: '' when both builds agree, else the mismatch.

    Float sums run in parallel in no fixed order, so their last bits differ between any two
    builds: floats are compared to a relative 1e-9, everything else exactly.
    """
    con = duckdb.connect()
    con.sql(f"attach '{warehouses['incremental']}' as incr (read_only)")
    con.sql(f"attach '{warehouses['full']}' as refreshed (read_only)")
    try:
        # Views too: stg_events is a view over the landed rows.
        tables = con.sql(
            "select schema_name || '.' || table_name from duckdb_tables() "
            f"where database_name = 'refreshed' and schema_name in {SCHEMAS} "
            "union all select schema_name || '.' || view_name from duckdb_views() "
            f"where database_name = 'refreshed' and schema_name in {SCHEMAS} "
            # The base_ views read the raw files themselves (no Parquet file here: empty).
            "and not starts_with(view_name, 'base_') order by all"
        ).fetchall()
        result = {}
        for (table,) in tables:
            full = read_table(con, "refreshed", table)
            incremental = read_table(con, "incr", table)
            try:
                assert len(full) > 0, "empty"
                pd.testing.assert_frame_equal(incremental, full, check_exact=False, rtol=1e-9)
                result[table] = ""
            except AssertionError as error:
                result[table] = str(error)[:500]
        return result
    finally:
        con.close()


def test_three_increments_equal_full_refresh(warehouses):
    differences = table_differences(warehouses)
    assert {
        "marts.customer_value",
        "marts.funnel_summary",
        "staging.stg_events",
        # The marts summed from stored partial counts, and those counts.
        "marts.funnel_paths",
        "marts.conversion_drivers",
        "intermediate.int_funnel_path_step_days",
        "intermediate.int_funnel_path_drop_off_users",
        "intermediate.int_conversion_driver_days",
        # The ML labels, stored per as-of date.
        "ml.ml_snapshot_labels",
    } <= set(differences)
    assert len(differences) >= 25
    differing = {table: error for table, error in differences.items() if error}
    assert not differing


def test_incremental_tables_carry_their_load(warehouses):
    # The increments really were incremental: the first day's rows kept the first build's load time.
    loads = query(
        warehouses["incremental"],
        "select count(distinct loaded_at), min(loaded_at) < max(loaded_at) from staging.stg_events",
    )[0]
    assert loads == (3, True)
    first_day = query(
        warehouses["incremental"],
        "select count(distinct loaded_at) from staging.stg_events where event_date = '2019-10-01'",
    )[0][0]
    assert first_day == 1


def test_final_labels_are_kept_and_open_windows_recomputed(warehouses):
    # A snapshot whose label window was observed and untouched by later loads keeps its first
    # computation; D's (window still open) is recomputed by every build.
    labels = query(
        warehouses["incremental"],
        "select as_of_date, bool_and(label_window_observed), count(distinct loaded_at), "
        "max(loaded_at) from ml.ml_snapshot_labels group by as_of_date order by as_of_date",
    )
    latest = max(loaded for *_, loaded in labels)
    assert all(loads == 1 for _, _, loads, _ in labels)
    assert [final for _, final, _, loaded in labels if loaded < latest]
    assert all(final for _, final, _, loaded in labels if loaded < latest)
    assert labels[-1][3] == latest and not labels[-1][1]  # D


def test_grid_snapshots_are_kept_and_stored_state_is_incremental(warehouses):
    # A past (grid) feature snapshot is computed once and kept by later builds, while the
    # prediction date's snapshot is recomputed; the funnel states keep untouched sessions too, and
    # the stored mart counts their untouched dates and users.
    snapshots = query(
        warehouses["incremental"],
        "select as_of_date, min(loaded_at) = max(loaded_at) as one_load, max(loaded_at) "
        "from intermediate.int_customer_feature_snapshots group by as_of_date order by as_of_date",
    )
    latest = max(loaded for _, _, loaded in snapshots)
    assert all(one_load for _, one_load, _ in snapshots)
    kept = [as_of for as_of, _, loaded in snapshots if loaded < latest]
    assert kept, f"every snapshot was recomputed by the last build: {snapshots}"
    assert snapshots[-1][2] == latest  # D moves with every build
    for table in (
        "int_funnel_session_stages",
        "int_funnel_user_stages",
        "int_funnel_path_step_days",
        "int_funnel_path_drop_off_users",
        "int_conversion_driver_days",
    ):
        loads = query(
            warehouses["incremental"],
            f"select count(distinct loaded_at) from intermediate.{table}",
        )[0][0]
        assert loads == 3, table


def test_late_bridge_merges_gap_sessions(warehouses):
    for name in ("incremental", "full"):
        sessions = query(
            warehouses[name],
            f"select distinct session_id from staging.stg_events where user_id = {GAP_USER}",
        )
        assert sessions == [(f"nosession-{GAP_USER}-20191224100000",)], name
        late = query(
            warehouses[name],
            f"select events, purchases from intermediate.int_sessions where user_id = {LATE_USER}",
        )
        assert late == [(2, 1)], name


def test_copy_of_a_line_loaded_earlier_is_a_duplicate(warehouses):
    for name in ("incremental", "full"):
        reasons = query(
            warehouses[name],
            "select source_file like '%events-late-%', reason from staging.quarantined_events "
            f"where user_id = '{GAP_USER}'",
        )
        assert reasons == [(True, "duplicate_row")], name


def test_events_older_than_lookback_stop_the_build(warehouses):
    scratch, events = warehouses["scratch"], warehouses["events"]
    too_late = scratch / "too-late.duckdb"
    shutil.copy(warehouses["incremental"], too_late)
    write_lines(
        events / "events-late-2019-10-02.csv",
        ["2019-10-02 08:00:00 UTC,view,1003,2053013555631882655,,,9.99,999000003,old-sess"],
    )
    res = run_dbt(BUILD, events_path=events / "*", warehouse_path=too_late, workdir=scratch)
    assert not res.ok
    assert "more than lookback_days=3 days before the latest loaded date 2019-12-29" in res.output
    assert "--full-refresh" in res.output
    # Nothing after the landing table changed: stg_events (a view over it) shows the late row,
    # but no stored model took it in.
    for table in ("int_session_hours", "int_user_days", "int_value_user_day_items"):
        count = query(
            too_late, f"select count(*) from intermediate.{table} where user_id = 999000003"
        )
        assert count == [(0,)], table
