"""Read feature snapshots and labels from DuckDB.

A snapshot is every row with one `as_of_date` in two tables keyed by (user_id, as_of_date):
- features: intermediate.int_customer_feature_snapshots (built only from events on or before
  as_of_date); every numeric or boolean column except the keys is a model feature.
- labels: ml.ml_snapshot_labels (population flags, labels from (T, T + H], baseline inputs).

Rows of a snapshot are selected by `as_of_date = T` only, so nothing dated after T (another
snapshot, a later event) can reach a frame built for T.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

import duckdb
import numpy as np
import pandas as pd

from ml.baselines import BASELINE_INPUTS

KEYS = ("user_id", "as_of_date")
NUMERIC_TYPE_PREFIXES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "BOOLEAN",
)
VECTOR_ROWS = 2048  # DuckDB's vector size: fetch_df_chunk counts in vectors
_registration_ids = count()


@dataclass(frozen=True)
class TargetSpec:
    name: str
    label: str  # boolean label column of the labels table (null when not observed)
    population: str  # boolean column: the user belongs to the target's population at T


TARGETS: dict[str, TargetSpec] = {
    "churn": TargetSpec("churn", "churned", "in_churn_population"),
    "big_spender": TargetSpec("big_spender", "is_big_spender", "in_big_spender_population"),
}


@dataclass(frozen=True)
class SnapshotSource:
    """A DuckDB connection and two FROM-clause expressions (table names or subqueries)."""

    con: duckdb.DuckDBPyConnection
    features: str
    labels: str

    @classmethod
    def from_relations(
        cls,
        con: duckdb.DuckDBPyConnection,
        features: duckdb.DuckDBPyRelation,
        labels: duckdb.DuckDBPyRelation,
    ) -> SnapshotSource:
        return cls(con, f"({features.sql_query()})", f"({labels.sql_query()})")

    def frame(self, sql: str, params: list[object] | None = None) -> pd.DataFrame:
        cursor = self.con.cursor()
        try:
            return cursor.execute(sql, params or []).df()
        finally:
            cursor.close()


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def snapshot_dates(source: SnapshotSource) -> list[dt.date]:
    """The as_of_date values present in the feature table, ascending."""
    frame = source.frame(f"select distinct as_of_date from {source.features} order by 1")
    return [pd.Timestamp(v).date() for v in frame["as_of_date"]]


def label_dates(source: SnapshotSource) -> list[dt.date]:
    """The as_of_date values present in the labels table, ascending."""
    frame = source.frame(f"select distinct as_of_date from {source.labels} order by 1")
    return [pd.Timestamp(v).date() for v in frame["as_of_date"]]


def buyers(source: SnapshotSource, as_of: dt.date, columns: tuple[str, ...]) -> pd.DataFrame:
    """user_id and `columns` of the labels table for every buyer at `as_of` (in the churn
    population: a purchase on or before it), ordered by user_id."""
    selected = ", ".join(quote(c) for c in columns)
    frame = source.frame(
        f"select user_id, {selected} from {source.labels} "
        "where as_of_date = ? and in_churn_population order by user_id",
        [as_of],
    )
    frame["user_id"] = frame["user_id"].astype("int64")
    return frame


def first_event_date(source: SnapshotSource) -> dt.date | None:
    """The first day with an event, from the labels table (None without rows)."""
    frame = source.frame(f"select min(first_event_date) as d from {source.labels}")
    value = frame["d"].iloc[0]
    return None if pd.isna(value) else pd.Timestamp(value).date()


def last_label_date(source: SnapshotSource) -> dt.date | None:
    """The last date labels can see (the last clean event date), from the labels table."""
    frame = source.frame(f"select max(last_event_date) as d from {source.labels}")
    value = frame["d"].iloc[0]
    return None if pd.isna(value) else pd.Timestamp(value).date()


def feature_columns(source: SnapshotSource) -> list[str]:
    """Numeric and boolean columns of the feature table, in table order, keys excluded."""
    described = source.frame(f"describe select * from {source.features}")
    return [
        str(name)
        for name, kind in zip(described["column_name"], described["column_type"], strict=True)
        if name not in KEYS and str(kind).upper().startswith(NUMERIC_TYPE_PREFIXES)
    ]


def population(source: SnapshotSource, spec: TargetSpec, as_of: dt.date) -> pd.DataFrame:
    """One row per user of the target's population at `as_of`: user_id, label, baseline inputs.

    `label` is a nullable boolean (null when the label window is not fully observed).
    Rows are ordered by user_id, so every downstream sample is reproducible.
    """
    inputs = ", ".join(quote(c) for c in BASELINE_INPUTS)
    frame = source.frame(
        f"select user_id, {quote(spec.label)} as label, {inputs} from {source.labels} "
        f"where as_of_date = ? and {quote(spec.population)} order by user_id",
        [as_of],
    )
    frame["user_id"] = frame["user_id"].astype("int64")
    frame["label"] = frame["label"].astype("boolean")
    return frame


def population_ids(source: SnapshotSource, spec: TargetSpec, as_of: dt.date) -> np.ndarray:
    """The user_id of every user of the target's population at `as_of`, ascending."""
    cursor = source.con.cursor()
    try:
        values = cursor.execute(
            f"select user_id from {source.labels} "
            f"where as_of_date = ? and {quote(spec.population)} order by user_id",
            [as_of],
        ).fetchnumpy()["user_id"]
    finally:
        cursor.close()
    return np.asarray(values, dtype=np.int64)


