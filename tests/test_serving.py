"""Serving: readers use a published copy that a rebuild never locks or half-writes."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy

from tests.conftest import PROJECT_DIR, query, run_dbt
from warehouse.export import export
from warehouse.publish import PublishError, publish

# A separate reader process: holds the published file open read-only and queries it in a loop.
# It reconnects when the flag file appears, and records every count it saw and every error.
READER = r"""
import json, sys, time, duckdb
path, flag, out, stop = sys.argv[1:5]
seen, errors, after_reconnect = [], [], []
con = duckdb.connect(path, read_only=True)
reconnected = False
deadline = time.time() + 240
import os
while time.time() < deadline and not os.path.exists(stop):
    try:
        clean, quarantined, raw = con.sql(
            "select (select count(*) from staging.stg_events), "
            "(select count(*) from staging.quarantined_events), "
            "(select count(*) from staging.stg_raw_events)").fetchall()[0]
        (after_reconnect if reconnected else seen).append([clean, quarantined, raw])
    except Exception as e:  # recorded, and the test fails on it
        errors.append(repr(e))
    if os.path.exists(flag) and not reconnected:
        con.close()
        con = duckdb.connect(path, read_only=True)
        reconnected = True
    time.sleep(0.05)
con.close()
json.dump({"seen": seen, "after": after_reconnect, "errors": errors}, open(out, "w"))
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def working_copy(built_warehouse, tmp_path) -> Path:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse.path, copy)
    return copy


def test_reader_never_blocked_and_always_consistent(built_warehouse, working_copy, tmp_path):
    published = tmp_path / "published.duckdb"
    publish(working_copy, published)
    old_clean = query(published, "select count(*) from staging.stg_events")[0][0]

    flag, out, stop = tmp_path / "reconnect", tmp_path / "reader.json", tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published), str(flag), str(out), str(stop)]
    )
    try:
        time.sleep(1.0)
        # Rebuild the working file from fewer raw files while the reader holds the published one.
        files = sorted(built_warehouse.events_dir.glob("*.csv.gz"))
        assert len(files) >= 2
        res = run_dbt(
            ["build", "--full-refresh", "--select", "path:models/staging"],
            events_path=str(files[0]),
            warehouse_path=working_copy,
            workdir=tmp_path,
        )
        assert res.ok, res.output[-3000:]
        publish(working_copy, published, run_results=tmp_path / "target" / "run_results.json")
        new_clean = query(published, "select count(*) from staging.stg_events")[0][0]
        assert new_clean < old_clean
        time.sleep(0.5)
        flag.touch()
        time.sleep(1.0)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    report = json.loads(out.read_text())
    assert report["errors"] == []
    assert report["seen"] and report["after"]
    for clean, quarantined, raw in report["seen"] + report["after"]:
        assert clean + quarantined == raw, "a reader saw a half-published warehouse"
    assert {row[0] for row in report["seen"]} == {old_clean}, "an open reader keeps its snapshot"
    assert {row[0] for row in report["after"]} == {new_clean}, "a reconnecting reader sees new data"


def test_failed_build_never_publishes(working_copy, tmp_path):
    published = tmp_path / "published.duckdb"
    publish(working_copy, published)
    before = sha256(published)
    res = run_dbt(
        ["build", "--select", "path:models/staging"],
        events_path=str(tmp_path / "missing" / "*.csv"),
        warehouse_path=working_copy,
        workdir=tmp_path,
    )
    assert not res.ok
    with pytest.raises(PublishError, match="failed or skipped"):
        publish(working_copy, published, run_results=tmp_path / "target" / "run_results.json")
    # The make target chains the two the same way: publish only runs after a green build.
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "warehouse",
            "publish",
            "--source",
            str(working_copy),
            "--target",
            str(published),
            "--run-results",
            str(tmp_path / "target" / "run_results.json"),
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 1 and "Not publishing" in cli.stdout
    assert sha256(published) == before
    assert not list(tmp_path.glob(".published.duckdb.*.tmp"))


def test_marts_readable_through_sqlalchemy(built_warehouse, tmp_path):
    published = tmp_path / "published.duckdb"
    publish(built_warehouse.path, published)
    engine = sqlalchemy.create_engine(f"duckdb:///{published}", connect_args={"read_only": True})
    with engine.connect() as conn:
        schemas = {
            r[0]
            for r in conn.execute(
                sqlalchemy.text("select distinct table_schema from information_schema.tables")
            )
        }
        assert {"staging", "intermediate", "marts", "ml"} <= schemas
        marts = [
            r[0]
            for r in conn.execute(
                sqlalchemy.text(
                    "select table_name from information_schema.tables where table_schema = 'marts'"
                )
            )
        ]
        assert marts
        for table in marts:
            conn.execute(sqlalchemy.text(f'select * from marts."{table}" limit 5')).fetchall()
    engine.dispose()


def test_export_writes_every_mart_and_ml_table(built_warehouse, tmp_path):
    manifest = export(built_warehouse.path, tmp_path / "exports")
    expected = {
        f"{s}.{t}"
        for s, t in query(
            built_warehouse.path,
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('marts', 'ml')",
        )
    }
    assert set(manifest) == expected and expected
    for name, rows in manifest.items():
        schema, table = name.split(".")
        path = tmp_path / "exports" / schema / f"{table}.parquet"
        assert (
            query(built_warehouse.path, f"select count(*) from read_parquet('{path}')")[0][0]
            == rows
        )
    saved = json.loads((tmp_path / "exports" / "manifest.json").read_text())
    assert saved["row_counts"] == manifest
