"""Staging you can trust: every raw row is either clean or quarantined with the right reason,
mixed .csv / .csv.gz / .parquet globs load, and bad files stop the build with a clear message
while the previous warehouse stays intact."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import query, run_dbt

HEADER = (
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
)
GOOD = (
    "2019-10-01 10:00:00 UTC,view,1004856,2053013555631882655,electronics.smartphone,samsung,"
    "130.76,541312140,sess-a"
)

# (raw line, expected reason or None for clean). One row per fault, plus rows with several faults
# where the first reason in the documented order must win.
FAULT_ROWS: list[tuple[str, str | None]] = [
    (GOOD, None),
    (GOOD, "duplicate_row"),
    ("2019-10-01 10:00:01 UTC,cart,1004856,2053013555631882655,,,130.76,541312140,", None),
    ("2019-10-01 10:00:02 UTC,purchase,1004856,2053013555631882655,,,0,541312140,", None),
    ("2019-10-01 10:00:03 UTC,view,1004856,2053013555631882655,,", "malformed_row"),
    ("2019-10-01 10:00:03 UTC,view,1,2,,,1,2,s,extra", "malformed_row"),
    ("not a time,view,1004856,2053013555631882655,,,1.0,541312140,s", "bad_event_time"),
    (",view,1004856,2053013555631882655,,,1.0,541312140,s", "bad_event_time"),
    ("2019-10-01 10:00:04,view,1004856,2053013555631882655,,,1.0,541312140,s", "bad_event_time"),
    (
        "2019-10-01 10:00:05 UTC,click,1004856,2053013555631882655,,,1.0,541312140,s",
        "unknown_event_type",
    ),
    ("2019-10-01 10:00:06 UTC,click,x,2053013555631882655,,,-1,,s", "unknown_event_type"),
    ("2019-10-01 10:00:07 UTC,view,1004856,2053013555631882655,,,1.0,,s", "bad_user_id"),
    ("2019-10-01 10:00:08 UTC,view,1004856,2053013555631882655,,,1.0,12.5,s", "bad_user_id"),
    ("2019-10-01 10:00:09 UTC,view,abc,2053013555631882655,,,-1,541312140,s", "bad_product_id"),
    ("2019-10-01 10:00:10 UTC,view,1004856,2053013555631882655,,,-0.01,541312140,s", "bad_price"),
    ("2019-10-01 10:00:11 UTC,view,1004856,2053013555631882655,,,,541312140,s", "bad_price"),
    ("2019-10-01 10:00:12 UTC,view,1004856,2053013555631882655,,,1,0,541312140,s", "malformed_row"),
    ("2019-10-01 10:00:13 UTC,view,1004856,2053013555631882655,,,nan,541312140,s", "bad_price"),
]
# A file cut off mid-row (no trailing newline): the last line is malformed, not lost.
TRUNCATED_TAIL = ("2019-10-01 10:00:14 UTC,view,1004856,20530135", "malformed_row")


def write_fault_files(folder: Path) -> dict[str, list[tuple[str, str | None]]]:
    """Write the fault rows into a .csv, the same good rows into a .csv.gz and a .parquet."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [*FAULT_ROWS, TRUNCATED_TAIL]
    (folder / "a_faults.csv").write_text(HEADER + "\n" + "\n".join(r for r, _ in rows))

    gz_rows = [
        (
            "2019-10-02 09:00:00 UTC,view,5,2053013555631882655,apparel.shoes,nike,50.00,7,s-gz",
            None,
        ),
        (
            "2019-10-02 09:00:00 UTC,view,5,2053013555631882655,apparel.shoes,nike,50.00,7,s-gz",
            "duplicate_row",
        ),
        (
            "2019-10-02 09:01:00 UTC,cart,5,2053013555631882655,apparel.shoes,nike,50.00,7,s-gz",
            None,
        ),
    ]
    with gzip.open(folder / "b_more.csv.gz", "wt") as f:
        f.write(HEADER + "\n" + "\n".join(r for r, _ in gz_rows) + "\n")

    # Parquet holds the raw text columns; its first row repeats a .csv.gz row (a cross-file copy).
    pq_rows = [
        (
            "2019-10-02 09:01:00 UTC,cart,5,2053013555631882655,apparel.shoes,nike,50.00,7,s-gz",
            "duplicate_row",
        ),
        ("2019-10-03 08:00:00 UTC,purchase,5,2053013555631882655,,,50.00,7,", None),
        ("2019-10-03 08:00:00 UTC,view,6,2053013555631882655,,,oops,7,", "bad_price"),
    ]
    con = duckdb.connect()
    values = ", ".join(
        "(" + ", ".join("NULL" if v == "" else f"'{v}'" for v in r.split(",")) + ")"
        for r, _ in pq_rows
    )
    con.execute(
        f"copy (select * from (values {values}) as t({HEADER})) to '{folder / 'c_more.parquet'}' "
        "(format parquet)"
    )
    con.close()
    return {"a_faults.csv": rows, "b_more.csv.gz": gz_rows, "c_more.parquet": pq_rows}


@pytest.fixture(scope="module")
def fault_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    files = write_fault_files(root / "raw")
    warehouse = root / "warehouse.duckdb"
    res = run_dbt(
        ["build", "--select", "path:models/staging", "path:tests/dbt/staging"],
        events_path=root / "raw" / "*",
        warehouse_path=warehouse,
        workdir=root,
    )
    assert res.ok, res.output[-4000:]
    return root, files, warehouse


def raw_data_lines(path: Path) -> int:
    """Data rows of a raw file counted independently of DuckDB (header excluded)."""
    if path.suffix == ".parquet":
        return duckdb.sql(f"select count(*) from read_parquet('{path}')").fetchall()[0][0]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return sum(1 for _ in f) - 1


