"""ML on a schedule: keep a run's fitted models in its own table and reuse them while nothing
they were fitted on has changed.

A classifier run's backtest, champion, calibrator and production refit depend only on the
snapshots labelled by E (ml.plan.training_date), the settings and this package's code, never on
D itself. Their fingerprint (`training_key`) covers all of these: the plan (dates), every setting
but the prediction date, the code and library versions, and for every snapshot used the feature
rows' count and latest load time (a snapshot recomputed by a late file gets a new one), and the
label rows' count, a hash of their non-float columns and the sums of their float columns (compared
within a tolerance). The fitted state is pickled into the run's long table ('state' rows) and
read back by the next build from the table it is about to replace (dbt's `this`). A build whose
key matches scores D with the stored models; any change retrains, so a stored model is always
the one a fresh build would fit (the same seeds, the same rows).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import math
import pickle
import sys
import zlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import duckdb
from sklearn.pipeline import Pipeline

from ml.calibration import Calibrator
from ml.champion import Champion
from ml.config import MLConfig
from ml.data import SnapshotSource, TargetSpec
from ml.plan import BacktestPlan
from ml.records import TargetRun

STATE_RECORD = "state"
KEY_NAME = "training_key"
FITTED_NAME = "fitted_state"
LIBRARIES = ("scikit-learn", "numpy", "scipy", "pandas")
# Columns that move with every new day whatever the snapshot (the last event date) or with every
# load: left out of the label fingerprint; a labelled snapshot's other columns are final.
MOVING_LABEL_COLUMNS = {"last_event_date", "loaded_at"}


@dataclass
class FittedState:
    """What a scoring-only build needs: the run's records (predictions cleared), the champion,
    its calibrator and, for a model champion, the refitted pipeline (a baseline or challenger
    champion is refitted on the spot: cheap, and its closures do not pickle)."""

    key: str
    run: TargetRun
    champion: Champion
    calibrator: Calibrator
    pipeline: Pipeline | None


def code_version() -> str:
    """Hash of this package's source and the versions of the libraries that fit the models."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for library in LIBRARIES:
        digest.update(f"{library}={metadata.version(library)}".encode())
    return digest.hexdigest()


FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL")
# Sums of float columns are compared to this relative tolerance: DuckDB's parallel aggregation
# rounds them differently from one build to the next (an exact hash would always retrain).
SUM_TOLERANCE = 1e-9


def snapshot_fingerprints(
    source: SnapshotSource, dates: list[str]
) -> tuple[list[tuple[str, ...]], list[float]]:
    """Per snapshot date, (exact parts, float sums): for the features, their row count and
    latest load time; for the labels, their row count, a hash of every column that is not a
    float (populations, labels, counts, dates) and the sum of every float column."""
    if not dates:
        return [], []
    listed = ", ".join(f"cast('{d}' as date)" for d in dates)
    exact: list[tuple[str, ...]] = []
    sums: list[float] = []

    def summarise(relation: str, use_load_time: bool) -> None:
        described = source.frame(f"describe select * from {relation}")
        kinds = dict(zip(described["column_name"], described["column_type"], strict=True))
        columns = [c for c in kinds if c not in MOVING_LABEL_COLUMNS and c != "as_of_date"]
        floats = [c for c in columns if str(kinds[c]).upper().startswith(FLOAT_TYPES)]
        others = [c for c in columns if c not in floats]
        if use_load_time:
            summary, floats = ["cast(max(loaded_at) as varchar)"], []
        else:
            hashed = ", ".join(f'"{c}"' for c in others)
            summary = [f"cast(sum(cast(hash({hashed}) as hugeint)) as varchar)"]
        summary += [f'cast(sum("{c}") as double)' for c in floats]
        frame = source.frame(
            f"select cast(as_of_date as date) as d, count(*) as n, {', '.join(summary)} "
            f"from {relation} where cast(as_of_date as date) in ({listed}) group by 1 order by 1"
        )
        for row in frame.itertuples(index=False):
            exact.append(tuple(str(v) for v in row[:3]))
            sums.extend(float(v) if v == v else 0.0 for v in row[3:])  # NaN (no rows): 0

    # The feature model stamps each row with its load time: cheaper than reading ~200 columns.
    features = source.frame(f"describe select * from {source.features}")["column_name"]
    summarise(source.features, "loaded_at" in set(features))
    exact.append(("labels",))
    summarise(source.labels, False)
    return exact, sums


def training_key(
    source: SnapshotSource, spec: TargetSpec, config: MLConfig, plan: BacktestPlan
) -> str:
    """The fingerprint of everything a run's training depends on (module docstring), as JSON:
    a hash of the exact parts and the float sums (compared with a tolerance, `same_key`)."""
    settings = dataclasses.asdict(dataclasses.replace(config, prediction_date=None))
    dates = sorted(
        {str(c.date) for c in plan.cutoffs}
        | {str(t) for c in plan.cutoffs for t in c.train_dates}
        | {str(t) for t in plan.production_dates}
    )
    exact, sums = snapshot_fingerprints(source, dates)
    described = repr(
        (
            spec,
            sorted(settings.items()),
            plan.trained_through,
            plan.labelled,
            plan.cutoffs,
            plan.production_dates,
            exact,
            code_version(),
        )
    )
    return json.dumps({"exact": hashlib.sha256(described.encode()).hexdigest(), "sums": sums})


def same_key(stored: str | None, current: str) -> bool:
    """Whether two training keys describe the same training (float sums within tolerance)."""
    try:
        a, b = json.loads(stored or ""), json.loads(current)
    except ValueError:
        return False
    return (
        a.get("exact") == b["exact"]
        and len(a.get("sums", ())) == len(b["sums"])
        and all(
            math.isclose(x, y, rel_tol=SUM_TOLERANCE, abs_tol=1e-12)
            for x, y in zip(a["sums"], b["sums"], strict=True)
        )
    )


def encode(state: FittedState) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(state, protocol=5), 6)).decode("ascii")


def decode(text: str) -> FittedState:
    return pickle.loads(zlib.decompress(base64.b64decode(text)))  # noqa: S301 (our own table)


def load_state(
    con: duckdb.DuckDBPyConnection, previous: str | None, target: str, key: str
) -> FittedState | None:
    """The state the previous build stored in `previous` (the run's own table) when its key is
    `key`; None when there is none, it is stale, or it cannot be read (then the run retrains)."""
    if not previous:
        return None
    cursor = con.cursor()
    try:
        rows = cursor.execute(
            f"select name, text from {previous} where record_type = ? and target = ?",
            [STATE_RECORD, target],
        ).fetchall()
    except duckdb.Error:
        return None  # first build: the table does not exist yet (or has no state rows)
    finally:
        cursor.close()
    stored = dict(rows)
    if not same_key(stored.get(KEY_NAME), key) or FITTED_NAME not in stored:
        return None
    try:
        state = decode(stored[FITTED_NAME])
    except Exception as err:  # noqa: BLE001 (an unreadable state only costs a retrain)
        print(f"ml: {target}: stored model unreadable, retraining: {err}", file=sys.stderr)
        return None
    return state if same_key(state.key, key) else None


def state_rows(state: FittedState) -> list[tuple[str, str]]:
    """The (name, text) rows of record_type 'state' in the run's long table."""
    return [(KEY_NAME, state.key), (FITTED_NAME, encode(state))]
