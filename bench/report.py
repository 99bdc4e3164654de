"""Write BENCHMARKS.md from a finished run: machine, commands, tables, ratios and targets."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psutil

from bench.measure import Measurement
from bench.run import KINDS, LABELS, REPO_DIR, SPARK_KINDS, RunResult, SizeResult

GB = 1e9  # decimal, like DuckDB's '8GB'
ROWS_1M, ROWS_10M, ROWS_FULL, ROWS_100M = 1_000_000, 10_000_000, 42_400_000, 100_000_000
NOT_MEASURED = "not measured"
SLOWEST_MODELS = 8
# One finished node in dbt's console log, e.g.
# "12 of 178 OK created sql table model a.b ..... [OK in 1.2s]".
DBT_NODE_LINE = re.compile(
    r"\d+ of \d+ (?:OK|PASS|WARN|ERROR|FAIL)\S* (?:\d+ )?(?:created |inserted |)(?:sql |python )?"
    r"(?P<kind>\w+ model |test |seed )?(?P<name>\S+) \.*\s*\[.*? in (?P<seconds>[0-9.]+)s\]"
)
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


# ---------------------------------------------------------------------------------------------
# Numbers


def median_wall(runs: list[Measurement]) -> float | None:
    """Median wall time of the runs; None when there is none or one failed."""
    if not runs or not all(r.ok for r in runs):
        return None
    return statistics.median(r.wall_s for r in runs)


def median_cpu(runs: list[Measurement]) -> float | None:
    if not runs or not all(r.ok for r in runs):
        return None
    return statistics.median(r.cpu_s for r in runs)


def median_rss(runs: list[Measurement]) -> float | None:
    if not runs or not all(r.ok for r in runs):
        return None
    return statistics.median(r.peak_rss_bytes for r in runs)


def minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def fmt_ratio(value: float | None) -> str:
    return NOT_MEASURED if value is None else f"{value:.2f}x"


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def fmt_gb(value: float | None) -> str:
    return "-" if value is None else f"{value / GB:.2f}"


@dataclass
class SizeFigures:
    """Medians of one size, by kind."""

    result: SizeResult

    def wall(self, kind: str) -> float | None:
        return median_wall(self.result.runs[kind])

    def cpu(self, kind: str) -> float | None:
        return median_cpu(self.result.runs[kind])

    def rss(self, kind: str) -> float | None:
        return median_rss(self.result.runs[kind])

    def net(self, kind: str) -> float | None:
        """Wall time minus dbt's fixed start-up."""
        return minus(self.wall(kind), self.wall("startup"))

    @property
    def rows(self) -> int:
        return self.result.data.size.rows


def find(figures: list[SizeFigures], rows: int) -> SizeFigures | None:
    return next((f for f in figures if f.rows == rows), None)


def node_seconds(log_path: Path) -> dict[str, float]:
    """Seconds per model, and all tests summed as `tests (all)`, from one dbt console log."""
    found: dict[str, float] = {}
    if not log_path.exists():
        return found
    for line in ANSI_COLOUR.sub("", log_path.read_text(errors="replace")).splitlines():
        match = DBT_NODE_LINE.search(line)
        if not match:
            continue
        is_model = (match.group("kind") or "").endswith("model ")
        name = match.group("name") if is_model else "tests (all)"
        found[name] = found.get(name, 0.0) + float(match.group("seconds"))
    return found


def median_node_seconds(runs: list[Measurement]) -> dict[str, float]:
    """Per node, the median over the successful runs of its seconds."""
    per_run = [node_seconds(Path(r.log_path)) for r in runs if r.ok]
    names = {name for seconds in per_run for name in seconds}
    return {n: statistics.median(s.get(n, 0.0) for s in per_run) for n in names}


# ---------------------------------------------------------------------------------------------
# Sections


