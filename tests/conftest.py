"""Shared fixtures: run dbt in a subprocess against small generated data.

dbt runs as a subprocess (not dbtRunner in-process) so that each build has its own DuckDB
instance: DuckDB caches databases by path inside a process, which would leak state between tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))

# Small enough for CI, long enough for two 14-day horizons plus history for the time-split models.
SMALL_SAMPLE = {"rows": 60_000, "start": "2019-10-01", "days": 90, "seed": 7}
SMALL_VARS = "{churn_horizon_days: 14}"


@dataclass
class DbtResult:
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_dbt(
    args: list[str],
    *,
    events_path: str | Path,
    warehouse_path: str | Path,
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    dbt: str = DBT,
) -> DbtResult:
    """Run `dbt <args>` from the project root with its own target, log and temp folders.
    dbt: the executable (the Spark parity test passes one whose environment has dbt-spark)."""
    env = {
        **os.environ,
        "EVENTS_PATH": str(events_path),
        "WAREHOUSE_PATH": str(warehouse_path),
        "DUCKDB_TEMP_DIR": str(workdir / "duck_tmp"),
        "DUCKDB_MEMORY_LIMIT": "2GB",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(extra_env or {}),
    }
    cmd = [
        dbt,
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(workdir / "target"),
        "--log-path",
        str(workdir / "logs"),
    ]
    proc = subprocess.run(
        cmd, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    return DbtResult(proc.returncode, proc.stdout + proc.stderr)


def query(warehouse_path: str | Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def query_df(warehouse_path: str | Path, sql: str):
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        return con.sql(sql).df()
    finally:
        con.close()


@dataclass
class BuiltWarehouse:
    events_dir: Path
    events_glob: str
    path: Path
    workdir: Path
    build_output: str


@pytest.fixture(scope="session")
def small_events(tmp_path_factory) -> Path:
    """A small generated REES46 data set, one file per month."""
    from warehouse.generate import generate

    out_dir = tmp_path_factory.mktemp("events")
    generate(out=str(out_dir / "events-{month}.csv.gz"), progress=False, **SMALL_SAMPLE)
    return out_dir


@pytest.fixture(scope="session")
def built_warehouse(small_events, tmp_path_factory) -> BuiltWarehouse:
    """One full `dbt build` (every model, test and unit test) on the small generated data."""
    workdir = tmp_path_factory.mktemp("build")
    path = workdir / "warehouse.duckdb"
    glob = str(small_events / "*")
    res = run_dbt(
        ["build", "--vars", SMALL_VARS],
        events_path=glob,
        warehouse_path=path,
        workdir=workdir,
    )
    assert res.ok, res.output[-5000:]
    return BuiltWarehouse(small_events, glob, path, workdir, res.output)
