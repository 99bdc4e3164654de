"""Run every measurement for every size, interleaved by repeat, and collect the results."""

from __future__ import annotations

import os
import pickle
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.compare import Check, compare, format_checks
from bench.data import DataSet, link_or_copy
from bench.measure import Measurement, run_measured

REPO_DIR = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DBT = str(Path(sys.executable).with_name("dbt"))
LARGE_ROWS = 20_000_000  # sizes from here on use --large-repeats
NOTHING_SELECTED = "bench_selects_no_model"
ML_EXCLUDE = ["--exclude", "path:models/ml+"]

# Measurement kinds, in the order they run within one repeat of one size.
KINDS = ["scan", "land", "dbt_land", "startup", "build", "incremental", "build_no_ml", "pandas"]
# The same two builds on Apache Spark (dbt-spark, `--target spark`), for the sizes in
# --spark-sizes, once (first repeat): a report beside DuckDB, no target.
SPARK_KINDS = ["spark_build", "spark_incremental"]
LABELS = {
    "scan": "floor 1: DuckDB scan (parse every column, nothing written)",
    "land": "floor 2: DuckDB landing (parse once into a typed table)",
    "dbt_land": "dbt landing (dbt run +stg_raw_events: every raw row typed or quarantined)",
    "startup": "dbt start-up (parse + plan, nothing selected)",
    "build": "full dbt build (every model and test, ML included)",
    "incremental": "dbt build after appending one new day",
    "build_no_ml": "dbt build without ML (--exclude path:models/ml+)",
    "pandas": "pandas pipeline (staging, funnel, value)",
    "spark_build": "Spark: full dbt build --target spark (every model and test, ML included)",
    "spark_incremental": "Spark: dbt build --target spark after appending one new day",
}


@dataclass
class Settings:
    project_dir: Path
    cache_dir: Path
    work_dir: Path
    dbt_vars: str
    threads: int
    memory_limit: str
    repeats: int
    large_repeats: int
    timeout_s: float
    max_rss_bytes: int
    keep_work: bool = False
    landing_only: bool = False
    spark_sizes: frozenset[str] = frozenset()
    spark_master: str = "local[2]"
    spark_driver_memory: str = "8g"

    def repeats_for(self, rows: int) -> int:
        return self.large_repeats if rows >= LARGE_ROWS else self.repeats


@dataclass
class SizeResult:
    data: DataSet
    runs: dict[str, list[Measurement]] = field(
        default_factory=lambda: {k: [] for k in KINDS + SPARK_KINDS}
    )
    checks: list[Check] = field(default_factory=list)
    check_error: str = ""


@dataclass
class RunResult:
    settings: Settings
    sizes: list[SizeResult]
    commands: dict[str, str]
    started: float
    finished: float = 0.0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)