def machine_section(run: RunResult) -> list[str]:
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    cpu_model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    s = run.settings
    started = dt.datetime.fromtimestamp(run.started).strftime("%Y-%m-%d %H:%M")
    minutes = (run.finished - run.started) / 60
    project = (
        "this repository"
        if s.project_dir == REPO_DIR
        else f"`{s.project_dir}` (a copy, not this repository's working tree)"
    )
    return [
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        f"| CPU | {cpu_model} |",
        f"| cores | {os.cpu_count()} logical, {psutil.cpu_count(logical=False)} physical |",
        f"| memory | {psutil.virtual_memory().total / GB:.1f} GB |",
        f"| OS | {platform.platform()} |",
        f"| Python | {platform.python_version()} |",
        f"| duckdb / dbt-core / dbt-duckdb | {version('duckdb')} / {version('dbt-core')} / "
        f"{version('dbt-duckdb')} |",
        f"| pandas / numpy | {version('pandas')} / {version('numpy')} |",
        f"| pyspark / dbt-spark (Spark builds) | {version('pyspark')} / {version('dbt-spark')}"
        f" ({', '.join(sorted(s.spark_sizes)) or 'no size'}; master {s.spark_master}, driver"
        f" memory {s.spark_driver_memory}) |",
        f"| dbt threads / DuckDB memory_limit | {s.threads} / {s.memory_limit} |",
        f"| dbt project measured | {project} |",
        f"| run | {started}, {minutes:.1f} min, {s.repeats} repeat(s) per measurement"
        + ("" if s.large_repeats == s.repeats else f" ({s.large_repeats} from 20M rows)")
        + " |",
        f"| load average (1/5/15 min) before / after | "
        f"{' '.join(f'{x:.1f}' for x in run.load_before)} / "
        f"{' '.join(f'{x:.1f}' for x in run.load_after)} |",
        "",
    ]


def commands_section(run: RunResult, argv: list[str]) -> list[str]:
    paths = {
        str(run.settings.work_dir): "$WORK",
        str(run.settings.cache_dir): "$CACHE",
        str(REPO_DIR): "$REPO",
    }
    lines = [
        "## Commands",
        "",
        "This file was written by:",
        "",
        "```bash",
        " ".join([".venv/bin/python -m bench", *argv]),
        "```",
        "",
        "Each measurement is one subprocess (the first run's command line below; `$WORK` is the",
        "work dir, where each measurement gets a fresh folder, `$CACHE` the data cache and",
        "`$REPO` the repository). Wall time is",
        "from start to exit; peak RSS is the sum over the process tree, sampled every 0.2 s; CPU",
        "is user + system time of the tree. dbt runs use a fresh target folder, so each one",
        "parses the project in full, like the start-up measurement.",
        "",
    ]
    for kind in KINDS + SPARK_KINDS:
        if kind in run.commands:
            command = run.commands[kind]
            for path, name in paths.items():
                command = command.replace(path, name)
            lines += [f"- {LABELS[kind]}:", "  ```bash", f"  {command}", "  ```"]
    return [*lines, ""]


