"""The two DuckDB floors the warehouse is measured against (run as a subprocess by the harness).

    python -m bench.floors scan FILE [FILE ...]
        Parse every column of the raw files once, typed, and aggregate: nothing is written.
    python -m bench.floors land DB_PATH FILE [FILE ...]
        Parse the raw files once into a typed table `events` in a fresh DuckDB file.

Both read with explicit column types and no sniffing (REES46 has no quoted fields), with the same
memory limit and thread count as the dbt build, taken from DUCKDB_MEMORY_LIMIT, DBT_THREADS and
DUCKDB_TEMP_DIR.
"""

from __future__ import annotations

import os
import sys

import duckdb

COLUMN_TYPES = {
    "event_time": "TIMESTAMP",
    "event_type": "VARCHAR",
    "product_id": "BIGINT",
    "category_id": "BIGINT",
    "category_code": "VARCHAR",
    "brand": "VARCHAR",
    "price": "DOUBLE",
    "user_id": "BIGINT",
    "user_session": "VARCHAR",
}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def typed_reader(files: list[str]) -> str:
    """A read_csv expression that types every column while parsing."""
    file_list = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    columns = ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMN_TYPES.items())
    return (
        f"read_csv([{file_list}], header = true, delim = ',', quote = '', escape = '', "
        f"auto_detect = false, timestampformat = '{TIME_FORMAT}', columns = {{{columns}}})"
    )


def scan_sql(files: list[str]) -> str:
    """One aggregate per column, so that every column of every row is parsed."""
    aggregates = ", ".join(f"max({name})" for name in COLUMN_TYPES)
    return f"select count(*), {aggregates} from {typed_reader(files)}"


def land_sql(files: list[str]) -> str:
    return f"create table events as select * from {typed_reader(files)}"


def connect(path: str = ":memory:") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(path)
    con.execute(f"set memory_limit = '{os.environ.get('DUCKDB_MEMORY_LIMIT', '8GB')}'")
    con.execute(f"set threads = {int(os.environ.get('DBT_THREADS', os.cpu_count() or 1))}")
    con.execute("set preserve_insertion_order = false")
    if temp_dir := os.environ.get("DUCKDB_TEMP_DIR"):
        con.execute(f"set temp_directory = '{temp_dir}'")
    return con


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("scan", "land") or (argv[0] == "land" and len(argv) < 3):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "scan":
        con = connect()
        row = con.sql(scan_sql(argv[1:])).fetchall()[0]
        print(f"rows={row[0]}")
    else:
        con = connect(argv[1])
        con.execute(land_sql(argv[2:]))
        rows = con.sql("select count(*) from events").fetchall()[0][0]
        con.execute("checkpoint")
        print(f"rows={rows}")
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
