"""The benchmark report's reading of dbt's console log (where the build's time goes)."""

from __future__ import annotations

from pathlib import Path

from bench.measure import Measurement
from bench.report import median_node_seconds, node_seconds

LOG = """\
\x1b[0m10:44:50  1 of 9 START sql view model staging.base_raw_event_lines ........ [RUN]
\x1b[0m1 of 9 OK created sql view model staging.base_raw_event_lines .. [\x1b[32mOK\x1b[0m in 0.26s]
\x1b[0m2 of 9 OK created sql incremental model staging.stg_raw_events [\x1b[32mOK\x1b[0m in 54.31s]
10:46:01  3 of 9 OK created python table model ml.ml_churn_training ......... [OK in 34.46s]
10:46:02  4 of 9 PASS not_null_columns_stg_events_ ........................... [PASS in 0.50s]
10:46:03  5 of 9 FAIL 2 unique_customer_value_user_id ........................ [FAIL 2 in 1.50s]
10:46:04  Finished running 3 models, 2 tests in 0 hours 1 minutes and 14.00 seconds (74.00s).
"""


def write_log(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_node_seconds_reads_models_and_sums_tests(tmp_path: Path) -> None:
    seconds = node_seconds(write_log(tmp_path, "build.log", LOG))
    assert seconds == {
        "staging.base_raw_event_lines": 0.26,
        "staging.stg_raw_events": 54.31,
        "ml.ml_churn_training": 34.46,
        "tests (all)": 2.0,
    }
    assert node_seconds(tmp_path / "missing.log") == {}


def test_median_node_seconds_over_successful_runs(tmp_path: Path) -> None:
    def run(name: str, text: str, returncode: int = 0) -> Measurement:
        return Measurement(1.0, 1.0, 1, returncode, write_log(tmp_path, name, text))

    fast = LOG.replace("54.31s", "50.00s")
    slow = LOG.replace("54.31s", "70.00s")
    failed = LOG.replace("54.31s", "999.00s")
    medians = median_node_seconds([run("a", fast), run("b", slow), run("c", failed, 1)])
    assert medians["staging.stg_raw_events"] == 60.0


def test_spark_section_puts_both_engines_side_by_side(tmp_path: Path) -> None:
    from bench.data import DataSet, Size
    from bench.report import SizeFigures, spark_section
    from bench.run import SizeResult

    def run(name: str, wall: float, returncode: int = 0) -> Measurement:
        return Measurement(
            wall, wall * 1.5, int(wall * 1e8), returncode, write_log(tmp_path, name, LOG)
        )

    data = DataSet(Size("10M", 10_000_000), 42, tmp_path / "month.csv.gz", tmp_path / "day.csv.gz")
    size = SizeResult(data)
    size.runs["build"] = [run("b1", 100.0), run("b2", 120.0)]
    size.runs["incremental"] = [run("i1", 30.0)]
    size.runs["spark_build"] = [run("s1", 550.0)]
    size.runs["spark_incremental"] = [run("s2", 90.0, returncode=1)]
    text = "\n".join(spark_section([SizeFigures(size)]))
    # Median DuckDB build 110 s against Spark's 550 s; the failed new day is reported as such.
    assert "| 10M | full | 110.0 | 550.0 | 5.00x | 165.0 | 825.0 | 11.00 | 55.00 |" in text
    assert "| 10M | one new day | 30.0 | FAILED" in text
    assert "staging.stg_raw_events | 54.3 |" in text
    # No Spark run at all: no section.
    assert spark_section([SizeFigures(SizeResult(data))]) == []
