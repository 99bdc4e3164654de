"""The warehouse on Apache Spark equals the warehouse on DuckDB: the same small generated data set,
with every fault kind of tests/test_staging.py and RFC 4180 variants (quoted fields, a multi-line
record, a stray quote, CRLF, lenient timestamps), is built with `dbt build` (seeds, staging,
intermediate, marts, ml; unit and data tests included) on both engines, and every staging,
intermediate, marts and ml relation is compared row for row (doubles to a relative 1e-9, lists
as sorted lists; the ml relations and the marts that read them, ML_MARTS, to ML_ABS_TOLERANCE
or ML_REL_TOLERANCE). On Spark, raw rows = clean rows + quarantined rows per file.

DuckDB builds once, in full. Spark builds twice, as a warehouse is fed: first without the last
days (LATE_FROM on, a file of their own), then incrementally once that file has arrived; so the
Spark increments (insert_overwrite by date partition, the stored snapshots and states) are
proved equal to DuckDB's full build, and tests/test_incremental.py proves DuckDB's increments
equal to its full build.

The ml models (three Python, the SQL models that split their tables) run the same ml/ code on
both engines (on Spark through plugins/dbt_spark_session_python, fed by ml/engines.py). Left
out: columns ENGINE_COLUMNS, RELATION_ENGINE_COLUMNS and the training tables' rows outside
ML_KEPT_ROWS.

Needs a dbt with dbt-spark and pyspark (env SPARK_DBT, default: the dbt beside this Python) and
Java 17; skipped with the reason otherwise (failed when env SPARK_PARITY_REQUIRED=1, as in
`make test`, which installs both and runs it; `make test-spark` runs it alone).
"""

from __future__ import annotations

import decimal
import functools
import gzip
import math
import os
import shutil
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DBT, PROJECT_DIR, run_dbt
from tests.test_staging import HEADER, raw_data_lines, write_fault_files

SPARK_DBT = os.environ.get("SPARK_DBT", DBT)
# The marts that read models/ml.
ML_MARTS = ["customer_churn_risk", "churn_risk_segments", "revenue_at_risk"]
BUILD = [
    "build",
    "--select",
    "resource_type:seed",
    "staging",
    "intermediate",
    "marts",
    "ml",
    # A 5-day horizon puts feature snapshots every 3 days over the 28 days, so the snapshot
    # marts (rfm_segment_transitions) have rows; with 7 days of history required (instead of
    # 28) every ML target has backtest cutoffs and trains.
    "--vars",
    "{churn_horizon_days: 5, ml_min_history_days: 7}",
]
RELATIONS = [
    "base_raw_event_lines",
    "base_raw_event_parquet",
    "stg_raw_events",
    "stg_event_duplicates",
    "stg_events",
    "quarantined_events",
]


def model_names(folder: str, exclude: tuple[str, ...] = ()) -> list[str]:
    return sorted(
        p.stem for p in (PROJECT_DIR / "models" / folder).glob("*.sql") if p.stem not in exclude
    )