def iter_features(
    source: SnapshotSource,
    columns: list[str],
    as_of: dt.date,
    user_ids: np.ndarray,
    chunk_rows: int,
    read: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (positions into user_ids, float32 feature matrix) chunks for the snapshot `as_of`.

    Users without a feature row get NaN features (imputed by the pipeline) rather than being
    dropped, so every user of the population gets a score. Infinite values become NaN.
    `read`: a boolean mask over `columns`; only those are read, the others are NaN (for a model
    that ignores them). Matrices are column-major (Fortran order): the boosted trees predict
    several times faster on it, and each column is filled with one contiguous copy.
    """
    wanted = np.ones(len(columns), dtype=bool) if read is None else np.asarray(read, dtype=bool)
    selected = [c for c, keep in zip(columns, wanted, strict=True) if keep]
    cursor = source.con.cursor()
    name = f"__ml_user_ids_{next(_registration_ids)}"
    ids = pd.DataFrame({"user_id": np.asarray(user_ids, dtype=np.int64)})
    ids["position"] = np.arange(len(ids), dtype=np.int64)
    cursor.register(name, ids)
    found = np.zeros(len(ids), dtype=bool)
    try:
        # NULL -> NaN in SQL: converting columns without NULLs to numpy is 4x faster. An inner
        # join lets DuckDB hash the (small) id list and stream the feature table past it.
        casts = "".join(
            f", coalesce(try_cast(f.{quote(c)} as float), cast('nan' as float)) as {quote(c)}"
            for c in selected
        )
        result = cursor.execute(
            f"select ids.position{casts} from {source.features} as f "
            f"inner join {name} as ids on f.user_id = ids.user_id where f.as_of_date = ?",
            [as_of],
        )
        vectors = max(1, chunk_rows // VECTOR_ROWS)
        while True:
            chunk = result.fetch_df_chunk(vectors)
            if len(chunk) == 0:
                break
            matrix = np.full((len(chunk), len(columns)), np.nan, dtype=np.float32, order="F")
            # One conversion of the whole chunk (pandas joins its float32 columns) is faster
            # than one per column.
            matrix[:, wanted] = chunk[selected].to_numpy(dtype=np.float32)
            matrix[np.isinf(matrix)] = np.nan
            positions = chunk["position"].to_numpy(dtype=np.int64)
            found[positions] = True
            yield positions, matrix
    finally:
        cursor.unregister(name)
        cursor.close()
    # Users without a feature row at as_of: all-NaN rows, in chunks as well.
    missing = np.flatnonzero(~found)
    for start in range(0, len(missing), chunk_rows):
        positions = missing[start : start + chunk_rows]
        yield positions, np.full((len(positions), len(columns)), np.nan, np.float32, order="F")


def load_features(
    source: SnapshotSource,
    columns: list[str],
    as_of: dt.date,
    user_ids: np.ndarray,
    chunk_rows: int = 100_000,
) -> np.ndarray:
    """The float32 feature matrix of `user_ids` at `as_of`, rows in the order of user_ids."""
    matrix = np.full((len(user_ids), len(columns)), np.nan, dtype=np.float32, order="F")
    for positions, chunk in iter_features(source, columns, as_of, user_ids, chunk_rows):
        matrix[positions] = chunk
    return matrix
