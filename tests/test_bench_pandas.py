"""The benchmark's pandas baseline computes the same figures as the warehouse.

The pipeline runs on the shared small data set and is compared with the marts of the shared
build: staging counts and every row and column of the funnel marts (funnel_summary,
funnel_by_dimension, time_to_action, cart_abandonment, cart_conversion_delay, engagement_deciles,
engagement_revenue_correlation) and value marts (customer_value, revenue_pareto,
revenue_concentration, tier_category_mix, tier_profile, customer_segments, segment_summary). Its
own rules (quarantine reasons on the exact path, the session gap) and SQL look-alikes (round,
ntile, delay bucket labels, price bands, value order) are checked on hand-made rows, and the
harness's target verdicts on hand-made measurements. Nothing here is timed.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from bench.compare import MART_KEYS, compare, format_checks
from bench.data import DataSet, Size, parse_size, parse_sizes
from bench.measure import Measurement
from bench.pandas_pipeline import (
    FAULTS,
    PriceBands,
    assign_sessions,
    delay_buckets,
    fault_codes,
    load_vars,
    ntile,
    read_events,
    read_exact,
    read_fast,
    run_pipeline,
    sql_round,
    user_engagement,
    value_order,
)
from bench.report import SizeFigures, targets
from bench.run import KINDS, SizeResult
from tests.conftest import PROJECT_DIR, SMALL_VARS

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


@pytest.fixture(scope="module")
def pandas_result(built_warehouse):
    files = event_files(built_warehouse.events_dir)
    assert len(files) > 1, "the shared data set should span several monthly files"
    # The same vars as the build (the segments' at-risk rule reads churn_horizon_days).
    return run_pipeline(files, load_vars(PROJECT_DIR, SMALL_VARS))


def test_pandas_pipeline_matches_marts(pandas_result, built_warehouse) -> None:
    checks = compare(pandas_result, built_warehouse.path)
    assert not [c for c in checks if not c.ok], format_checks(checks)
    # Every mart was compared column by column.
    for mart in MART_KEYS:
        assert any(c.name.startswith(f"{mart}: rows with a different") for c in checks), mart


def test_pandas_marts_are_not_trivially_empty(pandas_result) -> None:
    """The comparison must have covered every stage, dimension, step, month and segment."""
    marts = pandas_result.marts
    assert len(pandas_result.funnel) == 6
    assert pandas_result.concentration["buyers"] > 100
    dims = set(marts["funnel_by_dimension"]["dimension"])
    assert dims == {"overall", *load_vars(PROJECT_DIR)["funnel_dimensions"]}
    actions = marts["time_to_action"]
    assert set(actions["step"]) == {"view_to_cart", "cart_to_purchase"}
    assert set(actions["dimension"]) == {"overall", "top_category", "price_band"}
    abandonment = marts["cart_abandonment"]
    assert (abandonment["dimension"] == "month").sum() >= 3
    assert abandonment["items_purchased_later"].iloc[0] > 0
    assert marts["cart_conversion_delay"]["conversions"].sum() > 0
    assert len(marts["engagement_deciles"]) == 30
    assert len(marts["engagement_revenue_correlation"]) == 6
    assert len(marts["revenue_pareto"]) == 100
    assert set(marts["tier_profile"]["value_tier"]) == {"power", "core", "light", "browser"}
    assert marts["tier_category_mix"]["category_rank_in_tier"].notna().any()
    segments = marts["customer_segments"]
    assert segments["segment"].nunique() >= 5
    assert segments["is_at_risk_high_value"].any() and segments["is_discount_dependent"].any()


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
        "dbt_land": 13,
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
    speed_10m = "10M: build without ML >= 2x faster than pandas (pandas / build; moonshot 3x)"
    assert verdicts[speed_10m] is False  # 20 / 30
    new_day = (
        "42.4M: one new day (ML and start-up included) <= 1/4 of the full build (moonshot 10%)"
    )
    assert verdicts[new_day] is None  # not measured
    full = fake_size(42_400_000, {k: v * 20 for k, v in walls.items()}, rss)
    hundred = fake_size(100_000_000, {k: v * 50 for k, v in walls.items()}, rss)
    verdicts = {t.text: t.passed for t in targets([one, ten, full, hundred])}
    assert verdicts[new_day] is False  # 12 / 40
    assert verdicts["42.4M: build without ML peak RSS <= 1/2 of pandas' (build / pandas)"] is True
    floor = "42.4M: full build (ML and start-up included) <= 6x the landing floor (moonshot 4x)"
    assert verdicts[floor] is False  # 40 / 2
    growth = "100M: full build completes under memory_limit 8GB in <= 2.6x the 42.4M time"
    assert verdicts[growth] is True  # 2.5x
    fast = {**walls, "incremental": 8, "build_no_ml": 9}
    verdicts = {t.text: t.passed for t in targets([fake_size(42_400_000, fast, rss)])}
    assert verdicts[new_day] is True  # 8 / 40
    assert verdicts[
        "42.4M: build without ML >= 2x faster than pandas (pandas / build; moonshot 3x)"
    ]
    assert verdicts[growth] is None


def test_sql_look_alikes() -> None:
    # DuckDB's round() goes half away from zero (numpy's goes half to even).
    assert list(sql_round([0.125, -0.125, 2.675, 0.375], 2)) == [0.13, -0.13, 2.67, 0.38]
    # ntile: the first n % buckets tiles hold one row more.
    assert list(ntile(4, 3)) == [1, 1, 2, 3]
    assert list(ntile(23, 10)) == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9,
                                   10, 10]  # fmt: skip
    assert list(ntile(3, 10)) == [1, 2, 3]
    assert list(delay_buckets([1, 6, 24, 72, 168])["delay_bucket"]) == [
        "<1h", "1-6h", "6-24h", "1-3d", "3-7d", "7d+"
    ]  # fmt: skip
    assert list(delay_buckets([2, 48])["delay_bucket"]) == ["<2h", "2-48h", "2d+"]


def test_price_bands_and_value_order() -> None:
    bands = PriceBands.load(PROJECT_DIR)
    labels = bands.value_labels[
        bands.lookup(pd.Series([0.0, 49.99, 50.0, 799.99, 800.0, 1e6]).to_numpy())
    ]
    assert list(labels) == ["0-50", "0-50", "50-100", "400-800", "800+", "800+"]
    # Bands in the seed's sort order (unbanded last), other dimensions in text order.
    assert list(value_order("price_band", ["800+", "(unbanded)", "0-50", "100-200"], bands)) == [
        3, 4, 1, 2
    ]  # fmt: skip
    assert list(value_order("brand", ["b", "(missing)", "a"], bands)) == [3, 1, 2]


def test_engagement_counts_sessions_for_their_smallest_user() -> None:
    """int_user_engagement sums int_sessions by the session's user (min user_id): a session
    shared by users 7 and 8 counts for 7 only, and 9 (no session of their own) gets zeros."""
    sessions = pd.DataFrame(
        {
            "user": [0, 0, 1],  # user codes: 0 = user 7 (owns the shared session), 1 = user 8
            "views": [2, 1, 5],
            "carts": [1, 0, 1],
            "purchases": [1, 0, 0],
            "revenue": [10.005, 0.0, 0.0],
        }
    )
    users = user_engagement(sessions, pd.Series([7, 8, 9]).to_numpy())
    assert users["views"].tolist() == [3, 5, 0]
    assert users["sessions"].tolist() == [2, 1, 0]
    assert users["orders"].tolist() == [1, 0, 0]
    assert users["revenue"].tolist() == [10.01, 0.0, 0.0]  # the double 10.005 is 10.00500...