# Every intermediate and marts relation (views included), as (schema, relation).
WAREHOUSE_RELATIONS = [("intermediate", r) for r in model_names("intermediate")] + [
    ("marts", r) for r in model_names("marts")
]
# The ml relations: the SQL models and the long tables of the three Python training models.
ML_TRAINING = ["ml_big_spender_training", "ml_churn_training", "ml_clv_training"]
ML_RELATIONS = [("ml", r) for r in sorted(model_names("ml") + ML_TRAINING)]
SCHEMA_RELATIONS = [("staging", r) for r in RELATIONS] + WAREHOUSE_RELATIONS + ML_RELATIONS
# Columns left out everywhere: line_hash and session_key are each engine's own 64-bit hash
# (DuckDB hash(), Spark xxhash64(); they only group equal values within a build), loaded_at is
# the time of each build.
ENGINE_COLUMNS = {"line_hash", "loaded_at", "session_key"}
# int_funnel_entity_stages.entity_id is the session_key (as text) on its session rows;
# model_runs.seconds is each training run's wall time, and training_reused says whether the run
# refitted or reused the models its previous build stored: build history, not a result (DuckDB
# builds once, Spark twice; test_spark_increment_reuses_fitted_models checks it).
RELATION_ENGINE_COLUMNS = {
    "int_funnel_entity_stages": {"entity_id"},
    "model_runs": {"seconds", "training_reused"},
}
# Rows of the training tables compared: all but those two run attributes and the 'state' rows
# (the training key and a zlib'd pickle of the fitted models: bytes, not a result; what they
# were fitted on and predict is compared through every other row).
ML_KEPT_ROWS = (
    "not (record_type = 'state' or"
    " (record_type = 'run' and name in ('seconds', 'training_reused')))"
)
ROW_FILTERS = dict.fromkeys(ML_TRAINING, ML_KEPT_ROWS)
# The ML figures come from the same scikit-learn and scipy code on frames sorted alike
# (ml/engines.py), but Spark and DuckDB add doubles in another order: revenue sums differ in their
# last bits (relative ~1e-16), which iterative fits (the big-spender models, BG/NBD x Gamma-Gamma)
# amplify to a relative ~5e-7, and once 1.0e-6 (CLV, 2026-12-08). Probabilities agree to an
# absolute ML_ABS_TOLERANCE, money figures (CLV, expected revenue, CLV at risk) to a relative
# ML_REL_TOLERANCE.
ML_ABS_TOLERANCE = 1e-6
ML_REL_TOLERANCE = 1e-5
ML_TOLERANCE_RELATIONS = {r for _, r in ML_RELATIONS} | set(ML_MARTS)
# 50k events over 28 days: enough buyers (ml.config min_population 100) at every backtest cutoff
# for all three ML targets to train (with BUILD's vars), and small enough for Spark local[2].
SPARK_PARITY_SAMPLE = {"rows": 50_000, "start": "2019-10-25", "days": 28, "seed": 11}
# The last two days of the sample (to 2019-11-21) arrive as a new file after the first Spark build.
LATE_FROM = "2019-11-20"
LATE_FILE = "events-2019-11-20.csv.gz"

# Lines written with CRLF endings: every field quoted, a quoted comma, a "" escape, a record whose
# quoted field spans two lines, timestamps DuckDB's strptime reads leniently, an id with a leading
# zero (clean but not renderable), and a stray quote that costs one malformed row.
QUOTED_LINES = [
    '"2019-10-26 10:00:00 UTC","view","11","2053013555631882655","","a,b","10.5","900","q1"',
    '2019-10-26 10:00:01 UTC,view,11,2053013555631882655,,"5"" tv",10.6,900,q1',
    '2019-10-26 10:00:02 UTC,view,11,2053013555631882655,,"multi',
    'line brand",10.7,900,q1',
    "2019-10-26 10:00:03 UTC,cart,11,2053013555631882655,,,10.8,900,q1",
    " 2019-10-26 10:00:04 UTC,view,12,2053013555631882655,,,1.0,900,",
    "2019-10-26 1:0:5 UTC,view,12,2053013555631882655,,,1.0,900,",
    "2019-10-26 10:00:06 UTC,view,013,2053013555631882655,,,1.0,901,",
    '2019-10-26 10:00:07 UTC,view,11,2053013555631882655,,"stray,10.9,900,q1',
    "2019-10-26 10:00:08 UTC,purchase,11,2053013555631882655,,,10.8,900,q1",
    "2019-10-26 10:00:09 UTC,view,11,2053013555631882655,,,1e2,902,",
]


@functools.cache
def spark_unavailable_reason() -> str | None:
    """Why the Spark build cannot run here, or None."""
    if shutil.which("java") is None:
        return "no java on PATH (Spark 4 needs Java 17: apt-get install openjdk-17-jre-headless)"
    if not Path(SPARK_DBT).exists():
        return f"no dbt at SPARK_DBT={SPARK_DBT}"
    python = Path(SPARK_DBT).with_name("python")
    probe = subprocess.run(
        [str(python), "-c", "import pyspark, dbt.adapters.spark"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"{python} cannot import pyspark and dbt-spark (make test-spark installs them)"
    return None


# `make test` installs Spark and sets SPARK_PARITY_REQUIRED=1: there a missing Spark fails the
# run instead of skipping the proof.
if os.environ.get("SPARK_PARITY_REQUIRED") == "1" and spark_unavailable_reason() is not None:
    pytest.fail(f"Spark parity required but: {spark_unavailable_reason()}", pytrace=False)

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        spark_unavailable_reason() is not None, reason=str(spark_unavailable_reason())
    ),
]


