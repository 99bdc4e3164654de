"""The dbt engines the ml models run on: where their inputs come from and where the result goes.

The package computes with DuckDB SQL and pandas on one machine (ml.data.SnapshotSource is a DuckDB
connection and two FROM-clause expressions). On dbt-duckdb that connection is the warehouse's own,
and the inputs are the dbt.ref() relations as they are (nothing changes for DuckDB).

On dbt-spark (the session submitter of plugins/dbt_spark_session_python) `session` is the
SparkSession and dbt.ref() gives Spark DataFrames. They are copied into an in-memory DuckDB with
the DuckDB types of Spark's columns, sorted by (as_of_date, user_id) so that both engines feed the
models identical frames whatever order Spark returns rows in. The long result goes back as a Spark
DataFrame with the same columns and types, and the previous build's state rows (ml.store) are read
with the session when the table exists.

How the rows cross, in order of preference:
- Parquet files (HandOff): when the Spark warehouse folder is on a file system this process can
  read (local mode, or a cluster whose warehouse is a shared mount), Spark writes each input as
  Parquet into <warehouse>/_ml_handoff/ and DuckDB reads it; the result goes back the same way.
  Nothing passes through the driver's JVM heap: collecting the inputs there failed at 10 M events
  (1.1 GB of results, then an 8g heap; docs/spark.md).
- Streamed text (fallback, e.g. an S3 warehouse): Spark casts every value to text, the rows come
  to this process partition by partition (toLocalIterator) and DuckDB casts them back, in batches
  of STREAM_BATCH_ROWS, so memory holds one batch. Text is exact for decimals, 64-bit integers and
  doubles (Java prints doubles so that they read back the same) and keeps null and NaN apart.
Timestamps are the session time zone's wall times (UTC in the project's profile) on both paths.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import duckdb

from ml.data import SnapshotSource, quote

# Sort keys of the input tables (the snapshot tables are keyed by user and as-of date).
SORT_KEYS = ("as_of_date", "user_id")
# The state rows of the previous build (ml.store reads them by record_type and target).
PREVIOUS_TABLE = "previous_run"
# dbt-spark drops a Parquet table before its Python model runs: the pre-hook
# ml_keep_previous_state (macros/ml_helpers.sql) copies the state rows to <this><KEPT_SUFFIX>.
KEPT_SUFFIX = "__previous_state"
STATE_FILTER = "record_type = 'state'"
# Folder of the Parquet hand-off, inside the Spark warehouse folder (one sub-folder per model run).
HANDOFF_FOLDER = "_ml_handoff"
# Rows per batch of the streamed fallback.
STREAM_BATCH_ROWS = 100_000

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
    handoff = HandOff.open(spark)
    load = handoff.load if handoff else stream_spark_frame
    load(con, "labels", labels)
    features_name = "labels"
    if features is not None:
        load(con, "features", features)
        features_name = "features"
    stored = None
    for table in (previous, f"{previous}{KEPT_SUFFIX}") if previous else ():
        if spark.catalog.tableExists(table):
            load(con, PREVIOUS_TABLE, spark.table(table).where(STATE_FILTER))
            stored = PREVIOUS_TABLE
            break
    source = SnapshotSource(con, features_name, "labels")
    if handoff:
        return Inputs(source, stored, handoff.result)
    return Inputs(source, stored, lambda relation: to_spark_frame(spark, relation))


def duckdb_type(spark_type: str) -> str:
    if spark_type.startswith("decimal"):
        return spark_type.upper()
    if spark_type not in SPARK_TO_DUCKDB:
        raise TypeError(f"ml on Spark: no DuckDB type for the Spark column type {spark_type}")
    return SPARK_TO_DUCKDB[spark_type]


def spark_type(column: str, duckdb_kind: str) -> str:
    kind = duckdb_kind.upper()
    if kind not in DUCKDB_TO_SPARK:
        raise TypeError(f"ml on Spark: no Spark type for {column} {kind}")
    return DUCKDB_TO_SPARK[kind]


def local_folder(uri: str) -> str | None:
    """The folder of a `file:` URI or a plain path, when it exists here; None for other schemes
    (s3a:, hdfs:, ...) or a folder this process does not see."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("", "file"):
        return None
    path = urllib.parse.unquote(parts.path) if parts.scheme else uri
    return path if os.path.isdir(path) else None


