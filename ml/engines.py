"""The dbt engines the ml models run on: where their inputs come from and where the result goes.

The package computes with DuckDB SQL and pandas on one machine (ml.data.SnapshotSource is a DuckDB
connection and two FROM-clause expressions). On dbt-duckdb that connection is the warehouse's own,
and the inputs are the dbt.ref() relations as they are (nothing changes for DuckDB).

On dbt-spark (the session submitter of plugins/dbt_spark_session_python) `session` is the
SparkSession and dbt.ref() gives Spark DataFrames. They are collected to the driver (as the DuckDB
path collects its frames to Python) into an in-memory DuckDB, with Spark's own column types, sorted
by (as_of_date, user_id) so that both engines feed the models identical frames whatever order Spark
returns rows in. The long result goes back as a Spark DataFrame with the same columns and types,
and the previous build's state rows (ml.store) are read with the session when the table exists.

Values cross as text (Spark casts them, DuckDB casts them back to the Spark column's type): exact
for decimals, 64-bit integers and doubles (Java prints doubles so that they read back the same),
keeps null and NaN apart, and reads timestamps as the session time zone's wall times (UTC in the
project's profile), without pyarrow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from ml.data import SnapshotSource

# Sort keys of the input tables (the snapshot tables are keyed by user and as-of date).
SORT_KEYS = ("as_of_date", "user_id")
# The state rows of the previous build (ml.store reads them by record_type and target).
PREVIOUS_TABLE = "previous_run"
# dbt-spark drops a Parquet table before its Python model runs: the pre-hook
# ml_keep_previous_state (macros/ml_helpers.sql) copies the state rows to <this><KEPT_SUFFIX>.
KEPT_SUFFIX = "__previous_state"
STATE_FILTER = "record_type = 'state'"

# Spark simple type names -> DuckDB types (decimal(p,s) passes through).
SPARK_TO_DUCKDB = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamp_ntz": "TIMESTAMP",
}
# DuckDB result types -> Spark types of the written table.
DUCKDB_TO_SPARK = {
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "INTEGER": "int",
    "BIGINT": "bigint",
    "DOUBLE": "double",
    "FLOAT": "float",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}


@dataclass(frozen=True)
class Inputs:
    """What a dbt Python model of this package works on, whatever the engine: the snapshot
    source, the name of the previous build's table on the source's connection (or None), and
    how a DuckDB relation on that connection becomes the model's result for dbt."""

    source: SnapshotSource
    previous: str | None
    result: Callable[[duckdb.DuckDBPyRelation], Any]


def is_spark(session: object) -> bool:
    """A SparkSession (classic or Spark Connect); anything else is dbt-duckdb's connection."""
    return type(session).__module__.startswith("pyspark.")


def dbt_inputs(session: Any, features: Any, labels: Any, previous: str | None = None) -> Inputs:
    """The Inputs of a dbt model given dbt's session and its dbt.ref() results (`features` may
    be None: the model reads only the labels, which then serve as both tables)."""
    if not is_spark(session):
        labels_query = f"({labels.sql_query()})"
        features_query = labels_query if features is None else f"({features.sql_query()})"
        return Inputs(SnapshotSource(session, features_query, labels_query), previous, _same)
    return _spark_inputs(session, features, labels, previous)


def _same(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    return relation


def _spark_inputs(spark: Any, features: Any, labels: Any, previous: str | None) -> Inputs:
    con = duckdb.connect()
    load_spark_frame(con, "labels", labels)
    features_name = "labels"
    if features is not None:
        load_spark_frame(con, "features", features)
        features_name = "features"
    stored = None
    for table in (previous, f"{previous}{KEPT_SUFFIX}") if previous else ():
        if spark.catalog.tableExists(table):
            load_spark_frame(con, PREVIOUS_TABLE, spark.table(table).where(STATE_FILTER))
            stored = PREVIOUS_TABLE
            break
    source = SnapshotSource(con, features_name, "labels")
    return Inputs(source, stored, lambda relation: to_spark_frame(spark, relation))


def duckdb_type(spark_type: str) -> str:
    if spark_type.startswith("decimal"):
        return spark_type.upper()
    if spark_type not in SPARK_TO_DUCKDB:
        raise TypeError(f"ml on Spark: no DuckDB type for the Spark column type {spark_type}")
    return SPARK_TO_DUCKDB[spark_type]


def load_spark_frame(con: duckdb.DuckDBPyConnection, name: str, frame: Any) -> None:
    """Collect a Spark DataFrame into table `name` of `con`: the same columns with the DuckDB
    types of Spark's, rows sorted by SORT_KEYS (those it has)."""
    fields = [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]
    as_text = frame.selectExpr(*(f"cast(`{c}` as string) as `{c}`" for c, _ in fields))
    collected = as_text.toPandas()
    columns = ", ".join(f"cast({_quote(c)} as {duckdb_type(t)}) as {_quote(c)}" for c, t in fields)
    keys = [_quote(k) for k in SORT_KEYS if k in {c for c, _ in fields}]
    order = f" order by {', '.join(keys)}" if keys else ""
    view = f"spark_{name}_text"
    con.register(view, collected)
    try:
        con.execute(f"create table {_quote(name)} as select {columns} from {view}{order}")
    finally:
        con.unregister(view)


def to_spark_frame(spark: Any, relation: duckdb.DuckDBPyRelation) -> Any:
    """A DuckDB relation as a Spark DataFrame with the same columns, types and values."""
    types = [str(t).upper() for t in relation.types]
    spark_types = []
    for column, kind in zip(relation.columns, types, strict=True):
        if kind not in DUCKDB_TO_SPARK:
            raise TypeError(f"ml on Spark: no Spark type for {column} {kind}")
        spark_types.append(f"`{column}` {DUCKDB_TO_SPARK[kind]}")
    timestamps = [i for i, kind in enumerate(types) if kind == "TIMESTAMP"]
    rows = relation.fetchall()
    if timestamps:
        # Naive datetimes would be read in the driver's local time zone: mark them UTC.
        rows = [_utc(row, timestamps) for row in rows]
    return spark.createDataFrame(rows, schema=", ".join(spark_types))


def _utc(row: tuple, positions: list[int]) -> tuple:
    values = list(row)
    for i in positions:
        if values[i] is not None:
            values[i] = values[i].replace(tzinfo=dt.UTC)
    return tuple(values)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