def size_table(f: SizeFigures) -> list[str]:
    data = f.result.data
    lines = [
        f"### {data.size.label} events ({f.rows:,} rows)",
        "",
        f"Month file `{data.month_file.name}` ({data.month_file.stat().st_size / 1e6:,.0f} MB "
        f"gzipped), {data.size.day_rows:,} rows in the new day `{data.day_file.name}`; "
        f"generator seed {data.seed}.",
        "",
        "| measurement | median wall s | runs (wall s) | median CPU s | median peak RSS GB "
        "| rows/s |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for kind in KINDS:
        runs = f.result.runs[kind]
        if not runs:
            lines.append(f"| {LABELS[kind]} | - | not run | - | - | - |")
            continue
        wall = median_wall(runs)
        each = ", ".join(
            f"{r.wall_s:.1f}" if r.ok else f"FAILED ({r.error or f'exit {r.returncode}'})"
            for r in runs
        )
        rows = data.size.day_rows if kind == "incremental" else f.rows
        speed = "-" if wall is None or kind == "startup" else f"{rows / wall:,.0f}"
        cpu = median_cpu(runs)
        lines.append(
            f"| {LABELS[kind]} | {fmt_s(wall)} | {each} | {fmt_s(cpu)} | "
            f"{fmt_gb(median_rss(runs))} | {speed} |"
        )
    net_build = f.net("build")
    net_incremental = f.net("incremental")
    lines += [
        "",
        f"Full build minus start-up: {fmt_s(net_build)} s; incremental build minus start-up: "
        f"{fmt_s(net_incremental)} s (rows/s of the incremental step count the new day only).",
        "",
    ]
    return lines


def ratio_rows(figures: list[SizeFigures]) -> list[str]:
    lines = [
        "## Ratios",
        "",
        "Ratios of medians (wall time unless marked CPU); they are steadier than absolute",
        "times on a shared machine, and CPU-time ratios steadier still.",
        "",
        "| ratio | " + " | ".join(f.result.data.size.label for f in figures) + " |",
        "| --- |" + " ---: |" * len(figures),
    ]
    per_size = [
        ("full build / landing floor", lambda f: ratio(f.wall("build"), f.wall("land"))),
        (
            "(full build - start-up) / landing floor",
            lambda f: ratio(f.net("build"), f.wall("land")),
        ),
        ("full build / scan floor", lambda f: ratio(f.wall("build"), f.wall("scan"))),
        ("landing floor / scan floor", lambda f: ratio(f.wall("land"), f.wall("scan"))),
        (
            "(dbt landing - start-up) / landing floor",
            lambda f: ratio(f.net("dbt_land"), f.wall("land")),
        ),
        (
            "pandas time / build-without-ML time",
            lambda f: ratio(f.wall("pandas"), f.wall("build_no_ml")),
        ),
        (
            "pandas peak RSS / build-without-ML peak RSS",
            lambda f: ratio(f.rss("pandas"), f.rss("build_no_ml")),
        ),
        (
            "(incremental - start-up) / (full build - start-up)",
            lambda f: ratio(f.net("incremental"), f.net("build")),
        ),
        ("start-up / full build", lambda f: ratio(f.wall("startup"), f.wall("build"))),
        (
            "CPU time: full build / landing floor",
            lambda f: ratio(f.cpu("build"), f.cpu("land")),
        ),
        (
            "CPU time: pandas / build-without-ML",
            lambda f: ratio(f.cpu("pandas"), f.cpu("build_no_ml")),
        ),
    ]
    for name, compute in per_size:
        lines.append(f"| {name} | " + " | ".join(fmt_ratio(compute(f)) for f in figures) + " |")
    one, ten = find(figures, ROWS_1M), find(figures, ROWS_10M)
    growth = ratio(ten.net("build"), one.net("build")) if one and ten else None
    lines += [
        "",
        f"10M / 1M full build time, both minus start-up (10x the rows): {fmt_ratio(growth)}.",
        "",
    ]
    return lines


@dataclass
class Target:
    text: str
    measured: str
    passed: bool | None  # None: not measured


def targets(figures: list[SizeFigures]) -> list[Target]:
    """The targets of issue 17 (Scale), each with its measured ratio."""
    found: list[Target] = []
    full, ten = find(figures, ROWS_FULL), find(figures, ROWS_10M)
    hundred = find(figures, ROWS_100M)

    for label, f, goal in (("42.4M", full, 2), ("10M", ten, 2)):
        speed = ratio(f.wall("pandas"), f.wall("build_no_ml")) if f else None
        found.append(
            Target(
                f"{label}: build without ML >= {goal}x faster than pandas (pandas / build;"
                " moonshot 3x)",
                fmt_ratio(speed),
                None if speed is None else speed >= goal,
            )
        )
    memory = ratio(full.rss("build_no_ml"), full.rss("pandas")) if full else None
    found.append(
        Target(
            "42.4M: build without ML peak RSS <= 1/2 of pandas' (build / pandas)",
            fmt_ratio(memory),
            None if memory is None else memory <= 0.5,
        )
    )
    floor = ratio(full.wall("build"), full.wall("land")) if full else None
    found.append(
        Target(
            "42.4M: full build (ML and start-up included) <= 6x the landing floor (moonshot 4x)",
            fmt_ratio(floor),
            None if floor is None else floor <= 6,
        )
    )
    share = ratio(full.wall("incremental"), full.wall("build")) if full else None
    found.append(
        Target(
            "42.4M: one new day (ML and start-up included) <= 1/4 of the full build (moonshot 10%)",
            fmt_ratio(share),
            None if share is None else share <= 0.25,
        )
    )
    text = "100M: full build completes under memory_limit 8GB in <= 2.6x the 42.4M time"
    runs = hundred.result.runs["build"] if hundred else []
    if not runs or not full:
        found.append(Target(text, NOT_MEASURED, None))
    else:
        ok = all(r.ok for r in runs)
        growth = ratio(hundred.wall("build"), full.wall("build"))
        found.append(
            Target(
                text,
                f"{'completed' if ok else 'FAILED'}, {fmt_ratio(growth)}",
                ok and growth is not None and growth <= 2.6,
            )
        )
    return found


def targets_section(figures: list[SizeFigures]) -> list[str]:
    lines = [
        "## Targets (issue 17)",
        "",
        "| target | measured | result |",
        "| --- | --- | --- |",
    ]
    for t in targets(figures):
        verdict = NOT_MEASURED if t.passed is None else ("PASS" if t.passed else "MISS")
        lines.append(f"| {t.text} | {t.measured} | {verdict} |")
    return [*lines, ""]


def checks_section(run: RunResult) -> list[str]:
    lines = [
        "## Pandas vs marts",
        "",
        "The pandas pipeline's figures, compared with the marts of the build without ML on the",
        "same file (first repeat): clean and quarantined rows by reason, sessions, and every row",
        "and column of the funnel marts (funnel_summary, funnel_by_dimension, time_to_action,",
        "cart_abandonment, cart_conversion_delay, engagement_deciles,",
        "engagement_revenue_correlation) and value marts (customer_value, revenue_pareto,",
        "revenue_concentration, tier_category_mix, tier_profile, customer_segments,",
        "segment_summary): counts, text and times equal, doubles to a relative 1e-9.",
        "",
        "| size | checks | differences | result |",
        "| --- | ---: | ---: | --- |",
    ]
    for size in run.sizes:
        label = size.data.size.label
        if size.check_error or not size.checks:
            lines.append(f"| {label} | - | - | {size.check_error or 'not run'} |")
            continue
        failed = [c for c in size.checks if not c.ok]
        verdict = "equal" if not failed else "DIFFERENT: " + ", ".join(c.name for c in failed[:5])
        lines.append(f"| {label} | {len(size.checks)} | {len(failed)} | {verdict} |")
    return [*lines, ""]


def checks_passed(run: RunResult) -> bool:
    return all(not s.check_error and s.checks and all(c.ok for c in s.checks) for s in run.sizes)


def time_breakdown_section(figures: list[SizeFigures]) -> list[str]:
    """The slowest models of the full and the incremental build, from dbt's own timings."""
    lines = [
        "## Where the build's time goes",
        "",
        "Seconds per model as dbt reports them (median over the repeats), for the largest size.",
        "With 2 threads models overlap, so their sum exceeds the wall time; the share is of",
        "that sum. `tests (all)` is every data test together.",
        "",
    ]
    measured = [f for f in figures if f.result.runs["build"]]
    if not measured:
        return [*lines, NOT_MEASURED, ""]
    largest = max(measured, key=lambda f: f.rows)
    label = largest.result.data.size.label
    for kind in ("build", "incremental"):
        wall = f"wall {fmt_s(largest.wall(kind))} s"
        lines += slowest_models(largest.result.runs[kind], f"{label}, {LABELS[kind]}", wall)
    return lines


def slowest_models(runs: list[Measurement], title: str, wall: str) -> list[str]:
    """The SLOWEST_MODELS models of a build by dbt's own seconds, with their share."""
    seconds = median_node_seconds(runs)
    total = sum(seconds.values())
    if not total:
        return []
    lines = [
        f"**{title}** (sum of model times {total:,.0f} s, {wall}):",
        "",
        "| model | s | share |",
        "| --- | ---: | ---: |",
    ]
    slowest = sorted(seconds.items(), key=lambda item: -item[1])[:SLOWEST_MODELS]
    lines += [f"| {name} | {sec:.1f} | {sec / total:.0%} |" for name, sec in slowest]
    rest = total - sum(sec for _, sec in slowest)
    return [*lines, f"| all other models | {rest:.1f} | {rest / total:.0%} |", ""]


def spark_section(figures: list[SizeFigures]) -> list[str]:
    """The sizes built on Spark too: both engines' builds side by side (report only)."""
    measured = [f for f in figures if any(f.result.runs[k] for k in SPARK_KINDS)]
    if not measured:
        return []
    lines = [
        "## Spark beside DuckDB (report only, issue 18)",
        "",
        "The same project, data and vars built with `--target spark` (dbt-spark session, Spark in",
        "local mode inside the dbt process, tables as Parquet), once per size. DuckDB's figures",
        "are the medians above. Peak RSS of Spark is the dbt process plus its JVM.",
        "",
        "| size | build | DuckDB wall s | Spark wall s | Spark / DuckDB | DuckDB CPU s "
        "| Spark CPU s | DuckDB peak RSS GB | Spark peak RSS GB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in measured:
        label = f.result.data.size.label
        for duck, spark, name in (
            ("build", "spark_build", "full"),
            ("incremental", "spark_incremental", "one new day"),
        ):
            runs = f.result.runs[spark]
            failed = [r for r in runs if not r.ok]
            if not runs or failed:
                status = "not run" if not runs else f"FAILED ({failed[0].error or 'exit'})"
                lines.append(
                    f"| {label} | {name} | {fmt_s(f.wall(duck))} | {status} | - | - | - | - | - |"
                )
                continue
            lines.append(
                f"| {label} | {name} | {fmt_s(f.wall(duck))} | {fmt_s(f.wall(spark))} | "
                f"{fmt_ratio(ratio(f.wall(spark), f.wall(duck)))} | {fmt_s(f.cpu(duck))} | "
                f"{fmt_s(f.cpu(spark))} | {fmt_gb(f.rss(duck))} | {fmt_gb(f.rss(spark))} |"
            )
    lines.append("")
    for f in measured:
        title = f"{f.result.data.size.label}, {LABELS['spark_build']}"
        lines += slowest_models(
            f.result.runs["spark_build"], title, f"wall {fmt_s(f.wall('spark_build'))} s"
        )
    return lines


def render(run: RunResult, argv: list[str]) -> str:
    figures = [SizeFigures(s) for s in run.sizes]
    sizes = ", ".join(s.data.size.label for s in run.sizes)
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`python -m bench`, code in `bench/`) for sizes {sizes}.",
        "Every figure is the median of the repeats. Absolute times on a shared machine are noisy:",
        "quote the ratios. GB = 10^9 bytes.",
        "",
        *machine_section(run),
        *targets_section(figures),
        *ratio_rows(figures),
        "## Times and memory",
        "",
    ]
    for f in figures:
        lines += size_table(f)
    lines += time_breakdown_section(figures)
    lines += spark_section(figures)
    lines += [*checks_section(run), *commands_section(run, argv)]
    lines += [
        "## Notes",
        "",
        f"- dbt runs with `--vars '{run.settings.dbt_vars}'`: with the default 28-day churn",
        "  horizon (and 28 days of history before a training snapshot) a single month has too",
        "  few labelled snapshots and the ML models skip training; a shorter horizon and history",
        "  make them train, so the ML cost is really in the full build.",
        "- The incremental step adds the new day's file to the same events folder and runs",
        "  `dbt build` on the warehouse the full build left behind.",
        "- The pandas pipeline (`bench/pandas_pipeline.py`) reads with explicit dtypes in chunks",
        "  and uses vectorized group-bys; its figures are checked against the marts above.",
        "",
    ]
    return "\n".join(lines)
