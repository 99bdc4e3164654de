"""The pandas baseline: staging, funnel and value figures as a competent analyst would compute them.

    python -m bench.pandas_pipeline --out RESULT.pkl [--project-dir DIR] FILE [FILE ...]

Same rules as the warehouse (business rules read from the dbt vars in dbt_project.yml):
- staging: typed columns, quarantine reasons (first fault wins: malformed_row, bad_event_time,
  unknown_event_type, bad_user_id, bad_product_id, bad_price, then duplicate_row for exact copies
  of an earlier row, the copy from the first file by name staying clean), and sessions
  (user_session, else a new session after session_gap_minutes of the user's inactivity);
- funnel: per level (user, session) and stage (view, cart, purchase) the entities, the entities
  that reached the stage, those that reached it in order (cart at or after the first view,
  purchase at or after that cart) and the stage's events, as in marts.funnel_summary;
- value: revenue, purchases, buyer rank and value tier per user (marts.customer_value) and the
  revenue concentration headline (marts.revenue_concentration).

Reading is dtype-aware: the fast path parses every file once with explicit dtypes (categories for
the repetitive text, including event_time, whose ~2.6 M distinct values a month are converted to
timestamps once each; int64/float64 for numbers). A file whose numbers do not parse (garbage,
missing ids, rows with extra fields) is re-read as text lines and validated field by field, like
the warehouse does. Known gap of the fast path: a row with too FEW fields is padded with nulls by
pandas, so one that only lacks user_session passes as a session-less event (the warehouse calls it
malformed_row); every other short row fails the int64 parse and takes the exact path.
"""

from __future__ import annotations

import argparse
import csv
import math
import pickle
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pandas.api.types import union_categoricals

from warehouse.generate import COLUMNS as RAW_COLUMNS
from warehouse.generate import EVENT_TYPES as RAW_EVENT_TYPES

# The REES46 column order and event types, shared with the generator (one definition).
COLUMNS = list(RAW_COLUMNS)
EVENT_TYPES = list(RAW_EVENT_TYPES)
STAGES = ["view", "cart", "purchase"]
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
INT_PATTERN = r"-?[0-9]{1,19}"
FAST_DTYPES = {
    "event_time": "str",
    "event_type": "category",
    "product_id": "int64",
    "category_id": "int64",
    "category_code": "category",
    "brand": "category",
    "price": "float64",
    "user_id": "int64",
    "user_session": "str",
}
FAULTS = [
    "malformed_row",
    "bad_event_time",
    "unknown_event_type",
    "bad_user_id",
    "bad_product_id",
    "bad_price",
    "duplicate_row",
]
CHUNK_ROWS = 2_000_000
NEVER = np.iinfo(np.int64).max  # a time after every event, for entities that never got there
DEFAULT_VARS = {
    "session_gap_minutes": 30,
    "power_tier_share": 0.2,
    "core_tier_share": 0.5,
    "pareto_revenue_target": 0.8,
}


@dataclass
class PipelineResult:
    raw_rows: int
    clean_events: int
    quarantine: dict[str, int]
    sessions: int
    funnel: pd.DataFrame
    customer_value: pd.DataFrame
    concentration: dict[str, float]
    timings: dict[str, float] = field(default_factory=dict)


def load_vars(project_dir: Path) -> dict[str, float]:
    """The dbt vars this pipeline uses, from dbt_project.yml (defaults when absent)."""
    declared = yaml.safe_load((project_dir / "dbt_project.yml").read_text()).get("vars", {})
    return {name: declared.get(name, default) for name, default in DEFAULT_VARS.items()}


# ---------------------------------------------------------------------------------------------
# Reading and typing


def parse_times(text: pd.Series) -> np.ndarray:
    """REES46 times ('2019-10-01 00:00:04 UTC') to datetime64; NaT for anything else.

    The ' UTC' suffix is checked and cut first, which lets pandas use its fast ISO parser
    (about 5x faster than a format string with a literal suffix)."""
    text = text.astype("str")
    utc = text.str.endswith(" UTC").fillna(False).astype(bool)
    stamps = text.str.slice(0, -4).where(utc)
    return pd.to_datetime(stamps, format="%Y-%m-%d %H:%M:%S", errors="coerce").to_numpy()


