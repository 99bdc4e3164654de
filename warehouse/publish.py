"""Publish a consistent read-only copy of the warehouse for BI tools and analysts.

DuckDB lets one process write a file and no other process read it meanwhile, so readers open a
published copy instead. Publishing writes a new file beside the target and renames it over the old
one: a reader that has the old file open keeps a consistent old snapshot, new readers see the new
one, and a failed build never publishes because the last dbt results are checked first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

FAILED_STATUSES = {"error", "fail", "runtime error", "skipped"}


class PublishError(RuntimeError):
    """The warehouse is not in a state that may be published."""


@dataclass(frozen=True)
class PublishResult:
    target: Path
    seconds: float
    size_bytes: int
    tables: int


def check_last_run(run_results: Path) -> None:
    """Refuse to publish when the last dbt invocation had a failing or skipped node."""
    if not run_results.exists():
        return
    results = json.loads(run_results.read_text()).get("results", [])
    failed = [r["unique_id"] for r in results if str(r.get("status")).lower() in FAILED_STATUSES]
    if failed:
        shown = ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "")
        raise PublishError(
            f"Not publishing: the last dbt run ({run_results}) has {len(failed)} failed or "
            f"skipped node(s): {shown}. Fix the build and run it again."
        )


def checkpoint(source: Path) -> None:
    """Fold any write-ahead log into the file so that a byte copy is complete."""
    if Path(f"{source}.wal").exists():
        con = duckdb.connect(str(source))
        try:
            con.execute("checkpoint")
        finally:
            con.close()


def count_tables(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(
            "select count(*) from information_schema.tables "
            "where table_schema in ('staging', 'intermediate', 'marts', 'ml')"
        ).fetchall()[0][0]
    finally:
        con.close()


def publish(source: Path, target: Path, run_results: Path | None = None) -> PublishResult:
    started = time.perf_counter()
    if not source.exists():
        raise PublishError(f"Not publishing: {source} does not exist. Run `make build` first.")
    if source.resolve() == target.resolve():
        raise PublishError("PUBLISHED_WAREHOUSE_PATH must differ from WAREHOUSE_PATH.")
    if run_results is not None:
        check_last_run(run_results)
    checkpoint(source)

    target.parent.mkdir(parents=True, exist_ok=True)
    staging_copy = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(source, "rb") as src, open(staging_copy, "wb") as dst:
            shutil.copyfileobj(src, dst, length=16 * 1024 * 1024)
            dst.flush()
            os.fsync(dst.fileno())
        tables = count_tables(staging_copy)
        if tables == 0:
            raise PublishError(f"Not publishing: {source} holds no warehouse tables.")
        os.replace(staging_copy, target)
    finally:
        staging_copy.unlink(missing_ok=True)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return PublishResult(target, time.perf_counter() - started, target.stat().st_size, tables)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        default=os.environ.get("WAREHOUSE_PATH", "warehouse.duckdb"),
        help="the built warehouse (default: $WAREHOUSE_PATH or warehouse.duckdb)",
    )
    parser.add_argument(
        "--target",
        default=os.environ.get("PUBLISHED_WAREHOUSE_PATH", "warehouse.published.duckdb"),
        help="the published copy (default: $PUBLISHED_WAREHOUSE_PATH or warehouse.published.duckdb)",  # noqa: E501
    )
    parser.add_argument(
        "--run-results",
        default="target/run_results.json",
        help="dbt run results checked before publishing ('' to skip the check)",
    )


def main(args: argparse.Namespace) -> int:
    try:
        result = publish(
            Path(args.source),
            Path(args.target),
            Path(args.run_results) if args.run_results else None,
        )
    except PublishError as err:
        print(err)
        return 1
    print(
        f"Published {result.tables} tables to {result.target} "
        f"({result.size_bytes / 1e6:.1f} MB) in {result.seconds:.2f} s"
    )
    return 0
