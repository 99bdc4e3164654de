"""The benchmark's pandas baseline computes the same figures as the warehouse.

The pipeline runs on the shared small data set and is compared with the marts of the shared
build (funnel_summary, customer_value, revenue_concentration, staging counts). Its own rules
(quarantine reasons on the exact path, the session gap) are checked on hand-made rows, and the
harness's target verdicts on hand-made measurements. Nothing here is timed.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from bench.compare import compare, format_checks
from bench.data import DataSet, Size, parse_size, parse_sizes
from bench.measure import Measurement
from bench.pandas_pipeline import (
    FAULTS,
    assign_sessions,
    fault_codes,
    load_vars,
    read_events,
    read_exact,
    read_fast,
    run_pipeline,
)
from bench.report import SizeFigures, targets
from bench.run import KINDS, SizeResult
from tests.conftest import PROJECT_DIR

HEADER = (
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
)
# (raw line, expected reason or None for a clean row), in file order.
FAULTY_ROWS = [
    ("2019-10-01 00:00:00 UTC,view,1,2053013555631882655,electronics.smartphone,apple,10.5,7,s1",
     None),
    ("2019-10-01 00:00:00 UTC,view,1,2053013555631882655", "malformed_row"),
    ("2019-10-01 00:00:00 UTC,view,1,2,,,10.5,7,s1,extra", "malformed_row"),
    ("2019-13-01 00:00:00 UTC,oops,x,2,,,-1,y,s1", "bad_event_time"),
    (",view,1,2,,,1,7,s1", "bad_event_time"),
    ("2019-10-01 00:00:00,view,1,2,,,1,7,s1", "bad_event_time"),
    ("2019-10-01 00:00:01 UTC,click,x,2,,,-1,y,s1", "unknown_event_type"),
    ("2019-10-01 00:00:02 UTC,cart,x,2,,,-1,1.5,s1", "bad_user_id"),
    ("2019-10-01 00:00:03 UTC,cart,x,2,,,-1,8,s1", "bad_product_id"),
    ("2019-10-01 00:00:04 UTC,cart,1,2,,,-1,8,s1", "bad_price"),
    ("2019-10-01 00:00:05 UTC,cart,1,2,,,abc,8,s1", "bad_price"),
    ("2019-10-01 00:00:06 UTC,cart,1,2,,,,8,s1", "bad_price"),
    ("2019-10-01 00:00:07 UTC,purchase,1,2,,,0,8,", None),
    ("2019-10-01 00:00:00 UTC,view,1,2053013555631882655,electronics.smartphone,apple,10.5,7,s1",
     "duplicate_row"),
]  # fmt: skip


def event_files(events_dir: Path) -> list[str]:
    return sorted(str(p) for p in events_dir.iterdir() if not p.name.startswith("."))


def reasons(codes) -> list[str | None]:
    return [None if c == 0 else FAULTS[c - 1] for c in codes]


def test_pandas_pipeline_matches_marts(built_warehouse) -> None:
    files = event_files(built_warehouse.events_dir)
    assert len(files) > 1, "the shared data set should span several monthly files"
    result = run_pipeline(files, load_vars(PROJECT_DIR))
    checks = compare(result, built_warehouse.path)
    assert not [c for c in checks if not c.ok], format_checks(checks)
    # The comparison must have covered every funnel stage and many users, not an empty mart.
    assert len(result.funnel) == 6
    assert result.concentration["buyers"] > 100


def test_fast_and_exact_paths_agree_on_clean_data(small_events) -> None:
    path = event_files(small_events)[0]
    fast, exact = read_fast(path), read_exact(path)
    columns = ["event_time", "product_id", "category_id", "price", "user_id"]
    pd.testing.assert_frame_equal(
        fast[columns].astype({"category_id": "Int64"}),
        exact[columns].astype({"product_id": "int64", "user_id": "int64"}),
    )
    assert (fast["user_session"].astype(str) == exact["user_session"].astype(str)).all()
    assert (fault_codes(fast) == fault_codes(exact)).all()
    assert reasons(fault_codes(fast)).count("duplicate_row") > 0


def test_exact_path_quarantine_reasons(tmp_path: Path) -> None:
    path = tmp_path / "faulty.csv.gz"
    text = "\n".join([HEADER, *(line for line, _ in FAULTY_ROWS)]) + "\n"
    path.write_bytes(gzip.compress(text.encode()))
    events = read_events([str(path)])  # the fast parse fails on these rows
    assert reasons(fault_codes(events)) == [reason for _, reason in FAULTY_ROWS]


def test_session_gap_rule() -> None:
    rows = pd.DataFrame(
        {
            "user_id": [7, 7, 7, 8, 7],
            "event_time": pd.to_datetime(
                [
                    "2019-10-01 10:00:00",
                    "2019-10-01 10:30:00",
                    "2019-10-01 11:00:01",
                    "2019-10-01 10:10:00",
                    "2019-10-01 10:15:00",
                ]
            ),
            "user_session": pd.Categorical([None, None, None, None, "s-1"]),
        }
    )
    assert list(assign_sessions(rows, gap_minutes=30).astype(str)) == [
        "nosession-7-20191001100000",
        "nosession-7-20191001100000",
        "nosession-7-20191001110001",
        "nosession-8-20191001101000",
        "s-1",
    ]


def test_sizes_parse() -> None:
    assert parse_size("42.4M").rows == 42_400_000
    assert parse_size("500k").rows == 500_000
    assert [s.rows for s in parse_sizes("10M,1M,1M")] == [1_000_000, 10_000_000]
    with pytest.raises(ValueError):
        parse_size("ten")


def fake_size(rows: int, walls: dict[str, float], rss: dict[str, float]) -> SizeFigures:
    data = DataSet(Size(f"{rows}", rows), 42, Path("month.csv.gz"), Path("day.csv.gz"))
    result = SizeResult(data)
    for kind in KINDS:
        for wall in (walls[kind] * 0.9, walls[kind] * 1.1):
            result.runs[kind].append(Measurement(wall, wall, int(rss[kind]), 0, Path("log")))
    return SizeFigures(result)


def test_target_verdicts() -> None:
    walls = {
        "scan": 1,
        "land": 2,
        "startup": 10,
        "build": 40,
        "incremental": 12,
        "build_no_ml": 30,
        "pandas": 20,
    }
    rss = {kind: 1e9 for kind in KINDS} | {"pandas": 3e9}
    one = fake_size(1_000_000, walls, rss)
    ten = fake_size(10_000_000, {k: v * 5 for k, v in walls.items()}, rss)
    verdicts = {t.text: t.passed for t in targets([one, ten])}
    assert verdicts["10M: full build (ML and start-up included) <= 4x landing floor"] is False
    assert verdicts["10M full build <= 11x the 1M one (both minus start-up)"] is True
    assert verdicts["10M: build without ML peak RSS <= 1/2 of pandas (build / pandas)"] is True
    assert verdicts["42.4M: full build (ML and start-up included) <= 4x landing floor"] is None
