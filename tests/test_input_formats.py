"""Real files as people save them: the same events written as RFC 4180 CSV variants (CRLF, a
byte-order mark, every field quoted, quoted commas, a trailing blank line) and as typed Parquet,
in a folder whose name has a quote, spaces and non-ASCII letters, give the same stg_events as the
plain REES46 file. Records whose quoted fields span lines are put back together, and a stray quote
costs one malformed row, never the rest of the file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.conftest import query, run_dbt

COLUMNS = [
    "event_time",
    "event_type",
    "product_id",
    "category_id",
    "category_code",
    "brand",
    "price",
    "user_id",
    "user_session",
]
HEADER = ",".join(COLUMNS)
STAGING = ["build", "--select", "path:models/staging", "path:tests/dbt/staging"]
# Each variant gets its own users and sessions, so that no line of one file repeats a line of
# another (that would be a cross-file duplicate) and the events can still be compared.
USER_OFFSET = 10_000_000


def base_rows() -> list[dict[str, str]]:
    """Plain REES46 rows as text: every event type, empty codes, brands and sessions."""
    rows = []
    kinds = ["view", "view", "cart", "remove_from_cart", "purchase"]
    for i in range(40):
        day, hour, minute, second = 1 + i % 3, 10 + i % 12, i % 60, (7 * i) % 60
        rows.append(
            {
                "event_time": f"2019-10-0{day} {hour:02d}:{minute:02d}:{second:02d} UTC",
                "event_type": kinds[i % len(kinds)],
                "product_id": str(1000 + i % 7),
                "category_id": "2053013555631882655" if i % 2 else "2232732093077520756",
                "category_code": "" if i % 4 == 0 else "electronics.smartphone",
                "brand": "" if i % 5 == 0 else ["samsung", "apple", "xiaomi"][i % 3],
                "price": ["130.76", "0", "1.5", "2574.07"][i % 4],
                "user_id": str(500 + i % 6),
                "user_session": "" if i % 9 == 0 else f"sess-{i % 8}",
            }
        )
    return rows


def variant_rows(rows: list[dict[str, str]], number: int, name: str) -> list[dict[str, str]]:
    out = []
    for row in rows:
        row = dict(row)
        row["user_id"] = str(int(row["user_id"]) + number * USER_OFFSET)
        if row["user_session"]:
            row["user_session"] = f"{name}-{row['user_session']}"
        out.append(row)
    return out


def write_csv(path: Path, rows: list[dict[str, str]], **writer_args) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, **writer_args)
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def typed_frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["event_time"] = pd.to_datetime(frame["event_time"].str.removesuffix(" UTC"))
    for column in ["product_id", "category_id", "user_id"]:
        frame[column] = frame[column].astype("int64")
    frame["price"] = frame["price"].astype("float64")
    for column in ["category_code", "brand", "user_session"]:
        frame[column] = frame[column].replace("", None)
    return frame


def write_parquet(path: Path, frame: pd.DataFrame, select: str = "*") -> None:
    con = duckdb.connect()
    con.register("frame", frame)
    target = str(path).replace("'", "''")
    con.execute(f"copy (select {select} from frame) to '{target}' (format parquet)")
    con.close()


# Each variant's position gives it its users (USER_OFFSET) and its name prefixes its sessions.
VARIANTS = [
    "plain",
    "crlf",
    "bom",
    "all_quoted",
    "quoted_comma",
    "typed_timestamp",
    "typed_timestamptz",
]


def write_variants(folder: Path) -> dict[str, int]:
    """Write every variant; returns file name -> data rows written."""
    folder.mkdir(parents=True)
    rows = base_rows()
    written: dict[str, int] = {}
    for number, name in enumerate(VARIANTS):
        data = variant_rows(rows, number, name)
        if name == "plain":
            write_csv(folder / "plain.csv", data, lineterminator="\n")
            written["plain.csv"] = len(data)
        elif name == "crlf":
            write_csv(folder / "crlf.csv", data, lineterminator="\r\n")
            # A trailing blank line is no row.
            with open(folder / "crlf.csv", "ab") as f:
                f.write(b"\r\n")
            written["crlf.csv"] = len(data)
        elif name == "bom":
            write_csv(folder / "bom.csv", data, lineterminator="\n")
            (folder / "bom.csv").write_bytes(b"\xef\xbb\xbf" + (folder / "bom.csv").read_bytes())
            written["bom.csv"] = len(data)
        elif name == "all_quoted":
            write_csv(folder / "all_quoted.csv", data, quoting=csv.QUOTE_ALL, lineterminator="\n")
            written["all_quoted.csv"] = len(data)
        elif name == "quoted_comma":
            for row in data:
                if row["brand"]:
                    row["brand"] = f'{row["brand"]}, "inc"'
            write_csv(folder / "quoted_comma.csv", data, lineterminator="\n")
            written["quoted_comma.csv"] = len(data)
        elif name == "typed_timestamp":
            write_parquet(folder / "typed_timestamp.parquet", typed_frame(data))
            written["typed_timestamp.parquet"] = len(data)
        elif name == "typed_timestamptz":
            # TIMESTAMP WITH TIME ZONE, a DECIMAL price and text ids, plus one row with a null
            # user id (bad_user_id, as in a CSV).
            frame = typed_frame(data)
            frame["event_time"] = frame["event_time"].dt.tz_localize("UTC")
            frame["user_id"] = frame["user_id"].astype("string")
            frame.loc[len(frame)] = frame.iloc[0]
            frame.loc[len(frame) - 1, "user_id"] = None
            write_parquet(
                folder / "typed_timestamptz.parquet",
                frame,
                "* replace (cast(price as decimal(12, 2)) as price)",
            )
            written["typed_timestamptz.parquet"] = len(frame)
    return written


@pytest.fixture(scope="module")
def variants_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    # EVENTS_PATH is a folder: every data file in it.
    folder = root / "o'brien & co" / "données 2019"
    written = write_variants(folder)
    warehouse = root / "warehouse.duckdb"
    res = run_dbt(STAGING, events_path=folder, warehouse_path=warehouse, workdir=root)
    assert res.ok, res.output[-4000:]
    return folder, written, warehouse


def events_of(warehouse: Path, file_name: str, number: int) -> list[tuple]:
    """A file's events with the variant's user and session offsets taken off again."""
    name = VARIANTS[number]
    offset = number * USER_OFFSET
    return query(
        warehouse,
        f"""
        select event_time, event_date, event_type, product_id, category_id, category_code,
            top_category, brand, price, user_id - {offset},
            regexp_replace(user_session, '^{name}-', ''),
            regexp_replace(
                replace(session_id, '-' || user_id || '-', '-' || (user_id - {offset}) || '-'),
                '^{name}-', ''
            )
        from staging.stg_events
        where parse_filename(source_file) = '{file_name}'
        order by all
        """,
    )


@pytest.mark.parametrize("number,name", list(enumerate(VARIANTS))[1:])
def test_variant_gives_the_same_stg_events_as_the_plain_file(variants_build, number, name):
    folder, written, warehouse = variants_build
    file_name = next(f for f in written if f.rsplit(".", 1)[0] == name)
    plain = events_of(warehouse, "plain.csv", 0)
    got = events_of(warehouse, file_name, number)
    if name == "quoted_comma":
        got = [(*r[:7], r[7].removesuffix(', "inc"') if r[7] else r[7], *r[8:]) for r in got]
    assert len(plain) == len(base_rows())
    assert got == plain


def test_folder_with_quote_spaces_and_accents_loads_every_file(variants_build):
    folder, written, warehouse = variants_build
    files = query(warehouse, "select distinct source_file from staging.stg_raw_events order by 1")
    assert [Path(f).name for (f,) in files] == sorted(written)
    assert all(Path(f).parent == folder for (f,) in files)


def test_raw_rows_equal_clean_plus_quarantined_per_file(variants_build):
    _, written, warehouse = variants_build
    counts = dict(
        query(
            warehouse,
            """
            select parse_filename(source_file), count(*) from (
                select source_file from staging.stg_events
                union all
                select source_file from staging.quarantined_events
            ) group by 1
            """,
        )
    )
    assert counts == written


def test_typed_parquet_keeps_the_quarantine_reasons(variants_build):
    _, _, warehouse = variants_build
    rows = query(
        warehouse,
        "select parse_filename(source_file), reason, user_id from staging.quarantined_events",
    )
    assert rows == [("typed_timestamptz.parquet", "bad_user_id", "")]


# --- Records over several lines, stray quotes, blank lines ----------------------------------

MULTILINE_FILE = (
    HEADER + "\n"
    "2019-10-01 10:00:00 UTC,view,1,2,,a,1.5,7,s1\n"
    '2019-10-01 10:00:01 UTC,view,1,2,,"multi\nline, brand",1.6,7,s1\n'
    '2019-10-01 10:00:02 UTC,view,1,2,,"stray quote,1.7,7,s1\n'
    "2019-10-01 10:00:03 UTC,view,1,2,,b,1.8,7,s1\n"
    "\n"
    '2019-10-01 10:00:04 UTC,view,1,2,,"x\n\ny",1.9,7,s1\n'
    '2019-10-01 10:00:05 UTC,view,1,2,,"""quoted""",2.0,7,s1\n'
    '2019-10-01 10:00:06 UTC,view,1,2,,"unclosed at the end,2.1,7,s1\n'
    "\n"
)


def test_multiline_records_and_stray_quotes(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "multiline.csv").write_text(MULTILINE_FILE)
    (raw / "plain.csv").write_text(HEADER + "\n2019-10-02 10:00:00 UTC,view,1,2,,z,1.0,8,s2\n")
    warehouse = tmp_path / "warehouse.duckdb"
    res = run_dbt(STAGING, events_path=raw, warehouse_path=warehouse, workdir=tmp_path)
    assert res.ok, res.output[-4000:]
    clean = query(
        warehouse,
        "select brand, price from staging.stg_events "
        "where parse_filename(source_file) = 'multiline.csv' order by event_time",
    )
    assert clean == [
        ("a", 1.5),
        ("multi\nline, brand", 1.6),
        ("b", 1.8),
        ("x\n\ny", 1.9),
        ('"quoted"', 2.0),
    ]
    quarantined = query(
        warehouse, "select reason, raw_line, brand from staging.quarantined_events order by 2"
    )
    assert quarantined == [
        (
            "malformed_row",
            '2019-10-01 10:00:02 UTC,view,1,2,,"stray quote,1.7,7,s1',
            '"stray quote',
        ),
        (
            "malformed_row",
            '2019-10-01 10:00:06 UTC,view,1,2,,"unclosed at the end,2.1,7,s1',
            '"unclosed at the end',
        ),
    ]
    # The file without quotes is untouched by the re-read of the other.
    assert query(warehouse, "select count(*) from staging.stg_events")[0][0] == 6


def test_parquet_column_of_a_wrong_type_names_the_file(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    frame = typed_frame(base_rows())
    frame["event_time"] = True
    write_parquet(raw / "bool_times.parquet", frame)
    res = run_dbt(STAGING, events_path=raw, warehouse_path=tmp_path / "w.duckdb", workdir=tmp_path)
    assert not res.ok
    assert "bool_times.parquet" in res.output
    assert "column event_time is stored as BOOLEAN" in res.output
    assert "Traceback" not in res.output


def test_glob_under_a_path_with_a_quote(variants_build, tmp_path):
    folder, written, _ = variants_build
    res = run_dbt(
        STAGING,
        events_path=f"{folder}/*.csv",
        warehouse_path=tmp_path / "w.duckdb",
        workdir=tmp_path,
    )
    assert res.ok, res.output[-4000:]
    files = query(tmp_path / "w.duckdb", "select distinct source_file from staging.stg_raw_events")
    assert sorted(Path(f).name for (f,) in files) == sorted(
        f for f in written if f.endswith(".csv")
    )