def to_category(text: pd.Series) -> pd.Categorical:
    """Text to a categorical through one factorize (cheaper than astype('category'))."""
    codes, uniques = pd.factorize(text)
    return pd.Categorical.from_codes(codes, categories=uniques)


def strict_int(text: pd.Series) -> pd.Series:
    """Plain integers only (as the warehouse's strict_bigint): anything else becomes <NA>."""
    ok = text.str.fullmatch(INT_PATTERN).fillna(False).astype(bool)
    return pd.to_numeric(text.where(ok), errors="coerce").astype("Int64")


class HeaderError(ValueError):
    """A file whose header is not the REES46 header (the warehouse stops on it too)."""


def check_header(path: str) -> None:
    found = list(pd.read_csv(path, nrows=0, quoting=csv.QUOTE_NONE).columns)
    if found != COLUMNS:
        raise HeaderError(f"{path}: wrong header {found}, expected {COLUMNS}")


def read_fast(path: str) -> pd.DataFrame:
    """One typed parse of a clean file; raises ValueError when a number does not parse.

    Read in chunks: each chunk's text columns (event_time, user_session) are converted right
    away, so the file's text never sits in memory all at once."""
    chunks = []
    reader = pd.read_csv(
        path,
        dtype=FAST_DTYPES,
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
        na_values=[""],
        chunksize=CHUNK_ROWS,
    )
    with reader:
        for chunk in reader:
            chunk["event_time"] = parse_times(chunk["event_time"])
            chunk["user_session"] = to_category(chunk["user_session"])
            chunks.append(chunk)
    frame = concat_frames(chunks)
    frame["malformed"] = False
    return frame


def read_exact(path: str) -> pd.DataFrame:
    """The exact path: every line as text, split on commas and validated field by field."""
    lines = pd.read_csv(
        path,
        sep="\x1f",
        header=None,
        names=["raw_line"],
        skiprows=1,
        dtype=str,
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
        na_filter=False,
    )["raw_line"]
    fields = lines.str.split(",", expand=True).reindex(columns=range(len(COLUMNS)))
    fields.columns = COLUMNS
    text = {c: fields[c].mask(fields[c] == "") for c in COLUMNS}
    frame = pd.DataFrame(
        {
            "event_time": parse_times(fields["event_time"]),
            "event_type": fields["event_type"].astype("category"),
            "product_id": strict_int(fields["product_id"]),
            "category_id": strict_int(fields["category_id"]),
            "category_code": text["category_code"].astype("category"),
            "brand": text["brand"].astype("category"),
            "price": pd.to_numeric(text["price"], errors="coerce"),
            "user_id": strict_int(fields["user_id"]),
            "user_session": to_category(text["user_session"]),
        }
    )
    frame["malformed"] = (lines.str.count(",") != len(COLUMNS) - 1).to_numpy()
    # Exact duplicates are identical lines here: typed values could merge different garbage.
    frame["row_hash"] = pd.util.hash_pandas_object(lines, index=False).to_numpy()
    return frame


def concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames, keeping categorical columns categorical."""
    if len(frames) == 1:
        return frames[0]
    out = {}
    for column in frames[0].columns:
        parts = [f[column] for f in frames]
        if isinstance(parts[0].dtype, pd.CategoricalDtype):
            out[column] = pd.Series(union_categoricals(parts), name=column)
        else:
            out[column] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(out)


def read_events(files: list[str]) -> pd.DataFrame:
    """Every raw row of the files (in name order): the fast typed parse, else the exact path."""
    files = sorted(files)
    for path in files:
        check_header(path)
    try:
        return concat_frames([read_fast(f) for f in files])
    except ValueError:
        # One exact path for every file, so that duplicates compare the same kind of key.
        return concat_frames([read_exact(f) for f in files])


def fault_codes(events: pd.DataFrame) -> np.ndarray:
    """Per raw row: 0 when clean, else 1 + the index in FAULTS of its first fault."""
    code = np.where(events["malformed"].to_numpy(), 1, 0).astype(np.int8)
    price = events["price"].to_numpy(dtype="float64", na_value=np.nan)
    rules = [
        np.isnat(events["event_time"].to_numpy()),
        ~events["event_type"].isin(EVENT_TYPES).to_numpy(),
        events["user_id"].isna().to_numpy(),
        events["product_id"].isna().to_numpy(),
        ~np.isfinite(price) | (price < 0),
    ]
    for number, faulty in enumerate(rules, start=2):
        code[(code == 0) & faulty] = number
    if "row_hash" in events:
        row_hash = events["row_hash"]
    else:
        row_hash = pd.util.hash_pandas_object(events[COLUMNS], index=False)
    # As in the warehouse: same user, same time and same row hash = an exact copy.
    identity = pd.DataFrame(
        {"user_id": events["user_id"], "event_time": events["event_time"], "row": row_hash}
    )
    duplicate = identity.duplicated(keep="first").to_numpy()
    code[(code == 0) & duplicate] = len(FAULTS)
    return code


def assign_sessions(clean: pd.DataFrame, gap_minutes: float) -> pd.Series:
    """session_id: user_session, else a gap-based session named nosession-<user>-<start>."""
    sessions = clean["user_session"]
    missing = sessions.isna()
    if not missing.any():
        return sessions
    loose = clean.loc[missing, ["user_id", "event_time"]].sort_values(["user_id", "event_time"])
    new_user = loose["user_id"].ne(loose["user_id"].shift())
    gap = loose["event_time"].diff() > pd.Timedelta(minutes=gap_minutes)
    number = (new_user | gap).cumsum()
    start = loose.groupby(number)["event_time"].transform("min")
    ids = "nosession-" + loose["user_id"].astype(str) + "-" + start.dt.strftime("%Y%m%d%H%M%S")
    sessions = sessions.cat.add_categories(pd.unique(ids))
    sessions.loc[ids.index] = ids
    return sessions


def stage_staging(files: list[str], gap_minutes: float) -> tuple[pd.DataFrame, dict, int]:
    """Clean typed events with session_id, the quarantine counts and the raw row count."""
    events = read_events(files)
    raw_rows = len(events)
    code = fault_codes(events)
    counts = np.bincount(code, minlength=len(FAULTS) + 1)
    quarantine = {name: int(n) for name, n in zip(FAULTS, counts[1:], strict=True) if n}
    clean = events.loc[code == 0, COLUMNS]
    del events, code
    clean = clean.astype({"product_id": "int64", "category_id": "Int64", "user_id": "int64"})
    clean["session_id"] = assign_sessions(clean, gap_minutes)
    return clean.reset_index(drop=True), quarantine, raw_rows


# ---------------------------------------------------------------------------------------------
# Funnel


def level_funnel(key: np.ndarray, event_type: pd.Series, times: np.ndarray) -> list[dict]:
    """Entities, reached, in-order and event counts per stage for one entity level."""
    entities = int(len(np.unique(key)))
    first: dict[str, pd.Series] = {}
    rows = []
    previous_ordered: pd.Series | None = None
    for stage in STAGES:
        mask = (event_type == stage).to_numpy()
        stage_times = pd.Series(times[mask], index=key[mask])
        first[stage] = stage_times.groupby(level=0).min()
        if previous_ordered is None:
            ordered = first[stage]
        else:
            bound = previous_ordered.reindex(stage_times.index, fill_value=NEVER).to_numpy()
            after = stage_times.to_numpy() >= bound
            ordered = stage_times[after].groupby(level=0).min()
        rows.append(
            {
                "stage": stage,
                "entities": entities,
                "entities_reached": len(first[stage]),
                "entities_ordered": len(ordered),
                "stage_events": int(mask.sum()),
            }
        )
        previous_ordered = ordered
    return rows


def funnel_summary(clean: pd.DataFrame) -> pd.DataFrame:
    times = clean["event_time"].to_numpy().view("int64")
    session_key = clean.groupby(["user_id", "session_id"], sort=False, observed=True).ngroup()
    rows = []
    for level, key in (("user", clean["user_id"]), ("session", session_key)):
        for row in level_funnel(key.to_numpy(), clean["event_type"], times):
            rows.append({"level": level, **row})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Value


def tier_cutoff(share: float, buyers: int) -> int:
    """Buyers up to a tier line: ceil(share x buyers), rounded to 9 places first (as in SQL)."""
    return int(math.ceil(round(share * buyers, 9)))


def customer_value(clean: pd.DataFrame, power_share: float, core_share: float) -> pd.DataFrame:
    purchases = clean.loc[(clean["event_type"] == "purchase").to_numpy(), ["user_id", "price"]]
    per_user = purchases.groupby("user_id")["price"].agg(revenue="sum", purchases="count")
    users = pd.DataFrame(index=pd.Index(clean["user_id"].unique(), name="user_id"))
    value = users.join(per_user).fillna({"revenue": 0.0, "purchases": 0})
    value["purchases"] = value["purchases"].astype("int64")
    buyers = value[value["purchases"] > 0].assign(rounded=lambda d: d["revenue"].round(2))
    buyers = buyers.reset_index().sort_values(["rounded", "user_id"], ascending=[False, True])
    buyers["buyer_rank"] = np.arange(1, len(buyers) + 1)
    n = len(buyers)
    buyers["value_tier"] = np.select(
        [
            buyers["buyer_rank"] <= tier_cutoff(power_share, n),
            buyers["buyer_rank"] <= tier_cutoff(core_share, n),
        ],
        ["power", "core"],
        "light",
    )
    value = value.join(buyers.set_index("user_id")[["buyer_rank", "value_tier"]])
    value["value_tier"] = value["value_tier"].fillna("browser")
    value["buyer_rank"] = value["buyer_rank"].astype("Int64")
    return value.reset_index()[["user_id", "revenue", "purchases", "buyer_rank", "value_tier"]]


def revenue_concentration(value: pd.DataFrame, target: float) -> dict[str, float]:
    buyers = value.dropna(subset=["buyer_rank"]).sort_values("buyer_rank")
    revenue = buyers["revenue"].to_numpy()
    n, total = len(revenue), float(revenue.sum())
    if n == 0 or total == 0:
        raise ValueError("no buyers with revenue: revenue concentration is undefined")
    cumulative = np.cumsum(revenue)

    def top_share(percent: int) -> float:
        return float(cumulative[tier_cutoff(percent / 100, n) - 1] / total)

    reaches = np.flatnonzero(np.round(cumulative, 2) >= round(target * total, 2))
    ascending_rank = n + 1 - np.arange(1, n + 1)
    return {
        "buyers": n,
        "total_revenue": total,
        "top_1pct_revenue_share": top_share(1),
        "top_10pct_revenue_share": top_share(10),
        "top_20pct_revenue_share": top_share(20),
        "buyers_for_revenue_target": int(reaches[0] + 1),
        "revenue_gini": float(2 * (ascending_rank * revenue).sum() / (n * total) - (n + 1) / n),
    }


# ---------------------------------------------------------------------------------------------


def run_pipeline(files: list[str], rules: dict[str, float]) -> PipelineResult:
    timings = {}
    clock = time.monotonic()
    clean, quarantine, raw_rows = stage_staging(files, float(rules["session_gap_minutes"]))
    timings["staging"] = time.monotonic() - clock
    sessions = int(clean["session_id"].nunique())
    funnel = funnel_summary(clean)
    timings["funnel"] = time.monotonic() - clock - timings["staging"]
    value = customer_value(clean, float(rules["power_tier_share"]), float(rules["core_tier_share"]))
    concentration = revenue_concentration(value, float(rules["pareto_revenue_target"]))
    timings["value"] = time.monotonic() - clock - timings["staging"] - timings["funnel"]
    return PipelineResult(
        raw_rows, len(clean), quarantine, sessions, funnel, value, concentration, timings
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--out", type=Path, help="pickle the PipelineResult here")
    parser.add_argument("--project-dir", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    result = run_pipeline(args.files, load_vars(args.project_dir))
    if args.out:
        with args.out.open("wb") as out:
            pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
    steps = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    counts = f"rows={result.raw_rows} clean={result.clean_events} sessions={result.sessions}"
    print(f"{counts} ({steps})")
    return 0


if __name__ == "__main__":
    # Run through the importable module so that the pickled result's class is
    # bench.pandas_pipeline.PipelineResult, not __main__.PipelineResult.
    from bench.pandas_pipeline import main as module_main

    sys.exit(module_main())
