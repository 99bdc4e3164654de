"""Run dbt-spark Python models in the SparkSession dbt already holds (`method: session`).

dbt-spark 1.11 only ships Databricks submitters (`all_purpose_cluster`, `job_cluster`); with
`method: session` a Python model fails ("cluster_id is required"). This package adds a third
`submission_method`, `session`, that executes the compiled model code (dbt-spark's
`py_write_table`: `model(dbt, spark)`, then `df.write...saveAsTable(...)`) in this process, with
`spark` the session dbt's SQL runs on, and the dbt project folder on `sys.path` (like dbt-duckdb's
`module_paths`), so `import ml` works.

dbt imports every top-level module named `dbt_*` at start-up and loads the `plugins` it lists
(dbt.plugins.manager); the registration is done there. Without dbt-spark it does nothing.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from dbt.plugins.manager import dbtPlugin

SUBMISSION_METHOD = "session"


class SessionPythonJobHelper:
    """A dbt PythonJobHelper: `submit(compiled_code)` runs the code in the local SparkSession."""

    def __init__(self, parsed_model: dict, credentials: Any) -> None:
        self.parsed_model = parsed_model
        self.credentials = credentials

    def submit(self, compiled_code: str) -> None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        project_dir = project_folder()
        added = project_dir not in sys.path
        if added:
            sys.path.insert(0, project_dir)
        name = self.parsed_model.get("unique_id", "python model")
        try:
            exec(compile(compiled_code, f"<{name}>", "exec"), {"__name__": name, "spark": spark})  # noqa: S102
        finally:
            if added:
                sys.path.remove(project_dir)


def project_folder() -> str:
    """The dbt project folder (--project-dir, else the working directory)."""
    try:
        from dbt.flags import get_flags

        folder = getattr(get_flags(), "PROJECT_DIR", None)
    except Exception:  # noqa: BLE001 (flags not set up: fall back to the working directory)
        folder = None
    return os.path.abspath(folder or os.getcwd())


def register() -> bool:
    """Add `session` to SparkAdapter.python_submission_helpers; False without dbt-spark."""
    try:
        from dbt.adapters.spark.impl import SparkAdapter
    except ImportError:
        return False
    original = SparkAdapter.python_submission_helpers
    if getattr(original.fget, "_session_helper", False):
        return True

    def helpers(self: Any) -> dict:
        return {**original.fget(self), SUBMISSION_METHOD: SessionPythonJobHelper}

    patched = property(helpers)
    patched.fget._session_helper = True  # type: ignore[attr-defined]
    SparkAdapter.python_submission_helpers = patched  # type: ignore[method-assign]
    return True


class SparkSessionPython(dbtPlugin):
    def initialize(self) -> None:
        register()


plugins = [SparkSessionPython]
