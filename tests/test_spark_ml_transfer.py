"""ml.engines on a real local SparkSession: the Parquet hand-off and the streamed-text fallback
give DuckDB the same table (types, nulls, NaN, exact doubles and decimals, UTC wall times, sorted
by the snapshot keys), and a DuckDB result comes back to Spark with the same values and types.

Needs pyspark and Java 17 (skipped with the reason otherwise; failed when SPARK_PARITY_REQUIRED=1,
as in `make test`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from ml import engines

pytestmark = pytest.mark.spark

SPARK_ROWS = [
    ("2019-11-02", 7, 0.1, "1.50", "2019-11-02 23:59:59.123456", None, True),
    ("2019-11-01", 9, float("nan"), None, "2019-11-01 00:00:00", "b", None),
    ("2019-11-01", 3, 1 / 3, "-2.25", None, 'a,"q"', False),
    ("2019-11-02", 1, None, "0.00", "2019-11-03 01:02:03", "", True),
]
SPARK_SCHEMA = (
    "as_of_date string, user_id bigint, ratio double, price string, seen string, brand string, "
    "flag boolean"
)
TYPED = [
    "cast(as_of_date as date) as as_of_date",
    "user_id",
    "ratio",
    "cast(price as decimal(12,2)) as price",
    "cast(seen as timestamp) as seen",
    "brand",
    "flag",
]


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory):
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        _unavailable(f"pyspark is not installed ({error})")
    if shutil.which("java") is None:
        _unavailable("Java 17 is not installed")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[1]")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    yield session
    session.stop()


def _unavailable(reason: str) -> None:
    if os.environ.get("SPARK_PARITY_REQUIRED") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _frame(spark):
    # Two partitions, so that both paths read more than one file / partition.
    return spark.createDataFrame(SPARK_ROWS, SPARK_SCHEMA).repartition(2).selectExpr(*TYPED)


def _loaded(load, spark) -> tuple[list[tuple], list[str]]:
    con = duckdb.connect()
    load(con, "features", _frame(spark))
    relation = con.table("features")
    return relation.fetchall(), [str(t) for t in relation.types]


def _same(left: list[tuple], right: list[tuple]) -> bool:
    def key(value: object) -> object:
        return "nan" if isinstance(value, float) and math.isnan(value) else value

    return [tuple(map(key, r)) for r in left] == [tuple(map(key, r)) for r in right]


def test_handoff_and_stream_load_the_same_sorted_typed_rows(spark) -> None:
    handoff = engines.HandOff.open(spark)
    assert handoff is not None, "a local warehouse folder takes the Parquet hand-off"
    parquet_rows, parquet_types = _loaded(handoff.load, spark)
    streamed_rows, streamed_types = _loaded(engines.stream_spark_frame, spark)
    assert parquet_types == streamed_types == [
        "DATE", "BIGINT", "DOUBLE", "DECIMAL(12,2)", "TIMESTAMP", "VARCHAR", "BOOLEAN"
    ]  # fmt: skip
    assert _same(parquet_rows, streamed_rows)
    assert [(r[0], r[1]) for r in parquet_rows] == [
        (dt.date(2019, 11, 1), 3),
        (dt.date(2019, 11, 1), 9),
        (dt.date(2019, 11, 2), 1),
        (dt.date(2019, 11, 2), 7),
    ]
    by_user = {r[1]: r for r in parquet_rows}
    assert by_user[3][2] == 1 / 3 and by_user[3][3] == decimal.Decimal("-2.25")
    assert math.isnan(by_user[9][2]) and by_user[1][2] is None
    assert by_user[7][4] == dt.datetime(2019, 11, 2, 23, 59, 59, 123456)
    assert by_user[3][5] == 'a,"q"' and by_user[1][5] == "" and by_user[7][5] is None
    # The inputs' files are gone once DuckDB holds them.
    assert not list(Path(handoff.folder).glob("features*"))


def test_result_comes_back_with_types_and_values(spark) -> None:
    con = duckdb.connect()
    relation = con.sql(
        "select * from (values (1::bigint, 'x', 0.1::double, timestamp '2019-11-02 23:59:59',"
        " date '2019-11-02', 5::integer, true), (2, null, 'nan'::double, null, null, null, null))"
        " t(user_id, name, score, scored_at, as_of_date, rank, flag)"
    )
    handoff = engines.HandOff.open(spark)
    assert handoff is not None
    for back in (handoff.result(relation), engines.to_spark_frame(spark, relation)):
        assert [f.dataType.simpleString() for f in back.schema.fields] == [
            "bigint", "string", "double", "timestamp", "date", "int", "boolean"
        ]  # fmt: skip
        rows = sorted(tuple(r) for r in back.collect())
        assert rows[0][:3] == (1, "x", 0.1) and rows[0][4:] == (dt.date(2019, 11, 2), 5, True)
        assert back.selectExpr("cast(scored_at as string)").first()[0] == "2019-11-02 23:59:59"
        assert math.isnan(rows[1][2]) and rows[1][1] is None and rows[1][3] is None


def test_handoff_needs_a_folder_this_process_sees(tmp_path: Path) -> None:
    assert engines.local_folder(f"file:{tmp_path}") == str(tmp_path)
    assert engines.local_folder(str(tmp_path)) == str(tmp_path)
    assert engines.local_folder("s3a://bucket/warehouse") is None
    assert engines.local_folder(f"file:{tmp_path}/absent") is None


def test_stale_handoff_runs_are_removed(tmp_path: Path) -> None:
    other = tmp_path / "1-old"
    mine = tmp_path / f"{os.getpid()}-running"
    other.mkdir()
    mine.mkdir()
    engines.remove_stale_runs(str(tmp_path))
    assert not other.exists() and mine.exists()
