"""Benchmark the warehouse against DuckDB floors, pandas and itself; write BENCHMARKS.md.

    .venv/bin/python -m bench [--sizes 1M,10M,42.4M] [--repeats 2] [--cache-dir bench/cache]
                              [--out BENCHMARKS.md]

For every size, in one run and on the same cached generated files, each measured `--repeats`
times (median reported): the DuckDB scan and landing floors, dbt's start-up, the full dbt build,
a build after appending one new day, the build without ML, and the pandas pipeline, whose
figures are checked against the marts. Wall time, CPU time and peak RSS of the process tree.
Exit status 1 when a measurement failed or pandas and the marts disagree.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import psutil

from bench.data import ensure_data, parse_sizes
from bench.report import checks_passed, render
from bench.run import REPO_DIR, Runner, Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="1M", help="comma-separated, e.g. 1M,10M,42.4M")
    parser.add_argument("--repeats", type=int, default=2, help="runs per measurement (median)")
    parser.add_argument(
        "--large-repeats",
        type=int,
        default=None,
        help="runs per measurement for sizes of 20M rows or more (default: --repeats)",
    )
    parser.add_argument("--cache-dir", type=Path, default=REPO_DIR / "bench" / "cache")
    parser.add_argument("--out", type=Path, default=REPO_DIR / "BENCHMARKS.md")
    parser.add_argument("--seed", type=int, default=42, help="generator seed")
    parser.add_argument(
        "--work-dir", type=Path, help="scratch folder for warehouses (default: CACHE_DIR/work)"
    )
    parser.add_argument("--project-dir", type=Path, default=REPO_DIR, help="the dbt project")
    parser.add_argument(
        "--dbt-vars",
        default="{churn_horizon_days: 7, ml_min_history_days: 7}",
        help="--vars for every dbt run (default lets the ML models train on a single month)",
    )
    parser.add_argument("--memory-limit", default="8GB", help="DuckDB memory_limit")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout-min", type=float, default=120, help="per measurement")
    parser.add_argument(
        "--max-rss-gb",
        type=float,
        default=round(psutil.virtual_memory().total * 0.85 / 1e9, 1),
        help="kill a measurement whose process tree exceeds this RSS (default 85%% of RAM)",
    )
    parser.add_argument("--keep-work", action="store_true", help="keep warehouses and targets")
    parser.add_argument(
        "--landing-only",
        action="store_true",
        help="only the floors and the dbt landing (e.g. to compare staging before and after a"
        " change, with --project-dir pointing at the other checkout)",
    )
    parser.add_argument(
        "--spark-sizes",
        default="10M",
        help="sizes (of --sizes) also built on Spark, once, beside DuckDB (report only; needs"
        " dbt-spark, pyspark and Java: `make bench` installs them); empty for none",
    )
    parser.add_argument("--spark-master", default="local[2]", help="SPARK_MASTER for those builds")
    parser.add_argument(
        "--spark-driver-memory", default="8g", help="the Spark JVM's memory (local mode)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.repeats < 1 or (args.large_repeats is not None and args.large_repeats < 1):
        raise SystemExit("--repeats and --large-repeats must be at least 1")
    sizes = parse_sizes(args.sizes)
    cache_dir = args.cache_dir.resolve()
    work_dir = (args.work_dir or cache_dir / "work").resolve()
    datasets = [ensure_data(size, args.seed, cache_dir) for size in sizes]
    settings = Settings(
        project_dir=args.project_dir.resolve(),
        cache_dir=cache_dir,
        work_dir=work_dir,
        dbt_vars=args.dbt_vars,
        threads=args.threads,
        memory_limit=args.memory_limit,
        repeats=args.repeats,
        large_repeats=args.repeats if args.large_repeats is None else args.large_repeats,
        timeout_s=args.timeout_min * 60,
        max_rss_bytes=int(args.max_rss_gb * 1e9),
        keep_work=args.keep_work,
        landing_only=args.landing_only,
        spark_sizes=frozenset(s.strip() for s in args.spark_sizes.split(",") if s.strip()),
        spark_master=args.spark_master,
        spark_driver_memory=args.spark_driver_memory,
    )
    result = Runner(settings).run(datasets)
    args.out.write_text(render(result, argv))
    raw = work_dir / "logs" / "results.json"
    raw.write_text(json.dumps([asdict(s) for s in result.sizes], default=str, indent=1))
    failed = [
        f"{s.data.size.label} {kind} run {i + 1}"
        for s in result.sizes
        for kind, runs in s.runs.items()
        for i, run in enumerate(runs)
        if not run.ok
    ]
    print(f"[bench] wrote {args.out} (raw results: {raw})")
    if failed:
        print("[bench] FAILED measurements: " + ", ".join(failed), file=sys.stderr)
    if not args.landing_only and not checks_passed(result):
        print("[bench] pandas and the marts disagree, or the check did not run", file=sys.stderr)
    return 1 if failed or (not args.landing_only and not checks_passed(result)) else 0


if __name__ == "__main__":
    sys.exit(main())