@dataclass(frozen=True)
class HandOff:
    """Parquet files between Spark and this process, in a folder of the Spark warehouse that both
    read and write (see the module docstring)."""

    spark: Any
    folder: str

    @classmethod
    def open(cls, spark: Any) -> HandOff | None:
        warehouse = local_folder(spark.conf.get("spark.sql.warehouse.dir"))
        if warehouse is None:
            return None
        root = os.path.join(warehouse, HANDOFF_FOLDER)
        remove_stale_runs(root)
        folder = os.path.join(root, f"{os.getpid()}-{uuid.uuid4().hex}")
        os.makedirs(folder)
        return cls(spark, folder)

    def load(self, con: duckdb.DuckDBPyConnection, name: str, frame: Any) -> None:
        """Table `name` of `con` from a Spark DataFrame: the same columns with the DuckDB types of
        Spark's, rows sorted by SORT_KEYS (those it has)."""
        fields = _fields(frame)
        # timestamp_ntz: Parquet without a time-zone adjustment, read by DuckDB as the wall time.
        written = frame.selectExpr(
            *(
                f"cast(`{c}` as timestamp_ntz) as `{c}`" if t == "timestamp" else f"`{c}`"
                for c, t in fields
            )
        )
        path = os.path.join(self.folder, name)
        written.write.mode("overwrite").parquet(path)
        files = glob.glob(os.path.join(path, "*.parquet"))
        if not files and frame.limit(1).count():
            raise RuntimeError(
                f"ml on Spark: Spark wrote {name} to {path}, and no Parquet file is there for this "
                "process to read: the Spark warehouse folder is not shared with the dbt process"
            )
        source = f"read_parquet({_sql_list(files)})" if files else None
        _create_sorted(con, name, fields, source)
        shutil.rmtree(path, ignore_errors=True)

    def result(self, relation: duckdb.DuckDBPyRelation) -> Any:
        """The result for dbt as a Spark DataFrame read from Parquet. The files stay until the
        next build's first ml model removes them (dbt writes the table after this returns)."""
        types = [
            spark_type(c, str(k)) for c, k in zip(relation.columns, relation.types, strict=True)
        ]
        path = os.path.join(self.folder, "result")
        relation.write_parquet(path + ".parquet")
        frame = self.spark.read.parquet(path + ".parquet")
        return frame.selectExpr(
            *(f"cast(`{c}` as {t}) as `{c}`" for c, t in zip(relation.columns, types, strict=True))
        )


def remove_stale_runs(root: str) -> None:
    """Remove the hand-off folders of earlier dbt processes (this process's other models may be
    running: their folders carry its pid)."""
    mine = f"{os.getpid()}-"
    for folder in glob.glob(os.path.join(root, "*")):
        if not os.path.basename(folder).startswith(mine):
            shutil.rmtree(folder, ignore_errors=True)


def stream_spark_frame(con: duckdb.DuckDBPyConnection, name: str, frame: Any) -> None:
    """Table `name` of `con` from a Spark DataFrame streamed as text (the fallback; see the module
    docstring), with the columns, types and order of HandOff.load."""
    fields = _fields(frame)
    as_text = frame.selectExpr(*(f"cast(`{c}` as string) as `{c}`" for c, _ in fields))
    staging = f"spark_{name}_text"
    text_columns = ", ".join(f"{quote(c)} varchar" for c, _ in fields)
    con.execute(f"create temp table {quote(staging)} ({text_columns})")
    try:
        for batch in _batches(as_text.toLocalIterator(), STREAM_BATCH_ROWS):
            con.executemany(
                f"insert into {quote(staging)} values ({', '.join('?' for _ in fields)})",
                [tuple(row) for row in batch],
            )
        _create_sorted(con, name, fields, quote(staging))
    finally:
        con.execute(f"drop table if exists {quote(staging)}")


def _batches(rows: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _fields(frame: Any) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]


def _create_sorted(
    con: duckdb.DuckDBPyConnection, name: str, fields: list[tuple[str, str]], source: str | None
) -> None:
    """create table `name` from `source` (None: no rows) with the DuckDB types of the Spark
    `fields`, sorted by SORT_KEYS."""
    if source is None:
        columns = ", ".join(f"{quote(c)} {duckdb_type(t)}" for c, t in fields)
        con.execute(f"create table {quote(name)} ({columns})")
        return
    columns = ", ".join(f"cast({quote(c)} as {duckdb_type(t)}) as {quote(c)}" for c, t in fields)
    keys = [quote(k) for k in SORT_KEYS if k in {c for c, _ in fields}]
    order = f" order by {', '.join(keys)}" if keys else ""
    con.execute(f"create table {quote(name)} as select {columns} from {source}{order}")


def to_spark_frame(spark: Any, relation: duckdb.DuckDBPyRelation) -> Any:
    """A DuckDB relation as a Spark DataFrame with the same columns, types and values (the
    fallback's way back)."""
    types = [str(t).upper() for t in relation.types]
    schema = ", ".join(
        f"`{c}` {spark_type(c, k)}" for c, k in zip(relation.columns, types, strict=True)
    )
    timestamps = [i for i, kind in enumerate(types) if kind == "TIMESTAMP"]
    rows = relation.fetchall()
    if timestamps:
        # Naive datetimes would be read in the driver's local time zone: mark them UTC.
        rows = [_utc(row, timestamps) for row in rows]
    return spark.createDataFrame(rows, schema=schema)


def _utc(row: tuple, positions: list[int]) -> tuple:
    values = list(row)
    for i in positions:
        if values[i] is not None:
            values[i] = values[i].replace(tzinfo=dt.UTC)
    return tuple(values)


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
