"""Run dbt-spark Python models in the SparkSession dbt already holds (`method: session`).

dbt-spark 1.11 only ships Databricks submitters (`all_purpose_cluster`, `job_cluster`); with
`method: session` a Python model fails ("cluster_id is required"). This package adds a third
`submission_method`, `session`, that executes the compiled model code (dbt-spark's
`py_write_table`: `model(dbt, spark)`, then `df.write...saveAsTable(...)`) in this process, with
`spark` the session dbt's SQL runs on, and the dbt project folder on `sys.path` (like dbt-duckdb's
`module_paths`), so `import ml` works.

With `method: session` that session is the one dbt-spark's cursor builds from the profile's
`server_side_parameters`: a SparkSession in this process, or a Spark Connect session when they
set `spark.remote`. Other methods (`thrift`, `http`, `odbc`) hold no SparkSession in this
process: the code then runs in a Spark Connect session to the same Spark application, at
SPARK_CONNECT_URL (default `sc://<profile host>:15002`; the Thrift server must be started with
`spark.plugins=org.apache.spark.sql.connect.SparkConnectPlugin`, see scripts/spark_server.sh).

dbt imports every top-level module named `dbt_*` at start-up and loads the `plugins` it lists
(dbt.plugins.manager); the registration is done there. Without dbt-spark it does nothing.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.parse
import warnings
from typing import Any

from dbt.plugins.manager import dbtPlugin

SUBMISSION_METHOD = "session"
# Where Python models of a `thrift` (or http / odbc) target reach the server's Spark Connect.
CONNECT_URL_ENV = "SPARK_CONNECT_URL"
CONNECT_PORT = 15002


class SessionPythonJobHelper:
    """A dbt PythonJobHelper: `submit(compiled_code)` runs the code in the local SparkSession."""

    def __init__(self, parsed_model: dict, credentials: Any) -> None:
        self.parsed_model = parsed_model
        self.credentials = credentials

    def submit(self, compiled_code: str) -> None:
        spark = spark_session(self.credentials)
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


def spark_session(credentials: Any) -> Any:
    """The SparkSession a Python model runs in (see the module docstring)."""
    from pyspark.sql import SparkSession

    # As dbt-spark's session cursor builds it: getOrCreate returns the session dbt's SQL runs on.
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in (getattr(credentials, "server_side_parameters", None) or {}).items():
        builder = builder.config(key, value)
    method = str(getattr(credentials, "method", SUBMISSION_METHOD))
    if method == SUBMISSION_METHOD:
        return builder.getOrCreate()
    url = os.environ.get(CONNECT_URL_ENV) or f"sc://{credentials.host}:{CONNECT_PORT}"
    # pyspark retries an unreachable server for minutes: fail at once instead.
    address = urllib.parse.urlsplit(url.replace("sc://", "http://", 1))
    try:
        socket.create_connection((address.hostname, address.port or CONNECT_PORT), 10).close()
    except OSError as error:
        raise RuntimeError(
            f"Python models with dbt-spark method '{method}' run in a Spark Connect session to the "
            f"same Spark application, and {url} could not be reached ({error}). Start the Thrift "
            "server with spark.plugins=org.apache.spark.sql.connect.SparkConnectPlugin "
            f"(scripts/spark_server.sh thrift), set {CONNECT_URL_ENV}, "
            "or --exclude the Python models and their children (docs/spark.md)."
        ) from error
    return builder.remote(url).getOrCreate()


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
        if register():
            # dbt-spark's session cursor asks for Hive support on every statement; a Spark Connect
            # server answers each time with this warning (the server's own catalog is used).
            warnings.filterwarnings(
                "ignore", "Failed to set spark.sql.catalogImplementation", UserWarning
            )


plugins = [SparkSessionPython]
