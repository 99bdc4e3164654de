"""Tests of the REES46-format clickstream generator (warehouse.generate), on small samples."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import duckdb
import pytest

from warehouse.__main__ import main as cli_main
from warehouse.generate import COLUMNS, HEADER, generate

ROWS = 40_000
START = "2019-10-01"
DAYS = 152
SEED = 7


def read_rows(path: Path | str) -> list[tuple]:
    """All rows of a generated file, in file order, every field as text (None when empty)."""
    path = str(path)
    con = duckdb.connect()
    if path.endswith(".parquet"):
        source = f"read_parquet('{path}')"
    else:
        source = f"read_csv('{path}', header = true, all_varchar = true, quote = '', escape = '')"
    return con.execute(f"SELECT * FROM {source}").fetchall()


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    """A 40k-row sample over 152 days, loaded into DuckDB as table e (with file order rn)."""
    out = tmp_path_factory.mktemp("sample") / "events.csv.gz"
    (path,) = generate(ROWS, START, DAYS, SEED, out, progress=False)
    con = duckdb.connect()
    con.execute(
        f"""CREATE TABLE e AS SELECT *, row_number() OVER () AS rn
        FROM read_csv('{path}', header = true, all_varchar = true)"""
    )
    return con


def scalar(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


def test_header_is_exact(tmp_path: Path) -> None:
    (gz,) = generate(2_000, START, 3, SEED, tmp_path / "a.csv.gz", progress=False)
    (plain,) = generate(2_000, START, 3, SEED, tmp_path / "a.csv", progress=False)
    with gzip.open(gz, "rt") as fh:
        assert fh.readline() == HEADER + "\n"
    assert plain.read_text().splitlines()[0] == HEADER
    assert HEADER == (
        "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,"
        "user_session"
    )
    assert gzip.decompress(gz.read_bytes()) == plain.read_bytes()


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    first = generate(20_000, START, 40, 3, tmp_path / "one/e-{month}.csv.gz", progress=False)
    second = generate(20_000, START, 40, 3, tmp_path / "two/e-{month}.csv.gz", progress=False)
    other = generate(20_000, START, 40, 4, tmp_path / "three/e-{month}.csv.gz", progress=False)
    assert [p.name for p in first] == [p.name for p in second] == [p.name for p in other]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert first[0].read_bytes() != other[0].read_bytes()
    pq = [
        generate(5_000, START, 5, 3, tmp_path / f"p{i}.parquet", progress=False)[0] for i in (1, 2)
    ]
    assert pq[0].read_bytes() == pq[1].read_bytes()


def test_row_count_is_exact(sample) -> None:
    assert scalar(sample, "SELECT count(*) FROM e") == ROWS


def test_formats_carry_the_same_rows(tmp_path: Path) -> None:
    rows = {
        ext: read_rows(generate(5_000, START, 10, SEED, tmp_path / f"f.{ext}", progress=False)[0])
        for ext in ("csv", "csv.gz", "parquet")
    }
    assert len(rows["csv"]) == 5_000
    assert rows["csv"] == rows["csv.gz"] == rows["parquet"]
    types = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{tmp_path / 'f.parquet'}')")
    assert [(r[0], r[1]) for r in types.fetchall()] == [(c, "VARCHAR") for c in COLUMNS]


def test_field_formats(sample) -> None:
    patterns = {
        "event_time": r"^(2019-1[0-2]|2020-0[1-2])-\d\d \d\d:\d\d:\d\d UTC$",
        "event_type": r"^(view|cart|remove_from_cart|purchase)$",
        "product_id": r"^[1-9]\d{6,7}$",
        "category_id": r"^[1-9]\d{18}$",
        "category_code": r"^[a-z_]+(\.[a-z_]+)+$",
        "brand": r"^[a-z0-9][a-z0-9-]*$",
        "price": r"^\d{1,4}\.\d\d$",
        "user_id": r"^[1-9]\d{8}$",
        "user_session": r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
    }
    for column, pattern in patterns.items():
        bad = scalar(
            sample,
            f"SELECT count(*) FROM e WHERE {column} IS NOT NULL "
            f"AND NOT regexp_matches({column}, '{pattern}')",
        )
        assert bad == 0, column
    # Exact 19-digit ids survive a BIGINT round trip (no float rounding anywhere).
    assert (
        scalar(sample, "SELECT count(*) FROM e WHERE category_id::BIGINT::VARCHAR <> category_id")
        == 0
    )
    assert scalar(sample, "SELECT max(price::DOUBLE) FROM e") <= 2_574.07
    assert 200 < scalar(sample, "SELECT avg(price::DOUBLE) FROM e") < 400
    assert scalar(sample, "SELECT count(*) FROM e WHERE price::DOUBLE = 0") > 0


def test_gzip_readable_and_in_time_order(sample) -> None:
    unsorted = scalar(
        sample,
        "SELECT count(*) FROM (SELECT event_time < lag(event_time) OVER (ORDER BY rn) AS bad "
        "FROM e) WHERE bad",
    )
    assert unsorted == 0
    first, last = sample.execute("SELECT min(event_time), max(event_time) FROM e").fetchone()
    assert first >= "2019-10-01 00:00:00 UTC"
    assert last < "2020-03-01 00:00:00 UTC"


def test_event_type_shares(sample) -> None:
    shares = dict(
        sample.execute(
            "SELECT event_type, count(*) / sum(count(*)) OVER () FROM e GROUP BY 1"
        ).fetchall()
    )
    assert 0.94 < shares["view"] < 0.97
    assert 0.018 < shares["cart"] < 0.026
    assert 0.014 < shares["purchase"] < 0.021
    assert 0.003 < shares["remove_from_cart"] < 0.01


def test_duplicates_and_nulls(sample) -> None:
    distinct = scalar(sample, "SELECT count(*) FROM (SELECT DISTINCT * EXCLUDE (rn) FROM e)")
    assert 0.0008 < (ROWS - distinct) / ROWS < 0.0025
    code, brand, session = sample.execute(
        "SELECT avg((category_code IS NULL)::INT), avg((brand IS NULL)::INT), "
        "count(*) FILTER (WHERE user_session IS NULL) FROM e"
    ).fetchone()
    assert 0.22 < code < 0.42
    assert 0.08 < brand < 0.20
    assert session >= 1
    # Null category_code is a property of the category, null brand of the product.
    assert (
        scalar(
            sample,
            "SELECT count(*) FROM (SELECT category_id FROM e GROUP BY 1 "
            "HAVING count(DISTINCT category_code) > 1 "
            "OR count(category_code) BETWEEN 1 AND count(*) - 1)",
        )
        == 0
    )
    assert (
        scalar(
            sample,
            "SELECT count(*) FROM (SELECT product_id FROM e GROUP BY 1 "
            "HAVING count(brand) BETWEEN 1 AND count(*) - 1)",
        )
        == 0
    )


def test_users_and_sessions_shape(sample) -> None:
    users, sessions = sample.execute(
        "SELECT count(DISTINCT user_id), count(DISTINCT user_session) FROM e"
    ).fetchone()
    assert abs(users - ROWS / 14) < 0.1 * ROWS / 14
    assert 3.5 < ROWS / sessions < 6.0
    # Heavy-tailed activity: a typical user has a handful of events, the top ones hundreds.
    median, top = sample.execute(
        "SELECT median(n), max(n) FROM (SELECT count(*) AS n FROM e GROUP BY user_id)"
    ).fetchone()
    assert median <= 10
    assert top >= 100
    # Events of a session are seconds to minutes apart.
    assert (
        scalar(
            sample,
            "SELECT quantile_cont(s, 0.5) FROM (SELECT date_diff('second', "
            "min(strptime(event_time, '%Y-%m-%d %H:%M:%S UTC')), "
            "max(strptime(event_time, '%Y-%m-%d %H:%M:%S UTC'))) AS s "
            "FROM e WHERE user_session IS NOT NULL GROUP BY user_session HAVING count(*) > 1)",
        )
        < 900
    )


def test_purchases_mostly_follow_a_cart(sample) -> None:
    with_cart = scalar(
        sample,
        """SELECT avg(has_cart::INT) FROM (
            SELECT EXISTS (
                SELECT 1 FROM e c WHERE c.user_session = p.user_session
                AND c.product_id = p.product_id AND c.event_type = 'cart' AND c.rn < p.rn
            ) AS has_cart
            FROM e p WHERE p.event_type = 'purchase' AND p.user_session IS NOT NULL)""",
    )
    assert 0.75 < with_cart < 0.97  # usually, but not always


def test_repeat_buyers_and_later_session_purchases(sample) -> None:
    repeat = scalar(
        sample,
        """SELECT count(*) FROM (
            SELECT user_id FROM e WHERE event_type = 'purchase' GROUP BY 1
            HAVING count(DISTINCT date_diff('day', DATE '2019-10-01',
                strptime(event_time, '%Y-%m-%d %H:%M:%S UTC')::DATE) // 28) >= 2)""",
    )
    assert repeat >= 20
    later = scalar(
        sample,
        """SELECT count(*) FROM e p JOIN e c ON c.user_id = p.user_id
            AND c.product_id = p.product_id AND c.event_type = 'cart'
            AND c.user_session <> p.user_session AND c.rn < p.rn
        WHERE p.event_type = 'purchase'""",
    )
    assert later > 0


def test_month_and_date_splitting(tmp_path: Path) -> None:
    paths = generate(8_000, "2019-10-20", 50, SEED, tmp_path / "m/ev-{month}.csv", progress=False)
    assert [p.name for p in paths] == ["ev-2019-10.csv", "ev-2019-11.csv", "ev-2019-12.csv"]
    total = 0
    for path in paths:
        month = re.search(r"(\d{4}-\d\d)", path.name).group(1)
        rows = read_rows(path)
        assert rows and all(r[0].startswith(month) for r in rows)
        total += len(rows)
    assert total == 8_000
    days = generate(3_000, START, 3, SEED, tmp_path / "d/{date}/ev.parquet", progress=False)
    assert [p.parent.name for p in days] == ["2019-10-01", "2019-10-02", "2019-10-03"]
    assert sum(len(read_rows(p)) for p in days) == 3_000
    assert not list(tmp_path.rglob(".generate-*"))  # temporary parts are cleaned up


def test_progress_and_cli(tmp_path: Path, capsys) -> None:
    generate(1_000, START, 2, SEED, tmp_path / "quiet.csv", progress=False)
    assert capsys.readouterr().err == ""
    out = tmp_path / "cli" / "ev.csv.gz"
    args = ["generate", "--rows", "1000", "--days", "2", "--seed", "1", "--out", str(out)]
    assert cli_main(args) == 0
    captured = capsys.readouterr()
    assert "rows" in captured.err
    assert captured.out.strip() == str(out)
    assert len(read_rows(out)) == 1_000


def test_rejects_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="csv"):
        generate(100, START, 1, SEED, tmp_path / "x.json", progress=False)