class Runner:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.commands: dict[str, str] = {}

    # ---- command lines ------------------------------------------------------------------

    def dbt_env(self, work: Path) -> dict[str, str]:
        return {
            "EVENTS_PATH": str(work / "events" / "*"),
            "WAREHOUSE_PATH": str(work / "warehouse.duckdb"),
            "DUCKDB_TEMP_DIR": str(work / "duck_tmp"),
            "DUCKDB_MEMORY_LIMIT": self.s.memory_limit,
            "DBT_THREADS": str(self.s.threads),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }

    def dbt_cmd(self, work: Path, name: str, extra: list[str], command: str = "build") -> list[str]:
        """dbt build with its own (fresh) target and log folders: every run parses in full."""
        project = str(self.s.project_dir)
        return [
            DBT,
            command,
            "--vars",
            self.s.dbt_vars,
            *extra,
            "--project-dir",
            project,
            "--profiles-dir",
            project,
            "--target-path",
            str(work / f"target-{name}"),
            "--log-path",
            str(work / f"logs-{name}"),
        ]

    def spark_env(self, work: Path) -> dict[str, str]:
        """Spark in local mode: the JVM (driver and executors in one process) gets the memory
        DuckDB's memory_limit gives DuckDB, tables go to the work folder."""
        return {
            **self.dbt_env(work),
            "SPARK_WAREHOUSE_DIR": str(work / "spark-warehouse"),
            "SPARK_MASTER": self.s.spark_master,
            "SPARK_DRIVER_MEMORY": self.s.spark_driver_memory,
            "SPARK_LOCAL_IP": "127.0.0.1",
        }

    def floor_env(self, work: Path) -> dict[str, str]:
        return {
            "DUCKDB_MEMORY_LIMIT": self.s.memory_limit,
            "DBT_THREADS": str(self.s.threads),
            "DUCKDB_TEMP_DIR": str(work / "duck_tmp"),
        }

    # ---- one measurement ----------------------------------------------------------------

    def measure(
        self,
        kind: str,
        size: SizeResult,
        repeat: int,
        cmd: list[str],
        env: dict[str, str],
        cwd: Path,
    ) -> Measurement:
        label = size.data.size.label
        log = self.s.work_dir / "logs" / f"{label}-{kind}-{repeat + 1}.log"
        if kind not in self.commands:
            shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
            self.commands[kind] = f"cd {shlex.quote(str(cwd))} && {shown} {shlex.join(cmd)}"
        result = run_measured(
            cmd,
            log_path=log,
            cwd=cwd,
            env={**env, "PYTHONPATH": str(REPO_DIR)},
            timeout_s=self.s.timeout_s,
            max_rss_bytes=self.s.max_rss_bytes,
        )
        size.runs[kind].append(result)
        status = "ok" if result.ok else f"FAILED ({result.error or f'exit {result.returncode}'})"
        print(
            f"[bench] {label:>6} {kind:<12} run {repeat + 1}: {result.wall_s:8.1f} s wall, "
            f"{result.cpu_s:8.1f} s CPU, {result.peak_rss_bytes / 1e9:6.2f} GB peak RSS  {status}"
            + ("" if result.ok else f"  log: {log}"),
            flush=True,
        )
        return result

    def fresh_dir(self, size: SizeResult, name: str) -> Path:
        work = self.s.work_dir / size.data.size.label / name
        shutil.rmtree(work, ignore_errors=True)
        (work / "events").mkdir(parents=True)
        return work

    def cleanup(self, work: Path) -> None:
        if not self.s.keep_work:
            shutil.rmtree(work, ignore_errors=True)

    # ---- one repeat of one size -----------------------------------------------------------

    def run_floors(self, size: SizeResult, repeat: int) -> None:
        month = str(size.data.month_file)
        work = self.fresh_dir(size, f"floors-{repeat + 1}")
        scan = [PYTHON, "-m", "bench.floors", "scan", month]
        self.measure("scan", size, repeat, scan, self.floor_env(work), REPO_DIR)
        land = [PYTHON, "-m", "bench.floors", "land", str(work / "landing.duckdb"), month]
        self.measure("land", size, repeat, land, self.floor_env(work), REPO_DIR)
        self.cleanup(work)
        # The project's own landing of the same file: the staging scan every build starts with.
        work = self.fresh_dir(size, f"dbt-land-{repeat + 1}")
        link_or_copy(size.data.month_file, work / "events" / size.data.month_file.name)
        dbt_land = self.dbt_cmd(work, "land", ["--select", "+stg_raw_events"], command="run")
        self.measure("dbt_land", size, repeat, dbt_land, self.dbt_env(work), self.s.project_dir)
        if self.s.landing_only:
            # run_dbt measures start-up otherwise; the landing ratio subtracts it.
            startup = self.dbt_cmd(work, "startup", ["--select", NOTHING_SELECTED])
            self.measure("startup", size, repeat, startup, self.dbt_env(work), self.s.project_dir)
        self.cleanup(work)

    def run_dbt(self, size: SizeResult, repeat: int) -> None:
        project = self.s.project_dir
        work = self.fresh_dir(size, f"dbt-{repeat + 1}")
        link_or_copy(size.data.month_file, work / "events" / size.data.month_file.name)
        env = self.dbt_env(work)
        startup = self.dbt_cmd(work, "startup", ["--select", NOTHING_SELECTED])
        self.measure("startup", size, repeat, startup, env, project)
        build = self.measure("build", size, repeat, self.dbt_cmd(work, "build", []), env, project)
        if build.ok:
            # One more day of events arrives; the next build should only process it.
            link_or_copy(size.data.day_file, work / "events" / size.data.day_file.name)
            incremental = self.dbt_cmd(work, "incremental", [])
            self.measure("incremental", size, repeat, incremental, env, project)
        self.cleanup(work)

    def run_spark(self, size: SizeResult) -> None:
        """The full build and the new day on Spark, in a work folder of their own."""
        project = self.s.project_dir
        work = self.fresh_dir(size, "spark")
        link_or_copy(size.data.month_file, work / "events" / size.data.month_file.name)
        env = self.spark_env(work)
        spark = ["--target", "spark"]
        build = self.measure(
            "spark_build", size, 0, self.dbt_cmd(work, "spark", spark), env, project
        )
        if build.ok:
            link_or_copy(size.data.day_file, work / "events" / size.data.day_file.name)
            incremental = self.dbt_cmd(work, "spark-incremental", spark)
            self.measure("spark_incremental", size, 0, incremental, env, project)
        self.cleanup(work)

    def run_no_ml_and_pandas(self, size: SizeResult, repeat: int) -> None:
        project = self.s.project_dir
        work = self.fresh_dir(size, f"no-ml-{repeat + 1}")
        link_or_copy(size.data.month_file, work / "events" / size.data.month_file.name)
        no_ml = self.dbt_cmd(work, "no-ml", ML_EXCLUDE)
        built = self.measure("build_no_ml", size, repeat, no_ml, self.dbt_env(work), project)
        out = work / "pandas-result.pkl"
        pandas_cmd = [
            PYTHON,
            "-m",
            "bench.pandas_pipeline",
            "--project-dir",
            str(project),
            "--vars",
            self.s.dbt_vars,  # the same business rules as the dbt build it is checked against
            "--out",
            str(out),
            str(size.data.month_file),
        ]
        ran = self.measure("pandas", size, repeat, pandas_cmd, {}, REPO_DIR)
        if repeat == 0:
            self.check(size, work / "warehouse.duckdb", out, built.ok and ran.ok)
        self.cleanup(work)

    def check(self, size: SizeResult, warehouse: Path, result_file: Path, ready: bool) -> None:
        """The pandas numbers must equal the marts of the build without ML (same data)."""
        label = size.data.size.label
        if not ready:
            size.check_error = "not run: the dbt build or the pandas run failed"
            print(f"[bench] {label} pandas-vs-marts check {size.check_error}", flush=True)
            return
        with result_file.open("rb") as handle:
            result = pickle.load(handle)
        size.checks = compare(result, warehouse)
        failed = sum(not c.ok for c in size.checks)
        verdict = "all equal" if not failed else f"{failed} DIFFERENCES"
        print(f"[bench] {label} pandas vs marts: {len(size.checks)} checks, {verdict}")
        print(format_checks(size.checks), flush=True)

    # ---- everything -------------------------------------------------------------------------

    def run(self, datasets: list[DataSet]) -> RunResult:
        result = RunResult(self.s, [SizeResult(d) for d in datasets], self.commands, time.time())
        result.load_before = os.getloadavg()
        for size in result.sizes:
            for repeat in range(self.s.repeats_for(size.data.size.rows)):
                self.run_floors(size, repeat)
                if not self.s.landing_only:
                    self.run_dbt(size, repeat)
                    self.run_no_ml_and_pandas(size, repeat)
                if repeat == 0 and size.data.size.label in self.s.spark_sizes:
                    self.run_spark(size)
        result.load_after = os.getloadavg()
        result.finished = time.time()
        return result
