"""Export every marts and ml table as Parquet, with a manifest of row counts.

For tools that do not speak DuckDB. Reads the published warehouse when there is one (so it never
waits on a running build), else the working file.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import duckdb

EXPORTED_SCHEMAS = ("marts", "ml")


def export(warehouse: Path, out_dir: Path) -> dict[str, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse), read_only=True)
    manifest: dict[str, int] = {}
    try:
        tables = con.sql(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in {EXPORTED_SCHEMAS} order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            path = out_dir / schema / f"{table}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            con.execute(f'copy "{schema}"."{table}" to \'{path}\' (format parquet)')
            manifest[f"{schema}.{table}"] = con.sql(
                f'select count(*) from "{schema}"."{table}"'
            ).fetchall()[0][0]
    finally:
        con.close()
    (out_dir / "manifest.json").write_text(
        json.dumps({"warehouse": str(warehouse), "row_counts": manifest}, indent=2) + "\n"
    )
    return manifest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    published = os.environ.get("PUBLISHED_WAREHOUSE_PATH", "warehouse.published.duckdb")
    default = (
        published
        if Path(published).exists()
        else os.environ.get("WAREHOUSE_PATH", "warehouse.duckdb")
    )
    parser.add_argument("--warehouse", default=default, help=f"DuckDB file to read ({default})")
    parser.add_argument("--out", default="exports", help="output folder (default: exports)")


def main(args: argparse.Namespace) -> int:
    manifest = export(Path(args.warehouse), Path(args.out))
    print(f"Exported {len(manifest)} tables to {args.out}/ (manifest.json lists row counts)")
    return 0