def test_raw_rows_equal_clean_plus_quarantined(fault_build):
    root, files, warehouse = fault_build
    raw_total = sum(raw_data_lines(root / "raw" / name) for name in files)
    clean = query(warehouse, "select count(*) from staging.stg_events")[0][0]
    quarantined = query(warehouse, "select count(*) from staging.quarantined_events")[0][0]
    assert raw_total == sum(len(rows) for rows in files.values())
    assert clean + quarantined == raw_total
    assert clean == sum(1 for rows in files.values() for _, reason in rows if reason is None)


def test_every_row_gets_the_expected_reason(fault_build):
    root, files, warehouse = fault_build
    got = query(
        warehouse,
        "select source_file, raw_line, reason from staging.quarantined_events",
    )
    got_counts: dict[tuple[str, str, str], int] = {}
    for source_file, raw_line, reason in got:
        key = (Path(source_file).name, raw_line, reason)
        got_counts[key] = got_counts.get(key, 0) + 1
    expected_counts: dict[tuple[str, str, str], int] = {}
    for name, rows in files.items():
        for raw_line, reason in rows:
            if reason is not None:
                key = (name, raw_line, reason)
                expected_counts[key] = expected_counts.get(key, 0) + 1
    assert got_counts == expected_counts


def test_clean_rows_are_typed_exactly(fault_build):
    _, _, warehouse = fault_build
    types = dict(
        query(
            warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'staging' and table_name = 'stg_events'",
        )
    )
    assert types == {
        "event_time": "TIMESTAMP",
        "event_date": "DATE",
        "event_type": "VARCHAR",
        "product_id": "BIGINT",
        "category_id": "BIGINT",
        "category_code": "VARCHAR",
        "top_category": "VARCHAR",
        "brand": "VARCHAR",
        "price": "DOUBLE",
        "user_id": "BIGINT",
        "user_session": "VARCHAR",
        "session_id": "VARCHAR",
        "source_file": "VARCHAR",
        "loaded_at": "TIMESTAMP",
    }
    # 19-digit category ids survive without float rounding.
    ids = {r[0] for r in query(warehouse, "select distinct category_id from staging.stg_events")}
    assert ids == {2053013555631882655}
    first = query(
        warehouse,
        "select top_category, brand, price, session_id from staging.stg_events "
        "where product_id = 1004856 and event_type = 'view'",
    )
    assert first == [("electronics", "samsung", 130.76, "sess-a")]
    # The session-less cart and purchase 1 s apart share one gap session.
    sessions = query(
        warehouse,
        "select distinct session_id from staging.stg_events where user_session is null "
        "and user_id = 541312140",
    )
    assert sessions == [("nosession-541312140-20191001100001",)]


def test_quarantine_keeps_raw_columns_as_text(fault_build):
    _, _, warehouse = fault_build
    rows = query(
        warehouse,
        "select event_time, event_type, product_id, price, user_id, source_file "
        "from staging.quarantined_events where reason = 'bad_user_id' order by event_time",
    )
    assert rows[0][:5] == ("2019-10-01 10:00:07 UTC", "view", "1004856", "1.0", "")
    assert rows[1][4] == "12.5"
    assert rows[0][5].endswith("a_faults.csv")


# --- Bad files: a clear message naming the problem, and the previous warehouse left intact. ---


@pytest.fixture()
def good_warehouse(fault_build, tmp_path) -> Path:
    _, _, warehouse = fault_build
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, copy)
    return copy


def stg_count(warehouse: Path) -> int:
    return query(warehouse, "select count(*) from staging.stg_events")[0][0]


def build_should_fail(tmp_path: Path, events_path: str, warehouse: Path) -> str:
    before = stg_count(warehouse)
    res = run_dbt(
        ["build", "--select", "path:models/staging"],
        events_path=events_path,
        warehouse_path=warehouse,
        workdir=tmp_path,
    )
    assert not res.ok
    assert "Traceback" not in res.output
    assert stg_count(warehouse) == before, "a failed build must leave the warehouse intact"
    return res.output


def test_no_matching_file_names_the_path(tmp_path, good_warehouse):
    missing = str(tmp_path / "nowhere" / "*.csv")
    out = build_should_fail(tmp_path, missing, good_warehouse)
    assert f"No raw event files match EVENTS_PATH='{missing}'" in out


def test_wrong_header_names_file_and_columns(tmp_path, good_warehouse):
    raw = tmp_path / "raw"
    raw.mkdir()
    bad = raw / "bad_header.csv"
    bad.write_text(HEADER.replace("user_id", "userid") + "\n" + GOOD + "\n")
    out = build_should_fail(tmp_path, str(raw / "*.csv"), good_warehouse)
    assert "bad_header.csv' has a wrong header" in out
    assert "Missing: user_id" in out and "Unexpected: userid" in out


def test_empty_file_is_named(tmp_path, good_warehouse):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "ok.csv").write_text(HEADER + "\n" + GOOD + "\n")
    (raw / "empty.csv").write_text("")
    out = build_should_fail(tmp_path, str(raw / "*.csv"), good_warehouse)
    assert "empty.csv' is empty (0 bytes)" in out


def test_truncated_gzip_is_named(tmp_path, good_warehouse):
    raw = tmp_path / "raw"
    raw.mkdir()
    payload = gzip.compress((HEADER + "\n" + (GOOD + "\n") * 5000).encode())
    (raw / "cut.csv.gz").write_bytes(payload[: len(payload) // 2])
    out = build_should_fail(tmp_path, str(raw / "*.csv.gz"), good_warehouse)
    assert "cut.csv.gz" in out
    assert "GZIP" in out.upper()