def split_late_days(folder: Path) -> None:
    """Moves the generated rows from LATE_FROM on out of their month file into LATE_FILE, line
    for line (the generator writes one record per line, event_time first)."""
    month = folder / "events-2019-11.csv.gz"
    header, *rows = gzip.decompress(month.read_bytes()).decode().splitlines(keepends=True)
    late = [r for r in rows if r[:10] >= LATE_FROM]
    assert late and len(late) < len(rows)
    month.write_bytes(
        gzip.compress("".join([header, *(r for r in rows if r[:10] < LATE_FROM)]).encode())
    )
    (folder / LATE_FILE).write_bytes(gzip.compress("".join([header, *late]).encode()))


def write_inputs(folder: Path) -> list[str]:
    """The generated sample (.csv.gz per month, the last days in LATE_FILE), the fault files
    and the RFC 4180 file."""
    from warehouse.generate import generate

    generate(out=str(folder / "events-{month}.csv.gz"), progress=False, **SPARK_PARITY_SAMPLE)
    split_late_days(folder)
    write_fault_files(folder)
    (folder / "d_quoted.csv").write_bytes(
        ("\r\n".join([HEADER, *QUOTED_LINES]) + "\r\n\r\n").encode()
    )
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark_parity")
    raw = root / "raw"
    raw.mkdir()
    files = write_inputs(raw)
    timings = {}

    duck = root / "duckdb"
    started = time.monotonic()
    res = run_dbt(BUILD, events_path=raw / "*", warehouse_path=duck / "w.duckdb", workdir=duck)
    timings["duckdb build"] = time.monotonic() - started
    assert res.ok, res.output[-4000:]

    spark = root / "spark"
    env = {
        "SPARK_WAREHOUSE_DIR": str(spark / "warehouse"),
        "SPARK_MASTER": os.environ.get("SPARK_MASTER", "local[2]"),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    kwargs = {
        "events_path": raw / "*",
        "warehouse_path": spark / "unused.duckdb",
        "workdir": spark,
        "extra_env": env,
        "dbt": SPARK_DBT,
    }
    # First without the late days, then incrementally with them (the same paths as DuckDB's).
    aside = root / LATE_FILE
    (raw / LATE_FILE).rename(aside)
    started = time.monotonic()
    res = run_dbt([*BUILD, "--target", "spark"], **kwargs)
    timings["spark build without the late days"] = time.monotonic() - started
    assert res.ok, res.output[-6000:]
    aside.rename(raw / LATE_FILE)
    started = time.monotonic()
    res = run_dbt([*BUILD, "--target", "spark"], **kwargs)
    timings["spark incremental build"] = time.monotonic() - started
    assert res.ok, res.output[-6000:]

    # Views are not stored: Spark writes every relation out as Parquet for DuckDB to read.
    export = spark / "export"
    relations = ", ".join(f"{schema}.{r}" for schema, r in SCHEMA_RELATIONS)
    started = time.monotonic()
    res = run_dbt(
        [
            "run-operation",
            "export_relations_to_parquet",
            "--args",
            f"{{relations: [{relations}], folder: '{export}'}}",
            "--target",
            "spark",
        ],
        **kwargs,
    )
    timings["spark export"] = time.monotonic() - started
    assert res.ok, res.output[-6000:]
    print("\n" + ", ".join(f"{k}: {v:.1f} s" for k, v in timings.items()))
    return raw, files, duck / "w.duckdb", spark, export


def duckdb_rows(warehouse: Path, relation: str, schema: str = "staging") -> tuple[list, list]:
    con = duckdb.connect(str(warehouse), read_only=True)
    where = f" where {ROW_FILTERS[relation]}" if relation in ROW_FILTERS else ""
    try:
        rel = con.sql(f"select * from {schema}.{relation}{where}")
        return rel.columns, rel.fetchall()
    finally:
        con.close()


def spark_rows(export: Path, relation: str, schema: str = "staging") -> tuple[list, list]:
    # Spark writes timestamps as INT96, which DuckDB reads as UTC instants: back to wall times.
    con = duckdb.connect()
    try:
        con.execute("set timezone = 'UTC'")
        path = f"{export}/{schema}.{relation}/*.parquet"
        rel = con.sql(f"select * from read_parquet('{path}')")
        casts = []
        for c, t in zip(rel.columns, rel.types, strict=True):
            if str(t).startswith("TIMESTAMP"):
                to = "timestamp[]" if str(t).endswith("[]") else "timestamp"
                casts.append(f'cast("{c}" as {to}) as "{c}"')
            else:
                casts.append(f'"{c}"')
        where = f" where {ROW_FILTERS[relation]}" if relation in ROW_FILTERS else ""
        rel = con.sql(f"select {', '.join(casts)} from read_parquet('{path}'){where}")
        return rel.columns, rel.fetchall()
    finally:
        con.close()


def comparable(v):
    """Lists as sorted tuples (a list aggregate's order is the order rows were read in), decimals
    as floats (Spark types some arithmetic on decimal literals as decimal)."""
    if isinstance(v, list | tuple):
        return tuple(sorted((comparable(x) for x in v), key=lambda x: (x is None, str(x))))
    if isinstance(v, decimal.Decimal):
        return float(v)
    return v


def sort_key(row: tuple) -> tuple:
    key = []
    for v in row:
        if v is None:
            key.append((0, 0, ""))
        elif isinstance(v, float) and math.isnan(v):
            key.append((1, 0, ""))
        elif isinstance(v, (int, float)):
            key.append((2, v, ""))
        else:
            key.append((3, 0, str(v)))
    return tuple(key)


def values_equal(a, b, abs_tol: float = 0.0, rel_tol: float = 1e-9) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
    if isinstance(a, float) and isinstance(b, int) or isinstance(a, int) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
    return a == b


def assert_relation_equal(duck: Path, export: Path, schema: str, relation: str) -> None:
    duck_columns, duck_rows = duckdb_rows(duck, relation, schema)
    spark_columns, spark_rows_ = spark_rows(export, relation, schema)
    # Same columns; Spark stores partition columns last, so the order is not compared.
    assert sorted(duck_columns) == sorted(spark_columns)
    left_out = ENGINE_COLUMNS | RELATION_ENGINE_COLUMNS.get(relation, set())
    columns = [c for c in duck_columns if c not in left_out]

    def project(names, rows):
        return sorted(
            (tuple(comparable(r[names.index(c)]) for c in columns) for r in rows), key=sort_key
        )

    d, s = project(duck_columns, duck_rows), project(spark_columns, spark_rows_)
    assert len(d) == len(s), f"{relation}: {len(d)} rows on DuckDB, {len(s)} on Spark"
    assert len(d) > 0
    ml = relation in ML_TOLERANCE_RELATIONS
    tol = (ML_ABS_TOLERANCE, ML_REL_TOLERANCE) if ml else (0.0, 1e-9)
    for drow, srow in zip(d, s, strict=True):
        mismatched = [
            c for c, a, b in zip(columns, drow, srow, strict=True) if not values_equal(a, b, *tol)
        ]
        assert not mismatched, f"{relation}: {mismatched}\nDuckDB {drow}\nSpark  {srow}"


@pytest.mark.parametrize("relation", RELATIONS)
def test_staging_relation_equal_on_spark(parity, relation):
    _, _, duck, _, export = parity
    assert_relation_equal(duck, export, "staging", relation)


@pytest.mark.parametrize(("schema", "relation"), WAREHOUSE_RELATIONS)
def test_warehouse_relation_equal_on_spark(parity, schema, relation):
    _, _, duck, _, export = parity
    assert_relation_equal(duck, export, schema, relation)


@pytest.mark.parametrize(("schema", "relation"), ML_RELATIONS)
def test_ml_relation_equal_on_spark(parity, schema, relation):
    _, _, duck, _, export = parity
    assert_relation_equal(duck, export, schema, relation)


def test_spark_increment_reuses_fitted_models(parity):
    """The late days do not move the classifiers' training snapshots (E), so Spark's second build
    reuses the models its first build fitted (the stored snapshots kept their load times), and
    those models' predictions equal DuckDB's fresh fit (test_ml_relation_equal_on_spark)."""
    _, _, duck, _, export = parity
    con = duckdb.connect()
    try:
        runs = f"read_parquet('{export}/ml.model_runs/*.parquet')"
        reused = dict(
            con.sql(
                f"select target, training_reused from {runs}"
                " where target in ('churn', 'big_spender')"
            ).fetchall()
        )
    finally:
        con.close()
    assert reused == {"churn": True, "big_spender": True}
    fresh = duckdb.connect(str(duck), read_only=True)
    try:
        query = "select bool_or(training_reused) from ml.model_runs"
        assert fresh.execute(query).fetchone()[0] is False
    finally:
        fresh.close()


def test_spark_raw_rows_equal_clean_plus_quarantined_per_file(parity):
    raw, files, _, _, export = parity
    counts = duckdb.connect()
    per_file = {}
    for relation in ["stg_events", "quarantined_events"]:
        path = f"{export}/staging.{relation}/*.parquet"
        sql = f"select source_file, count(*) from read_parquet('{path}') group by 1"
        for source_file, n in counts.sql(sql).fetchall():
            per_file.setdefault(Path(source_file).name, {})[relation] = n
    for name in files:
        # d_quoted.csv: its multi-line record is one raw row made of two lines (and its
        # trailing blank line is no row).
        expected = len(QUOTED_LINES) - 1 if name == "d_quoted.csv" else raw_data_lines(raw / name)
        got = per_file.get(name, {})
        assert got.get("stg_events", 0) + got.get("quarantined_events", 0) == expected, name


def test_spark_tables_are_parquet_under_the_warehouse_dir(parity):
    _, _, _, spark, _ = parity
    tables = [
        ("staging", "stg_raw_events"),
        ("staging", "stg_event_duplicates"),
        ("staging", "quarantined_events"),
        ("intermediate", "int_sessions"),
        ("marts", "customer_value"),
        ("ml", "ml_churn_training"),
        ("ml", "churn_predictions"),
    ]
    for schema, table in tables:
        folder = spark / "warehouse" / f"{schema}.db" / table
        assert list(folder.rglob("*.parquet")), folder
    # The date-keyed incremental states are partitioned by date (insert_overwrite on Spark).
    days = spark / "warehouse" / "intermediate.db" / "int_user_days"
    assert list(days.glob("event_date=*/*.parquet")), days


def spark_staging_error(tmp_path: Path, events_path: Path) -> str:
    """The output of a failed Spark run of the two models that list and check the raw files."""
    res = run_dbt(
        ["run", "--select", "base_raw_event_lines", "base_raw_event_parquet", "--target", "spark"],
        events_path=events_path,
        warehouse_path=tmp_path / "unused.duckdb",
        workdir=tmp_path,
        extra_env={
            "SPARK_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
            "SPARK_LOCAL_IP": "127.0.0.1",
        },
        dbt=SPARK_DBT,
    )
    assert not res.ok
    assert "Traceback" not in res.output
    return res.output


def test_spark_names_bad_raw_files(tmp_path):
    """A wrong header stops the Spark run with the message DuckDB gives (tests/test_staging.py);
    a glob that matches nothing stops it naming the glob. (Spark's file sources never list a
    0-byte file: it is skipped, holding no rows, where DuckDB stops; docs/spark.md.)"""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "bad_header.csv").write_text(HEADER.replace("user_id", "userid") + "\n")
    out = spark_staging_error(tmp_path / "header", raw / "*.csv")
    assert "bad_header.csv' has a wrong header" in out
    assert "Missing: user_id" in out and "Unexpected: userid" in out
    missing = raw / "nothing-*.csv"
    out = spark_staging_error(tmp_path / "missing", missing)
    assert str(missing) in out
