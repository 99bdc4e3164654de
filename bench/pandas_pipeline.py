"""The pandas baseline: staging, funnel and value marts as a competent analyst would compute them.

    python -m bench.pandas_pipeline --out RESULT.pkl [--project-dir DIR] [--vars YAML] FILE [...]

Same rules as the warehouse: the business rules are the dbt vars of dbt_project.yml, overridden by
--vars (YAML, like dbt's; the benchmark passes the dbt build's --vars), and price bands come from
seeds/price_bands.csv. Computed, with the definitions of the SQL models:
- staging: typed columns, quarantine reasons (first fault wins: malformed_row, bad_event_time,
  unknown_event_type, bad_user_id, bad_product_id, bad_price, then duplicate_row for exact copies
  of an earlier row, the copy from the first file by name staying clean), and sessions
  (user_session, else a new session after session_gap_minutes of the user's inactivity);
- funnel: funnel_by_dimension (per level, dimension in var funnel_dimensions plus overall, value
  and stage: entities, reached, reached in order, within the step windows, stage events and the
  conversion ratios) and funnel_summary (its overall rows); time_to_action (percentiles, linearly
  interpolated like percentile_cont, and mean of the view -> cart and cart -> purchase seconds of
  a session's product, overall and by top_category and price_band); the cart outcomes of
  int_funnel_cart_outcomes (in session, later session within conversion_window_days, abandoned)
  and from them cart_abandonment and cart_conversion_delay; engagement_deciles and
  engagement_revenue_correlation (from the per-user ratios of int_user_engagement, whose totals
  are summed over sessions by the session's smallest user_id, as in the SQL);
- value: customer_value (revenue, purchases, orders, sessions, activity, buyer rank and value
  tier per user), revenue_pareto, revenue_concentration, tier_category_mix, tier_profile,
  customer_segments (flags and label per user) and segment_summary.
Not computed: the customer feature snapshots (customer_features) and the ML models.

Reading is dtype-aware: the fast path parses every file once with explicit dtypes (categories for
the repetitive text, including event_time, whose ~2.6 M distinct values a month are converted to
timestamps once each; int64/float64 for numbers). A file whose numbers do not parse (garbage,
missing ids, rows with extra fields) is re-read as text lines and validated field by field, like
the warehouse does. Known gap of the fast path: a row with too FEW fields is padded with nulls by
pandas, so one that only lacks user_session passes as a session-less event (the warehouse calls it
malformed_row); every other short row fails the int64 parse and takes the exact path.

After staging, the clean frame becomes flat numpy arrays once (times in seconds, event type,
dense user and session codes, category and brand codes; `Events`), with a per-session table
(int_sessions) and per-user totals. Every mart is then vectorized: np.bincount for counts and
sums, np.minimum.at / np.maximum.at for first and last times, one pd.factorize per (level,
dimension) of the funnel for its (entity, value) groups (overall: the entity codes). Only the
(session, product) pairs with a cart or a purchase are built (the others have no step to time
and no cart outcome). The distinct (user, date) and (user, category) pairs found by the funnel
are reused by the value marts (active days, category users). DuckDB's round() is reproduced
exactly (sql_round), percentiles interpolate linearly like percentile_cont / quantile_cont.
Timings: staging, keys (arrays and session/user tables), then one per group of marts.
"""

from __future__ import annotations

import argparse
import csv
import math
import pickle
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
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
VIEW, CART, REMOVE, PURCHASE = (
    EVENT_TYPES.index(name) for name in ("view", "cart", "remove_from_cart", "purchase")
)
STAGES = ["view", "cart", "purchase"]
STAGE_CODES = {"view": VIEW, "cart": CART, "purchase": PURCHASE}
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
NO_TIME = -1  # a time before every event (epoch seconds), for maxima over nothing
DAY = 86_400  # seconds
PROJECT_DIR = Path(__file__).resolve().parents[1]
MISSING = "(missing)"  # funnel dimension value of a null category or brand
UNBANDED = "(unbanded)"  # price outside every band
UNKNOWN = "unknown"  # value marts' top_category of an event without category_code
TIERS = ["power", "core", "light", "browser"]
# Segment flags of marts.customer_segments and the concern each raises in segment_summary.
SEGMENT_FLAGS = {
    "at_risk_high_value": "churn_risk",
    "unprofitable_engagement": "unprofitable",
    "discount_dependent": "unprofitable",
    "one_time_buyer": "churn_risk",
    "new_user": "none",
}
DEFAULT_SEGMENTS = {
    "power": "active_high_value",
    "core": "active_high_value",
    "light": "repeat_buyer",
    "browser": "browser",
}
ENGAGEMENT_RATIOS = {  # ratio: (numerator, denominator) columns of the per-user totals
    "cart_view_ratio": ("carts", "views"),
    "purchase_cart_ratio": ("purchases", "carts"),
    "purchasing_session_ratio": ("orders", "sessions"),
}
# The dbt vars used here, with the defaults the SQL falls back on.
DEFAULT_VARS: dict[str, object] = {
    "session_gap_minutes": 30,
    "conversion_window_days": 7,
    "view_to_cart_window_days": 7,
    "cart_to_purchase_window_days": 7,
    "funnel_dimensions": ["top_category", "brand", "price_band", "event_date", "hour_of_day"],
    "conversion_delay_bucket_hours": [1, 6, 24, 72, 168],
    "power_tier_share": 0.2,
    "core_tier_share": 0.5,
    "pareto_revenue_target": 0.8,
    "value_top_categories": 3,
    "at_risk_gap_multiplier": 2,
    "unprofitable_sessions_quantile": 0.75,
    "unprofitable_revenue_quantile": 0.25,
    "unprofitable_min_carts": 1,
    "discount_price_ratio": 0.7,
    "discount_purchase_share": 0.5,
    "discount_min_purchases": 2,
    "new_user_days": 14,
    "segment_trend_days": 28,
    "segment_precedence": [
        "at_risk_high_value",
        "new_user",
        "unprofitable_engagement",
        "discount_dependent",
        "one_time_buyer",
    ],
    "churn_horizon_days": 28,
}


@dataclass
class PipelineResult:
    raw_rows: int
    clean_events: int
    quarantine: dict[str, int]
    sessions: int
    funnel: pd.DataFrame  # marts.funnel_summary
    customer_value: pd.DataFrame
    concentration: dict[str, float]
    timings: dict[str, float] = field(default_factory=dict)
    # Every other mart, by model name (funnel_by_dimension, time_to_action, ...).
    marts: dict[str, pd.DataFrame] = field(default_factory=dict)


def load_vars(project_dir: Path, overrides: str | dict | None = None) -> dict[str, object]:
    """The dbt vars this pipeline uses: dbt_project.yml, then overrides (a --vars YAML string or a
    dict, as dbt's --vars), then the SQL defaults."""
    declared = yaml.safe_load((project_dir / "dbt_project.yml").read_text()).get("vars", {})
    if isinstance(overrides, str):
        overrides = yaml.safe_load(overrides) or {}
    merged = {**declared, **(overrides or {})}
    return {name: merged.get(name, default) for name, default in DEFAULT_VARS.items()}


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
# Shared keys: the clean events as flat arrays, the session table and the per-user totals


@dataclass
class Events:
    """The clean events as flat arrays, one element per event, built once from the clean frame."""

    t: np.ndarray  # event_time, int64 seconds since the epoch
    day: np.ndarray  # event_date, int32 days since the epoch
    etype: np.ndarray  # int8 index in EVENT_TYPES
    price: np.ndarray
    product: np.ndarray  # product_id
    category_id: np.ndarray  # int64, -1 for null (the SQL's coalesce(category_id, -1))
    user: np.ndarray  # dense user code, numbered in user_id order
    user_ids: np.ndarray  # user_id of each user code
    session: np.ndarray  # dense session code
    top_category: pd.Categorical  # first segment of category_code; categories in text order
    brand: pd.Categorical
    # Distinct (entity, value) keys found by the funnel, reused by the value marts.
    pairs: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @cached_property
    def n_sessions(self) -> int:
        return int(self.session.max()) + 1 if len(self.session) else 0

    @cached_property
    def cart_rows(self) -> np.ndarray:
        return np.flatnonzero(self.etype == CART)

    @cached_property
    def purchase_rows(self) -> np.ndarray:
        return np.flatnonzero(self.etype == PURCHASE)


def top_categories(category_code: pd.Series) -> pd.Categorical:
    """split_part(category_code, '.', 1) per event, worked out once per distinct category_code."""
    tops = [str(code).split(".", 1)[0] for code in category_code.cat.categories]
    names = sorted(set(tops))
    position = pd.Index(names).get_indexer(tops)
    # Index -1 (a null category_code) picks the appended -1: null stays null.
    top = np.append(position, -1)[category_code.cat.codes.to_numpy()]
    return pd.Categorical.from_codes(top, categories=names)


def prepare_events(clean: pd.DataFrame) -> Events:
    t = clean["event_time"].to_numpy().astype("datetime64[s]").view("int64")
    etype = clean["event_type"].cat.set_categories(EVENT_TYPES).cat.codes.to_numpy()
    user, user_ids = pd.factorize(clean["user_id"].to_numpy(), sort=True)
    # Session ids are categories (some only of quarantined rows): renumber the used ones densely.
    codes = clean["session_id"].cat.codes.to_numpy()
    used = np.bincount(codes, minlength=len(clean["session_id"].cat.categories)) > 0
    session = (np.cumsum(used) - 1)[codes]
    return Events(
        t=t,
        day=(t // DAY).astype(np.int32),
        etype=etype,
        price=clean["price"].to_numpy(),
        product=clean["product_id"].to_numpy(),
        category_id=clean["category_id"].to_numpy(dtype="int64", na_value=-1),
        user=user,
        user_ids=user_ids,
        session=session,
        top_category=top_categories(clean["category_code"]),
        brand=clean["brand"].array,
    )


def counts_by_type(codes: np.ndarray, etype: np.ndarray, n: int) -> np.ndarray:
    """Events of each type per code: an (n, 4) array, from one bincount."""
    key = np.multiply(codes, len(EVENT_TYPES), dtype=np.int64)
    key += etype
    return np.bincount(key, minlength=n * len(EVENT_TYPES)).reshape(n, len(EVENT_TYPES))


def group_min(codes: np.ndarray, values: np.ndarray, n: int, empty: int = NEVER) -> np.ndarray:
    out = np.full(n, empty, dtype=values.dtype)
    np.minimum.at(out, codes, values)
    return out


def group_max(codes: np.ndarray, values: np.ndarray, n: int, empty: int = NO_TIME) -> np.ndarray:
    out = np.full(n, empty, dtype=values.dtype)
    np.maximum.at(out, codes, values)
    return out


def session_table(ev: Events) -> pd.DataFrame:
    """int_sessions, one row per session code: user, start, end, events by type and revenue."""
    n = ev.n_sessions
    by_type = counts_by_type(ev.session, ev.etype, n)
    bought = ev.purchase_rows
    return pd.DataFrame(
        {
            "user": group_min(ev.session, ev.user, n, empty=ev.n_users),
            "start": group_min(ev.session, ev.t, n),
            "end": group_max(ev.session, ev.t, n),
            "views": by_type[:, VIEW],
            "carts": by_type[:, CART],
            "remove_from_carts": by_type[:, REMOVE],
            "purchases": by_type[:, PURCHASE],
            "revenue": np.bincount(ev.session[bought], weights=ev.price[bought], minlength=n),
        }
    )


def user_totals(ev: Events, sessions: pd.DataFrame) -> pd.DataFrame:
    """Per user code: events by type, revenue, first/last seen, last purchase, sessions, orders."""
    n = ev.n_users
    by_type = counts_by_type(ev.user, ev.etype, n)
    bought = ev.purchase_rows
    session_user = sessions["user"].to_numpy()
    return pd.DataFrame(
        {
            "user_id": ev.user_ids,
            "events": by_type.sum(axis=1),
            "views": by_type[:, VIEW],
            "carts": by_type[:, CART],
            "purchases": by_type[:, PURCHASE],
            "revenue": np.bincount(ev.user[bought], weights=ev.price[bought], minlength=n),
            "first_seen": group_min(ev.user, ev.t, n),
            "last_seen": group_max(ev.user, ev.t, n),
            "last_purchase": group_max(ev.user[bought], ev.t[bought], n),
            "sessions": np.bincount(session_user, minlength=n),
            "orders": np.bincount(session_user[sessions["purchases"].to_numpy() > 0], minlength=n),
        }
    )


# ---------------------------------------------------------------------------------------------
# Helpers: SQL arithmetic, price bands, dimensions


def ratio(numerator, denominator) -> np.ndarray:
    """numerator / denominator as double, NaN where the denominator is 0 or NaN (the SQL's
    cast(x as double) / nullif(y, 0))."""
    num = np.asarray(numerator, dtype="float64")
    den = np.asarray(denominator, dtype="float64")
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=(den != 0) & ~np.isnan(den))
    return out


def two_product(a: np.ndarray, b: float) -> tuple[np.ndarray, np.ndarray]:
    """a x b as product + error exactly (Dekker's product with Veltkamp's split)."""
    product = a * b

    def halves(v):
        scaled = 134_217_729.0 * v  # 2**27 + 1
        high = scaled - (scaled - v)
        return high, v - high

    a_high, a_low = halves(a)
    b_high, b_low = halves(np.float64(b))
    error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low
    return product, error


def sql_round(values, digits: int) -> np.ndarray:
    """DuckDB's round(x, digits) of a double: the exact binary value rounded half away from zero
    (so round(2.675, 2) = 2.67, its double being 2.67499..., and round(0.125, 2) = 0.13),
    returned as the nearest double. Where x x 10^digits >= 2**52 that product is whole already
    and DuckDB returns it / 10^digits. Checked against DuckDB on millions of values."""
    x = np.asarray(values, dtype="float64")
    scale = 10.0**digits
    with np.errstate(over="ignore", invalid="ignore"):
        product, error = two_product(np.abs(x), scale)
        whole = np.floor(product)
        # Exact sign of x x scale - (whole + 0.5): Sterbenz makes the subtraction exact.
        above_half = (product - (whole + 0.5)) + error
        rounded = np.where(product < 2.0**52, whole + (above_half >= 0), product)
    return np.copysign(rounded / scale, x)


def tier_cutoff(share: float, buyers: int) -> int:
    """Buyers up to a tier line: ceil(share x buyers), rounded to 9 places first (as in SQL)."""
    return int(math.ceil(sql_round(share * buyers, 9)))


def to_datetime(seconds: np.ndarray, missing: int = NO_TIME) -> np.ndarray:
    """Epoch seconds to datetime64[s], NaT where the value is the missing sentinel."""
    out = seconds.astype("datetime64[s]")
    out[seconds == missing] = np.datetime64("NaT")
    return out


def date_labels(days: np.ndarray) -> np.ndarray:
    """Days since the epoch as 'YYYY-MM-DD'."""
    return days.astype("datetime64[D]").astype(str).astype(object)


@dataclass
class PriceBands:
    """seeds/price_bands.csv: a price is in a band when lower_bound <= price < upper_bound."""

    labels: list[str]
    lower: np.ndarray
    upper: np.ndarray  # inf for an open band
    sort_order: dict[str, float]

    @classmethod
    def load(cls, project_dir: Path) -> PriceBands:
        seed = pd.read_csv(project_dir / "seeds" / "price_bands.csv", keep_default_na=False)
        seed = seed.replace("", np.nan)
        bands = cls(
            labels=seed["band_label"].astype(str).tolist(),
            lower=seed["lower_bound"].astype("float64").to_numpy(),
            upper=seed["upper_bound"].astype("float64").fillna(np.inf).to_numpy(),
            sort_order=dict(zip(seed["band_label"].astype(str), seed["sort_order"], strict=True)),
        )
        order = np.argsort(bands.lower)
        if (bands.upper[order][:-1] > bands.lower[order][1:]).any():
            # The SQL would count a price in two overlapping bands twice; not supported here.
            raise ValueError("price bands overlap")
        return bands

    def lookup(self, prices: np.ndarray) -> np.ndarray:
        """Band index per price; len(labels) (unbanded) for a price outside every band."""
        order = np.argsort(self.lower, kind="stable")
        lower, upper = self.lower[order], self.upper[order]
        below = np.searchsorted(lower, prices, side="right") - 1
        candidate = np.maximum(below, 0)
        inside = (below >= 0) & (prices < upper[candidate])
        return np.where(inside, order[candidate], len(self.labels)).astype(np.int8)

    @property
    def value_labels(self) -> np.ndarray:
        return np.array([*self.labels, UNBANDED], dtype=object)


def value_order(dimension: str, labels, bands: PriceBands) -> np.ndarray:
    """dense_rank() of each value within its dimension: price bands in the seed's sort_order
    (unbanded last: nulls last), then dimension_value in text order."""
    labels = [str(v) for v in labels]
    if dimension == "price_band":
        firsts = [float(bands.sort_order.get(v, np.inf)) for v in labels]
    else:
        firsts = [0.0] * len(labels)
    keys = list(zip(firsts, labels, strict=True))
    rank = {key: number for number, key in enumerate(sorted(set(keys)), start=1)}
    return np.array([rank[key] for key in keys], dtype=np.int64)


def category_values(categorical: pd.Categorical) -> tuple[np.ndarray, np.ndarray]:
    """Codes with null as one more value (the last), and the values' labels ('(missing)')."""
    codes = categorical.codes
    n = len(categorical.categories)
    values = np.where(codes >= 0, codes, n).astype(np.int32)
    return values, np.array([*categorical.categories, MISSING], dtype=object)


def dimension_values(
    ev: Events, dim: str, bands: PriceBands
) -> tuple[np.ndarray | None, np.ndarray]:
    """Per event, the code of its value of a funnel dimension (None for overall), and the labels
    (dimension_value) of the codes."""
    if dim == "overall":
        return None, np.array(["all"], dtype=object)
    if dim == "top_category":
        return category_values(ev.top_category)
    if dim == "brand":
        return category_values(ev.brand)
    if dim == "price_band":
        return bands.lookup(ev.price), bands.value_labels
    if dim == "event_date":
        first = int(ev.day.min()) if len(ev.day) else 0
        last = int(ev.day.max()) if len(ev.day) else 0
        return ev.day - np.int32(first), date_labels(np.arange(first, last + 1))
    if dim == "hour_of_day":
        return ((ev.t // 3600) % 24).astype(np.int8), np.array([f"{h:02d}" for h in range(24)])
    raise ValueError(f"unknown funnel dimension {dim!r}")


def entity_codes(ev: Events, level: str) -> np.ndarray:
    return {"user": ev.user, "session": ev.session}[level]


def pair_keys(entity: np.ndarray, values: np.ndarray | None, n_values: int) -> np.ndarray:
    """One int64 key per (entity, value): entity x n_values + value."""
    if values is None:
        return entity
    key = np.multiply(entity, n_values, dtype=np.int64)
    key += values
    return key


def distinct_pairs(ev: Events, level: str, dim: str, bands: PriceBands) -> np.ndarray:
    """The distinct (entity, value) keys of a level and dimension (cached by the funnel)."""
    if (level, dim) not in ev.pairs:
        values, labels = dimension_values(ev, dim, bands)
        ev.pairs[(level, dim)] = pd.unique(pair_keys(entity_codes(ev, level), values, len(labels)))
    return ev.pairs[(level, dim)]


# ---------------------------------------------------------------------------------------------
# Funnel: funnel_by_dimension and funnel_summary

# (level, dimension) pairs whose distinct keys the value marts reuse.
REUSED_PAIRS = {("user", "event_date"), ("user", "top_category")}


def entity_stages(
    ev: Events, groups: np.ndarray, n: int, t_view: np.ndarray, windows: tuple[int, int]
) -> dict[str, np.ndarray]:
    """int_funnel_entity_stages for n (entity, value) groups (groups = each event's group):
    whether each group reached every stage, in order, and within the step windows."""
    first_view = group_min(groups, t_view, n)
    reached = {"view": first_view != NEVER}
    ordered = {"view": reached["view"]}
    bound = first_view  # a stage is in order at or after this time
    ordered_at = {}
    for stage, rows in (("cart", ev.cart_rows), ("purchase", ev.purchase_rows)):
        stage_groups, times = groups[rows], ev.t[rows]
        reached[stage] = np.bincount(stage_groups, minlength=n) > 0
        in_order = times >= bound[stage_groups]
        ordered_at[stage] = group_min(stage_groups[in_order], times[in_order], n)
        ordered[stage] = ordered_at[stage] != NEVER
        bound = ordered_at[stage]
    # Within window: the ordered cart at most view_to_cart days after the first view, the ordered
    # purchase at most cart_to_purchase days after that cart (only where they exist: no overflow).
    view_to_cart, cart_to_purchase = (days * DAY for days in windows)
    within = {"view": reached["view"], "cart": ordered["cart"].copy()}
    carted = within["cart"]
    carted[carted] = ordered_at["cart"][carted] <= first_view[carted] + view_to_cart
    bought = ordered["purchase"] & carted
    bought[bought] = ordered_at["purchase"][bought] <= ordered_at["cart"][bought] + cart_to_purchase
    within["purchase"] = bought
    return {
        **{f"reached_{s}": reached[s] for s in STAGES},
        **{f"ordered_{s}": ordered[s] for s in STAGES},
        **{f"within_{s}": within[s] for s in STAGES},
    }


def stage_rows(
    level: str,
    dim: str,
    labels: np.ndarray,
    order: np.ndarray,
    counts: dict[str, np.ndarray],
    events: np.ndarray,
) -> pd.DataFrame:
    """funnel_by_dimension rows of one level and dimension: one per observed value and stage.
    counts: per value code (entities, reached_*, ordered_*, within_*); events: (values, 4)."""
    seen = np.flatnonzero(counts["entities"] > 0)
    reached = {s: counts[f"reached_{s}"][seen] for s in STAGES}
    ordered = {s: counts[f"ordered_{s}"][seen] for s in STAGES}
    stage_events = {s: events[seen, STAGE_CODES[s]] for s in STAGES}
    nothing = np.full(len(seen), np.nan)
    frames = []
    for number, stage in enumerate(STAGES, start=1):
        previous = STAGES[number - 2] if number > 1 else None
        ordered_previous = ratio(ordered[stage], ordered[previous]) if previous else nothing
        frames.append(
            pd.DataFrame(
                {
                    "level": level,
                    "dimension": dim,
                    "dimension_value": labels[seen],
                    "value_order": order[seen],
                    "stage": stage,
                    "stage_order": number,
                    "entities": counts["entities"][seen],
                    "entities_reached": reached[stage],
                    "entities_ordered": ordered[stage],
                    "entities_reached_out_of_order": reached[stage] - ordered[stage],
                    "entities_ordered_within_window": counts[f"within_{stage}"][seen],
                    "conversion_from_previous": (
                        ratio(reached[stage], reached[previous]) if previous else nothing
                    ),
                    "conversion_from_view": ratio(reached[stage], reached["view"]),
                    "ordered_conversion_from_previous": ordered_previous,
                    "ordered_conversion_from_view": ratio(ordered[stage], reached["view"]),
                    "within_window_conversion_from_view": ratio(
                        counts[f"within_{stage}"][seen], reached["view"]
                    ),
                    "drop_off_share": 1 - ordered_previous,
                    "stage_events": stage_events[stage],
                    "event_conversion_from_previous": (
                        ratio(stage_events[stage], stage_events[previous]) if previous else nothing
                    ),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def funnel_by_dimension(
    ev: Events, dims: list[str], bands: PriceBands, windows: tuple[int, int]
) -> pd.DataFrame:
    """marts.funnel_by_dimension: per level, dimension ('overall' and dims), value and stage.

    Per level and dimension, one pd.factorize of the (entity, value) keys gives the groups of
    int_funnel_entity_stages (overall: the entity codes); first and ordered times are group
    minima (np.minimum.at), and the groups are counted per value with np.bincount."""
    t_view = np.where(ev.etype == VIEW, ev.t, NEVER)  # views' times, shared by every grouping
    parts = []
    for dim in ["overall", *dims]:
        values, labels = dimension_values(ev, dim, bands)
        n_values = len(labels)
        if values is None:
            events = np.bincount(ev.etype, minlength=len(EVENT_TYPES))[None, :]
        else:
            events = counts_by_type(values, ev.etype, n_values)
        order = value_order(dim, labels, bands)
        for level in ("session", "user"):
            entity = entity_codes(ev, level)
            if values is None:  # overall: the dense entity codes are the groups already
                groups = entity
                uniques = np.arange(ev.n_users if level == "user" else ev.n_sessions)
            else:
                groups, uniques = pd.factorize(pair_keys(entity, values, n_values))
            if (level, dim) in REUSED_PAIRS:
                ev.pairs[(level, dim)] = uniques
            group_value = uniques % n_values
            stages = entity_stages(ev, groups, len(uniques), t_view, windows)
            del groups
            counts = {"entities": np.bincount(group_value, minlength=n_values)}
            for name, reached in stages.items():
                counts[name] = np.bincount(group_value[reached], minlength=n_values)
            parts.append(stage_rows(level, dim, labels, order, counts, events))
    return pd.concat(parts, ignore_index=True)


def funnel_summary(by_dimension: pd.DataFrame) -> pd.DataFrame:
    """marts.funnel_summary: the overall rows of funnel_by_dimension."""
    overall = by_dimension[by_dimension["dimension"] == "overall"]
    return overall.drop(columns=["dimension", "dimension_value", "value_order"]).reset_index(
        drop=True
    )


# ---------------------------------------------------------------------------------------------
# Funnel: session products, time to action, cart outcomes


def cart_session_products(ev: Events) -> pd.DataFrame:
    """int_session_products for the (session, product) pairs with a cart or a purchase event, the
    only ones time_to_action and the cart outcomes read (a view-only pair has no step to time).
    Found among the events of sessions with a cart or a purchase; times in epoch seconds, NEVER /
    NO_TIME when missing; top_category as a code (-1 for null)."""
    active = np.zeros(ev.n_sessions, dtype=bool)
    active[ev.session[ev.cart_rows]] = True
    active[ev.session[ev.purchase_rows]] = True
    rows = np.flatnonzero(active[ev.session])
    session, product, etype, t = ev.session[rows], ev.product[rows], ev.etype[rows], ev.t[rows]
    keys = pd.DataFrame({"session": session, "product": product})
    pair = keys.groupby(["session", "product"], sort=False).ngroup().to_numpy()
    n = int(pair.max()) + 1 if len(pair) else 0
    by_type = counts_by_type(pair, etype, n)

    def first(code: int) -> np.ndarray:
        mask = etype == code
        return group_min(pair[mask], t[mask], n)

    bought = etype == PURCHASE
    categories = len(ev.top_category.categories)
    top = ev.top_category.codes[rows].astype(np.int64)
    top[top < 0] = categories  # null sorts after every text: min() keeps a non-null category
    top = group_min(pair, top, n, empty=categories)
    pair_session = np.zeros(n, dtype=np.int64)
    pair_session[pair] = session
    pair_product = np.zeros(n, dtype=np.int64)
    pair_product[pair] = product
    frame = pd.DataFrame(
        {
            "session": pair_session,
            "product": pair_product,
            "user": group_min(pair, ev.user[rows], n, empty=ev.n_users),
            "top_category": np.where(top < categories, top, -1),
            "price": group_max(pair, ev.price[rows], n, empty=-np.inf),
            "carts": by_type[:, CART],
            "purchases": by_type[:, PURCHASE],
            "first_view": first(VIEW),
            "first_cart": first(CART),
            "first_purchase": first(PURCHASE),
            "last_purchase": group_max(pair[bought], t[bought], n),
        }
    )
    return frame[(frame["carts"] > 0) | (frame["purchases"] > 0)].reset_index(drop=True)


def percentile_stats(frame: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """session_products, interpolated p25/p50/p75/p90 and mean of seconds, per value of by."""
    keys = frame[by] if by else pd.Series("all", index=frame.index)
    grouped = frame["seconds"].groupby(keys.to_numpy(), sort=False)
    quantiles = grouped.quantile([0.25, 0.5, 0.75, 0.9]).unstack()
    out = pd.DataFrame(
        {
            "session_products": grouped.size(),
            "p25_seconds": quantiles[0.25],
            "p50_seconds": quantiles[0.5],
            "p75_seconds": quantiles[0.75],
            "p90_seconds": quantiles[0.9],
            "mean_seconds": grouped.mean(),
        }
    )
    return out.rename_axis("dimension_value").reset_index()


def time_to_action(sp: pd.DataFrame, ev: Events, bands: PriceBands) -> pd.DataFrame:
    """marts.time_to_action from the carted session products (pairs with only views have none)."""
    first_view, first_cart, first_purchase = (
        sp[c].to_numpy() for c in ("first_view", "first_cart", "first_purchase")
    )
    steps = {
        "view_to_cart": (
            (first_view != NEVER) & (first_cart != NEVER) & (first_cart >= first_view),
            first_cart - first_view,
        ),
        "cart_to_purchase": (
            (first_cart != NEVER) & (first_purchase != NEVER) & (first_purchase >= first_cart),
            first_purchase - first_cart,
        ),
    }
    top_labels = np.array([*ev.top_category.categories, MISSING], dtype=object)
    top = sp["top_category"].to_numpy()
    top_value = top_labels[np.where(top >= 0, top, len(top_labels) - 1)]
    band_value = bands.value_labels[bands.lookup(sp["price"].to_numpy())]
    parts = []
    for step, (measured, seconds) in steps.items():
        frame = pd.DataFrame(
            {
                "seconds": seconds[measured].astype("float64"),
                "top_category": top_value[measured],
                "price_band": band_value[measured],
            }
        )
        if frame.empty:
            continue
        for dimension in ("overall", "top_category", "price_band"):
            stats = percentile_stats(frame, None if dimension == "overall" else dimension)
            stats.insert(0, "step", step)
            stats.insert(1, "dimension", dimension)
            stats.insert(3, "value_order", value_order(dimension, stats["dimension_value"], bands))
            parts.append(stats)
    return pd.concat(parts, ignore_index=True)


def cart_outcomes(sp: pd.DataFrame, data_end: int, window_days: int) -> pd.DataFrame:
    """int_funnel_cart_outcomes: every carted (session, product) with its outcome."""
    window = window_days * DAY
    carted = sp[sp["carts"] > 0]
    in_session = (carted["purchases"] > 0) & (carted["last_purchase"] >= carted["first_cart"])
    purchased = sp.loc[sp["purchases"] > 0, ["session", "product", "user", "first_purchase"]]
    waiting = carted.loc[~in_session, ["session", "product", "user", "first_cart"]]
    later = waiting.merge(purchased, on=["user", "product"], suffixes=("", "_bought"))
    later = later[
        (later["session"] != later["session_bought"])
        & (later["first_cart"] <= later["first_purchase"])
        & (later["first_purchase"] <= later["first_cart"] + window)
    ]
    converted = later.groupby(["session", "product"])["first_purchase"].min()
    out = carted[["session", "product", "user", "first_cart"]].reset_index(drop=True)
    found = pd.MultiIndex.from_frame(out[["session", "product"]])
    later_at = converted.reindex(found).to_numpy()  # float, NaN when not converted later
    outcome = np.where(
        in_session.to_numpy(),
        "in_session",
        np.where(np.isnan(later_at), "abandoned", "later_session"),
    )
    out["purchased_in_session"] = in_session.to_numpy()
    out["later_purchase_delay_seconds"] = later_at - out["first_cart"].to_numpy()
    out["outcome"] = outcome
    out["cart_day"] = out["first_cart"] // DAY
    out["window_censored"] = out["first_cart"] + window > data_end
    return out


def months(days: np.ndarray) -> np.ndarray:
    """Months since the epoch (int64) of days since the epoch."""
    return days.astype("datetime64[D]").astype("datetime64[M]").view("int64")


def cart_abandonment(
    sessions: pd.DataFrame, outcomes: pd.DataFrame, window_days: int
) -> pd.DataFrame:
    """marts.cart_abandonment: sessions by start month, carted items by first-cart month."""
    recovered = np.zeros(len(sessions), dtype=bool)
    recovered[outcomes.loc[outcomes["outcome"] == "later_session", "session"].to_numpy()] = True
    carting = sessions["carts"].to_numpy() > 0
    abandoned = carting & (sessions["purchases"].to_numpy() == 0)
    session_facts = pd.DataFrame(
        {
            "month": months(sessions["start"].to_numpy() // DAY),
            "carting_sessions": carting,
            "abandoned_sessions": abandoned,
            "abandoned_sessions_recovered_later": abandoned & recovered,
            "cart_events": sessions["carts"].to_numpy(),
            "remove_from_cart_events": sessions["remove_from_carts"].to_numpy(),
            "carting_sessions_with_remove": carting
            & (sessions["remove_from_carts"].to_numpy() > 0),
        }
    )
    outcome = outcomes["outcome"].to_numpy()
    item_facts = pd.DataFrame(
        {
            "month": months(outcomes["cart_day"].to_numpy()),
            "carted_items": 1,
            "items_purchased_in_session": outcome == "in_session",
            "items_purchased_later": outcome == "later_session",
            "items_abandoned": outcome == "abandoned",
            "items_window_censored": outcomes["window_censored"].to_numpy(),
        }
    )

    def by_month(facts: pd.DataFrame) -> pd.DataFrame:
        monthly = facts.groupby("month").sum().astype("int64")
        overall = facts.drop(columns="month").sum().astype("int64").to_frame().T
        # 'YYYY-MM', labelled once per month
        labels = monthly.index.to_numpy().astype("datetime64[M]").astype(str).astype(object)
        monthly = monthly.set_index(pd.Index(labels, name="dimension_value"))
        monthly = monthly.assign(dimension="month").reset_index()
        overall = overall.assign(dimension="overall", dimension_value="all")
        return pd.concat([overall, monthly], ignore_index=True)

    joined = by_month(session_facts).merge(
        by_month(item_facts), on=["dimension", "dimension_value"], how="outer"
    )
    count_columns = [c for c in joined.columns if c not in ("dimension", "dimension_value")]
    joined[count_columns] = joined[count_columns].fillna(0).astype("int64")
    j = {c: joined[c].to_numpy() for c in count_columns}
    has_removes = j["remove_from_cart_events"] > 0
    rates = {
        "session_abandonment_rate": ratio(j["abandoned_sessions"], j["carting_sessions"]),
        "session_abandonment_rate_after_later_sessions": ratio(
            j["abandoned_sessions"] - j["abandoned_sessions_recovered_later"], j["carting_sessions"]
        ),
        "item_in_session_conversion_rate": ratio(
            j["items_purchased_in_session"], j["carted_items"]
        ),
        "item_later_session_conversion_rate": ratio(j["items_purchased_later"], j["carted_items"]),
        "item_abandonment_rate_in_session": ratio(
            j["carted_items"] - j["items_purchased_in_session"], j["carted_items"]
        ),
        "item_abandonment_rate_after_later_sessions": ratio(
            j["items_abandoned"], j["carted_items"]
        ),
        "has_remove_from_cart_data": has_removes,
        "remove_from_cart_per_cart": np.where(
            has_removes, ratio(j["remove_from_cart_events"], j["cart_events"]), np.nan
        ),
        "carting_sessions_with_remove_share": np.where(
            has_removes, ratio(j["carting_sessions_with_remove"], j["carting_sessions"]), np.nan
        ),
    }
    joined = joined.assign(conversion_window_days=window_days, **rates)
    return joined.drop(columns="carting_sessions_with_remove")


def delay_buckets(edges: list[float]) -> pd.DataFrame:
    """The buckets of funnel_delay_buckets(): bucket_order, delay_bucket, lower and upper hours
    (NaN for the open-ended last one), labelled <1h, 1-6h, 6-24h, 1-3d, 3-7d, 7d+ by default."""
    rows, lower = [], 0
    for number, upper in enumerate([*edges, None], start=1):
        if upper is None:
            label = f"{lower // 24}d+" if lower >= 24 and lower % 24 == 0 else f"{lower}h+"
        elif upper > 24 and upper % 24 == 0 and lower % 24 == 0:
            label = f"{lower // 24}-{upper // 24}d" if lower > 0 else f"<{upper // 24}d"
        else:
            label = f"{lower}-{upper}h" if lower > 0 else f"<{upper}h"
        rows.append((number, label, float(lower), np.nan if upper is None else float(upper)))
        lower = upper
    return pd.DataFrame(
        rows, columns=["bucket_order", "delay_bucket", "lower_hours", "upper_hours"]
    )


def cart_conversion_delay(outcomes: pd.DataFrame, edges: list[float]) -> pd.DataFrame:
    """marts.cart_conversion_delay: later-session conversions by delay bucket, every bucket."""
    buckets = delay_buckets(edges)
    later = outcomes["outcome"].to_numpy() == "later_session"
    delays = outcomes["later_purchase_delay_seconds"].to_numpy()[later]
    lower = buckets["lower_hours"].to_numpy() * 3600
    upper = buckets["upper_hours"].fillna(np.inf).to_numpy() * 3600
    # Buckets may in principle overlap (the SQL joins each delay to every bucket it falls in).
    inside = (delays[None, :] >= lower[:, None]) & (delays[None, :] < upper[:, None])
    conversions = inside.sum(axis=1)
    delay_sums = (inside * delays[None, :]).sum(axis=1)
    total = conversions.sum()
    return buckets.assign(
        conversions=conversions,
        share_of_conversions=ratio(conversions, total),
        cumulative_share=ratio(np.cumsum(conversions), total),
        mean_delay_hours=ratio(delay_sums, conversions) / 3600.0,
    )


# ---------------------------------------------------------------------------------------------
# Funnel: engagement


def ntile(n: int, buckets: int) -> np.ndarray:
    """SQL ntile(buckets) over n ordered rows: the first n % buckets tiles hold one row more."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    buckets = min(buckets, n)
    size, large = divmod(n, buckets)
    row = np.arange(n)
    small_start = large * (size + 1)
    return 1 + np.where(
        row < small_start, row // (size + 1), large + (row - small_start) // max(size, 1)
    )


def user_engagement(sessions: pd.DataFrame, user_ids: np.ndarray) -> pd.DataFrame:
    """int_user_engagement's totals per user code, summed over int_sessions by the session's
    user (a session shared by users counts for the smallest user_id, as in the SQL; a user
    without a session of their own has zeros and is in no ratio's population). Revenue is
    rounded to cents."""
    owner = sessions["user"].to_numpy()
    n = len(user_ids)
    totals = {
        c: np.bincount(owner, weights=sessions[c].to_numpy(), minlength=n).astype("int64")
        for c in ("views", "carts", "purchases")
    }
    revenue = np.bincount(owner, weights=sessions["revenue"].to_numpy(), minlength=n)
    return pd.DataFrame(
        {
            "user_id": user_ids,
            **totals,
            "sessions": np.bincount(owner, minlength=n),
            "orders": np.bincount(owner[sessions["purchases"].to_numpy() > 0], minlength=n),
            "revenue": sql_round(revenue, 2),
        }
    )


def engagement_marts(users: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """marts.engagement_deciles and marts.engagement_revenue_correlation, from the per-user
    ratios of int_user_engagement (user_engagement; a ratio with denominator 0 is outside its
    population)."""
    revenue_all = users["revenue"].to_numpy()
    buyer_all = users["purchases"].to_numpy() > 0
    user_ids = users["user_id"].to_numpy()
    deciles, correlations = [], []
    for name, (numerator, denominator) in ENGAGEMENT_RATIOS.items():
        den = users[denominator].to_numpy()
        population = den > 0
        value = users[numerator].to_numpy()[population] / den[population]
        order = np.lexsort((user_ids[population], value))
        frame = pd.DataFrame(
            {
                "decile": ntile(len(order), 10),
                "ratio_value": value[order],
                "revenue": revenue_all[population][order],
                "buyer": buyer_all[population][order],
            }
        )
        grouped = frame.groupby("decile")
        stats = pd.DataFrame(
            {
                "users": grouped.size(),
                "buyers": grouped["buyer"].sum(),
                "ratio_min": grouped["ratio_value"].min(),
                "ratio_max": grouped["ratio_value"].max(),
                "revenue_per_user_mean": grouped["revenue"].mean(),
                "revenue_per_user_median": grouped["revenue"].median(),
                "revenue": grouped["revenue"].sum(),
            }
        ).reset_index()
        stats["revenue_share"] = ratio(stats["revenue"], stats["revenue"].sum())
        stats.insert(0, "ratio", name)
        deciles.append(stats)
        for population_name, members in (
            ("ratio_population", np.ones(len(frame), dtype=bool)),
            ("buyers_only", frame["buyer"].to_numpy()),
        ):
            if members.any():
                chosen = frame[members]
                x, y = chosen["ratio_value"], chosen["revenue"]
                correlations.append(
                    {
                        "ratio": name,
                        "population": population_name,
                        "users": len(chosen),
                        "spearman_correlation": correlation(
                            x.rank(method="average"), y.rank(method="average")
                        ),
                        "pearson_correlation": correlation(x, y),
                    }
                )
    return pd.concat(deciles, ignore_index=True), pd.DataFrame(correlations)


def correlation(x: pd.Series, y: pd.Series) -> float:
    """corr(x, y) rounded to 12 decimals; NaN when either side is constant."""
    if x.max() <= x.min() or y.max() <= y.min():
        return np.nan
    return float(sql_round(np.corrcoef(x.to_numpy(), y.to_numpy())[0, 1], 12))


# ---------------------------------------------------------------------------------------------
# Value: customer_value, revenue_pareto, revenue_concentration


def customer_value(
    ev: Events, users: pd.DataFrame, bands: PriceBands, power_share: float, core_share: float
) -> pd.DataFrame:
    """marts.customer_value: one row per user, in user_id order. Buyers are ranked by revenue
    rounded to cents (descending), ties by user_id; the tiers cut that ranking."""
    user_days = distinct_pairs(ev, "user", "event_date", bands)
    n_days = int(ev.day.max()) - int(ev.day.min()) + 1 if len(ev.day) else 1
    revenue = users["revenue"].to_numpy()
    purchases = users["purchases"].to_numpy()
    user_ids = users["user_id"].to_numpy()
    buyers = np.flatnonzero(purchases > 0)
    ranked = buyers[np.lexsort((user_ids[buyers], -sql_round(revenue[buyers], 2)))]
    buyer_rank = np.full(len(users), np.nan)
    buyer_rank[ranked] = np.arange(1, len(ranked) + 1)
    tier = np.full(len(users), len(TIERS) - 1, dtype=np.int8)  # browser
    power, core = tier_cutoff(power_share, len(ranked)), tier_cutoff(core_share, len(ranked))
    tier[ranked] = np.where(np.arange(1, len(ranked) + 1) <= power, 0, 2)
    tier[ranked[power:core]] = 1
    return pd.DataFrame(
        {
            "user_id": user_ids,
            "revenue": revenue,
            "purchases": purchases,
            "orders": users["orders"].to_numpy(),
            "first_seen": to_datetime(users["first_seen"].to_numpy()),
            "last_seen": to_datetime(users["last_seen"].to_numpy()),
            "last_purchase_at": to_datetime(users["last_purchase"].to_numpy()),
            "value_tier": pd.Categorical.from_codes(tier, categories=TIERS),
            "buyer_rank": pd.array(buyer_rank, dtype="Int64"),
            "sessions": users["sessions"].to_numpy(),
            "active_days": np.bincount(user_days // n_days, minlength=len(users)),
            "events": users["events"].to_numpy(),
            "views": users["views"].to_numpy(),
            "carts": users["carts"].to_numpy(),
        }
    )


def buyer_revenue(value: pd.DataFrame) -> np.ndarray:
    """Buyers' revenue in buyer_rank order."""
    buyers = value[value["buyer_rank"].notna()]
    return buyers["revenue"].to_numpy()[np.argsort(buyers["buyer_rank"].to_numpy(dtype="int64"))]


def revenue_pareto(value: pd.DataFrame) -> pd.DataFrame:
    """marts.revenue_pareto: the revenue share of the top p% of buyers, p = 1..100."""
    revenue = buyer_revenue(value)
    n, total = len(revenue), float(revenue.sum())
    cumulative = np.cumsum(revenue)
    percentile = np.arange(1, 101)
    included = np.array([tier_cutoff(p / 100, n) for p in percentile], dtype=np.int64)
    reached = np.zeros(len(percentile))
    inside = (included >= 1) & (included <= n)
    reached[inside] = cumulative[included[inside] - 1]
    share = ratio(reached, total)
    return pd.DataFrame(
        {
            "buyer_percentile": percentile,
            "buyers_included": included,
            "buyers": n,
            "cumulative_revenue": reached,
            "cumulative_revenue_share": share,
            "percentile_revenue_share": share - np.concatenate([[0.0], share[:-1]]),
        }
    )


def revenue_concentration(value: pd.DataFrame, target: float) -> dict[str, float]:
    """marts.revenue_concentration: the headline figures of the buyers' revenue."""
    revenue = buyer_revenue(value)
    n, total = len(revenue), float(revenue.sum())
    if n == 0 or total == 0:
        raise ValueError("no buyers with revenue: revenue concentration is undefined")
    cumulative = np.cumsum(revenue)

    def top_share(percent: int) -> float:
        return float(cumulative[tier_cutoff(percent / 100, n) - 1] / total)

    # Rounded to cents, as in the SQL: a float residue never hides the buyer who reaches it.
    reaches = np.flatnonzero(sql_round(cumulative, 2) >= sql_round(target * total, 2))
    ascending_rank = n + 1 - np.arange(1, n + 1)
    return {
        "buyers": n,
        "total_revenue": total,
        "top_1pct_revenue_share": top_share(1),
        "top_10pct_revenue_share": top_share(10),
        "top_20pct_revenue_share": top_share(20),
        "revenue_target_share": float(target),
        "buyers_for_revenue_target": int(reaches[0] + 1),
        "buyer_share_for_revenue_target": float((reaches[0] + 1) / n),
        "revenue_gini": float(2 * (ascending_rank * revenue).sum() / (n * total) - (n + 1) / n),
    }


# ---------------------------------------------------------------------------------------------
# Value: tier_category_mix, tier_profile


def tier_codes(value: pd.DataFrame) -> np.ndarray:
    """Index in TIERS of each user's value tier (customer_value is in user code order)."""
    return value["value_tier"].cat.codes.to_numpy().astype(np.int64)


def tier_category_mix(ev: Events, value: pd.DataFrame, bands: PriceBands) -> pd.DataFrame:
    """marts.tier_category_mix: per tier and top-level category ('unknown' without a
    category_code), users, events, views, purchases, revenue, shares and the revenue rank."""
    values, funnel_labels = category_values(ev.top_category)
    labels = np.array([*ev.top_category.categories, UNKNOWN], dtype=object)
    # coalesce(top_category, 'unknown') merges nulls with a real 'unknown' category, if any.
    if UNKNOWN in ev.top_category.categories:
        remap = np.arange(len(labels))
        remap[-1] = list(ev.top_category.categories).index(UNKNOWN)
    else:
        remap = np.arange(len(labels))
    n_labels = len(labels)
    tier = tier_codes(value)
    key = tier[ev.user]
    key *= n_labels
    key += remap[values]
    by_type = counts_by_type(key, ev.etype, len(TIERS) * n_labels)
    bought = ev.purchase_rows
    revenue = np.bincount(key[bought], weights=ev.price[bought], minlength=len(TIERS) * n_labels)
    del key
    pairs = distinct_pairs(ev, "user", "top_category", bands)
    pair_user, pair_value = np.divmod(pairs, len(funnel_labels))
    users = np.bincount(
        tier[pair_user] * n_labels + remap[pair_value], minlength=len(TIERS) * n_labels
    )
    cells = np.flatnonzero(users > 0)
    tier_of, label_of = np.divmod(cells, n_labels)
    mix = pd.DataFrame(
        {
            "value_tier": np.array(TIERS, dtype=object)[tier_of],
            "top_category": labels[label_of],
            "users": users[cells],
            "events": by_type[cells].sum(axis=1),
            "views": by_type[cells, VIEW],
            "purchases": by_type[cells, PURCHASE],
            "revenue": revenue[cells],
        }
    )
    tier_totals = mix.groupby("value_tier")[["events", "revenue"]].transform("sum")
    mix["event_share_in_tier"] = ratio(mix["events"], tier_totals["events"])
    mix["revenue_share_in_tier"] = ratio(mix["revenue"], tier_totals["revenue"])
    known = mix[mix["top_category"] != UNKNOWN].sort_values(
        ["value_tier", "revenue", "events", "top_category"], ascending=[True, False, False, True]
    )
    rank = known.groupby("value_tier").cumcount() + 1
    mix["category_rank_in_tier"] = rank.reindex(mix.index).astype("Int64")
    return mix


def tier_profile(
    value: pd.DataFrame, sessions: pd.DataFrame, mix: pd.DataFrame, top_n: int
) -> pd.DataFrame:
    """marts.tier_profile: one row per tier (a tier without users has users = 0)."""
    span_days = (
        value["last_seen"].to_numpy().astype("datetime64[D]")
        - value["first_seen"].to_numpy().astype("datetime64[D]")
    ).astype("int64")
    facts = pd.DataFrame(
        {
            "value_tier": value["value_tier"],
            "users": 1,
            "buyers": value["purchases"] > 0,
            "revenue": value["revenue"],
            "orders": value["orders"],
            "purchases": value["purchases"],
            "sessions": value["sessions"],
            "events": value["events"],
            "active_days": value["active_days"],
            "span_days": span_days,
            "viewers": value["views"] > 0,
            "viewers_who_carted": (value["views"] > 0) & (value["carts"] > 0),
            "carters": value["carts"] > 0,
            "carters_who_purchased": (value["carts"] > 0) & (value["purchases"] > 0),
            "repeat_buyers": value["orders"] >= 2,
        }
    )
    grouped = facts.groupby("value_tier", observed=False)
    per_tier = grouped.sum(numeric_only=True)
    per_tier["days_active_per_user"] = grouped["active_days"].mean()
    per_tier["active_span_days_per_user"] = grouped["span_days"].mean()
    per_tier.index = per_tier.index.astype(str)
    tier = tier_codes(value)[sessions["user"].to_numpy()]
    s = {c: sessions[c].to_numpy() for c in ("views", "carts", "purchases")}
    session_facts = pd.DataFrame(
        {
            "value_tier": pd.Categorical.from_codes(tier, categories=TIERS),
            "view_sessions": s["views"] > 0,
            "view_sessions_with_cart": (s["views"] > 0) & (s["carts"] > 0),
            "cart_sessions": s["carts"] > 0,
            "cart_sessions_with_purchase": (s["carts"] > 0) & (s["purchases"] > 0),
            "duration": sessions["end"].to_numpy() - sessions["start"].to_numpy(),
        }
    )
    session_grouped = session_facts.groupby("value_tier", observed=False)
    per_session = session_grouped.sum(numeric_only=True)
    per_session["mean_session_seconds"] = session_grouped["duration"].mean()
    per_session.index = per_session.index.astype(str)
    rank = mix["category_rank_in_tier"]
    known = mix["top_category"] != UNKNOWN
    categories = pd.DataFrame(
        {
            "top_category": mix["top_category"].where(rank == 1),
            "top_revenue": mix["revenue"].where(rank <= top_n),
            "known_revenue": mix["revenue"].where(known),
            "top_events": mix["events"].where(rank <= top_n),
            "known_events": mix["events"].where(known),
        }
    ).groupby(mix["value_tier"])
    per_category = pd.DataFrame(
        {
            "top_category": categories["top_category"].first(),
            # sum() of only nulls is null in SQL (min_count=1)
            **{
                c: categories[c].sum(min_count=1)
                for c in ("top_revenue", "known_revenue", "top_events", "known_events")
            },
        }
    )
    out = pd.DataFrame(index=pd.Index(TIERS, name="value_tier"))
    out = out.join(per_tier).join(per_session).join(per_category)
    has_users = out["users"].fillna(0).to_numpy() > 0
    # A tier without users has no row in the SQL's users and sessions CTEs: its figures are null.
    u = {c: np.where(has_users, out[c].to_numpy(dtype="float64"), np.nan) for c in per_tier}
    sess = {c: np.where(has_users, out[c].to_numpy(dtype="float64"), np.nan) for c in per_session}
    users = np.nan_to_num(u["users"])
    return pd.DataFrame(
        {
            "value_tier": TIERS,
            "tier_order": np.arange(1, len(TIERS) + 1),
            "users": users.astype("int64"),
            "user_share": ratio(users, users.sum()),
            "buyers": np.nan_to_num(u["buyers"]).astype("int64"),
            "revenue": np.nan_to_num(u["revenue"]),
            "revenue_share": ratio(np.nan_to_num(u["revenue"]), np.nansum(u["revenue"])),
            "revenue_per_user": ratio(u["revenue"], u["users"]),
            "sessions_per_user": ratio(u["sessions"], u["users"]),
            "events_per_user": ratio(u["events"], u["users"]),
            "days_active_per_user": u["days_active_per_user"],
            "active_span_days_per_user": u["active_span_days_per_user"],
            "mean_session_seconds": sess["mean_session_seconds"],
            "view_to_cart_user_rate": ratio(u["viewers_who_carted"], u["viewers"]),
            "cart_to_purchase_user_rate": ratio(u["carters_who_purchased"], u["carters"]),
            "view_to_cart_session_rate": ratio(
                sess["view_sessions_with_cart"], sess["view_sessions"]
            ),
            "cart_to_purchase_session_rate": ratio(
                sess["cart_sessions_with_purchase"], sess["cart_sessions"]
            ),
            "orders": np.nan_to_num(u["orders"]).astype("int64"),
            "avg_order_value": ratio(u["revenue"], u["orders"]),
            "items_per_order": ratio(u["purchases"], u["orders"]),
            "orders_per_buyer": ratio(u["orders"], u["buyers"]),
            "repeat_purchase_rate": ratio(u["repeat_buyers"], u["buyers"]),
            "top_category": out["top_category"].to_numpy(dtype=object),
            "top_categories_revenue_share": ratio(out["top_revenue"], out["known_revenue"]),
            "top_categories_event_share": ratio(out["top_events"], out["known_events"]),
        }
    )


# ---------------------------------------------------------------------------------------------
# Value: customer_segments, segment_summary


def purchase_gap_medians(ev: Events) -> np.ndarray:
    """Per user code, the median days between consecutive purchase days (NaN with fewer than
    two): int_value_purchase_days' gap_days, then quantile_cont(gap_days, 0.5)."""
    bought = ev.purchase_rows
    days = pd.DataFrame({"user": ev.user[bought], "day": ev.day[bought]}).drop_duplicates()
    days = days.sort_values(["user", "day"])
    gap = days["day"].diff().where(days["user"].eq(days["user"].shift()))
    medians = gap.groupby(days["user"]).median()
    out = np.full(ev.n_users, np.nan)
    out[medians.index.to_numpy()] = medians.to_numpy()
    return out


def low_price_purchase_shares(ev: Events, price_ratio: float) -> np.ndarray:
    """Per user code, the share of purchase events priced at or below price_ratio x their
    category's median purchase price (NaN without a purchase).

    As the SQL: the median is over int_value_user_day_items lines with a purchase (one per
    user, day, product, category, brand and price), not over purchase events."""
    bought = ev.purchase_rows
    lines = pd.DataFrame(
        {
            "user": ev.user[bought],
            "day": ev.day[bought],
            "product": ev.product[bought],
            "category": ev.category_id[bought],
            "top_category": ev.top_category.codes[bought],
            "brand": ev.brand.codes[bought],
            "price": ev.price[bought],
        }
    )
    lines = lines.groupby(list(lines.columns), sort=False).size().rename("purchases").reset_index()
    median = lines.groupby("category")["price"].transform("median")
    low = lines["purchases"].where(lines["price"] <= price_ratio * median, 0)
    per_user = pd.DataFrame({"low": low, "all": lines["purchases"]}).groupby(lines["user"]).sum()
    out = np.full(ev.n_users, np.nan)
    out[per_user.index.to_numpy()] = ratio(per_user["low"], per_user["all"])
    return out


def customer_segments(ev: Events, value: pd.DataFrame, rules: dict[str, object]) -> pd.DataFrame:
    """marts.customer_segments: segment flags and label per user ("now" = last event date)."""
    today = int(ev.day.max())
    trend = int(rules["segment_trend_days"])

    def days_since(column: str) -> np.ndarray:
        days = value[column].to_numpy().astype("datetime64[D]")
        return (np.datetime64(today, "D") - days).astype("float64")  # NaN for NaT

    since_first, since_last = days_since("first_seen"), days_since("last_seen")
    since_purchase = days_since("last_purchase_at")
    since_purchase[value["last_purchase_at"].isna().to_numpy()] = np.nan
    bought = ev.purchase_rows
    day, price, user = ev.day[bought], ev.price[bought], ev.user[bought]
    recent = day > today - trend
    previous = (day <= today - trend) & (day > today - 2 * trend)
    n = ev.n_users
    revenue_recent = np.bincount(user[recent], weights=price[recent], minlength=n)
    revenue_previous = np.bincount(user[previous], weights=price[previous], minlength=n)
    gap = purchase_gap_medians(ev)
    low_share = low_price_purchase_shares(ev, float(rules["discount_price_ratio"]))
    revenue = value["revenue"].to_numpy()
    sessions = value["sessions"].to_numpy()
    purchases = value["purchases"].to_numpy()
    per_session = ratio(revenue, sessions)
    sessions_threshold = quantile(sessions, float(rules["unprofitable_sessions_quantile"]))
    revenue_threshold = quantile(
        per_session[purchases > 0], float(rules["unprofitable_revenue_quantile"])
    )
    revenue_threshold = 0.0 if np.isnan(revenue_threshold) else revenue_threshold
    tier = tier_codes(value)
    high_value = tier <= TIERS.index("core")  # power or core
    with np.errstate(invalid="ignore"):
        overdue = (since_purchase > float(rules["churn_horizon_days"])) | (
            since_purchase > float(rules["at_risk_gap_multiplier"]) * gap
        )
    flags = {
        "at_risk_high_value": high_value & overdue,
        "unprofitable_engagement": (sessions >= sessions_threshold)
        & (value["carts"].to_numpy() >= float(rules["unprofitable_min_carts"]))
        & (np.nan_to_num(per_session) <= revenue_threshold),
        "discount_dependent": (purchases >= float(rules["discount_min_purchases"]))
        & (np.nan_to_num(low_share, nan=-np.inf) >= float(rules["discount_purchase_share"])),
        "one_time_buyer": value["orders"].to_numpy() == 1,
        "new_user": since_first < float(rules["new_user_days"]),
    }
    # The first set flag in segment_precedence, else the tier's default: as codes of the names.
    names = segment_names(rules)
    segment = np.array([names.index(DEFAULT_SEGMENTS[t]) for t in TIERS])[tier]
    for flag in reversed(list(rules["segment_precedence"])):
        if flag not in SEGMENT_FLAGS:
            raise ValueError(f"segment_precedence names an unknown flag {flag!r}")
        segment = np.where(flags[flag], names.index(flag), segment)
    return pd.DataFrame(
        {
            "user_id": value["user_id"].to_numpy(),
            "value_tier": value["value_tier"],
            "segment": pd.Categorical.from_codes(segment, categories=names),
            **{f"is_{flag}": flags[flag] for flag in SEGMENT_FLAGS},
            "flag_count": sum(flags[flag].astype(np.int64) for flag in SEGMENT_FLAGS),
            "revenue": revenue,
            "purchases": purchases,
            "orders": value["orders"].to_numpy(),
            "sessions": sessions,
            "carts": value["carts"].to_numpy(),
            "days_since_first_seen": since_first.astype("int64"),
            "days_since_last_seen": since_last.astype("int64"),
            "days_since_last_purchase": pd.array(since_purchase, dtype="Int64"),
            "median_purchase_gap_days": gap,
            "revenue_per_session": per_session,
            "low_price_purchase_share": low_share,
            "revenue_recent": revenue_recent,
            "revenue_previous": revenue_previous,
            "is_active_recent": value["last_seen"].to_numpy().astype("datetime64[D]")
            > np.datetime64(today - trend, "D"),
            "sessions_threshold": sessions_threshold,
            "revenue_per_session_threshold": revenue_threshold,
        }
    )


def quantile(values: np.ndarray, q: float) -> float:
    """quantile_cont: linear interpolation; NaN without values."""
    return float(np.quantile(values, q)) if len(values) else np.nan


def segment_names(rules: dict[str, object]) -> list[str]:
    names = list(rules["segment_precedence"])
    return names + [s for s in dict.fromkeys(DEFAULT_SEGMENTS.values()) if s not in names]


def segment_summary(segments: pd.DataFrame, rules: dict[str, object]) -> pd.DataFrame:
    """marts.segment_summary: one row per segment label and one per flag."""
    measures = ["revenue", "revenue_recent", "revenue_previous"]
    facts = segments[measures].assign(users=1, active_recent_users=segments["is_active_recent"])
    groups = [("segment", name, SEGMENT_FLAGS.get(name, "none")) for name in segment_names(rules)]
    groups += [("flag", flag, concern) for flag, concern in SEGMENT_FLAGS.items()]
    by_segment = facts.groupby(segments["segment"], observed=True).sum()
    by_segment.index = by_segment.index.astype(str)
    rows = []
    for grouping, name, concern in groups:
        if grouping == "segment":
            sized = by_segment.loc[name] if name in by_segment.index else None
        else:
            members = facts[segments[f"is_{name}"].to_numpy()]
            sized = members.sum() if len(members) else None
        rows.append(
            {
                "grouping": grouping,
                "name": name,
                "concern": concern,
                "is_risky": concern != "none",
                **{
                    c: (np.nan if sized is None else float(sized[c]))
                    for c in [*measures, "users", "active_recent_users"]
                },
            }
        )
    out = pd.DataFrame(rows)
    users, revenue = out["users"].to_numpy(), out["revenue"].to_numpy()
    recent, previous = out["revenue_recent"].to_numpy(), out["revenue_previous"].to_numpy()
    out["users"] = np.nan_to_num(users).astype("int64")
    out["user_share"] = ratio(np.nan_to_num(users), len(segments))
    out["revenue_share"] = ratio(np.nan_to_num(revenue), segments["revenue"].sum())
    out["revenue_per_user"] = ratio(revenue, users)
    out["revenue_trend"] = ratio(recent - previous, previous)
    out["active_recent_users"] = np.nan_to_num(out["active_recent_users"]).astype("int64")
    for c in measures:
        out[c] = np.nan_to_num(out[c])
    return out


# ---------------------------------------------------------------------------------------------


class Stopwatch:
    """Seconds per step, into a timings dict."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.last = time.monotonic()

    def lap(self, step: str) -> None:
        now = time.monotonic()
        self.timings[step] = now - self.last
        self.last = now


def run_pipeline(
    files: list[str], rules: dict[str, object], project_dir: Path = PROJECT_DIR
) -> PipelineResult:
    clock = Stopwatch()
    bands = PriceBands.load(project_dir)
    clean, quarantine, raw_rows = stage_staging(files, float(rules["session_gap_minutes"]))
    clean_events = len(clean)
    clock.lap("staging")

    ev = prepare_events(clean)
    del clean  # everything below reads the arrays
    sessions = session_table(ev)
    users = user_totals(ev, sessions)
    clock.lap("keys")

    windows = (int(rules["view_to_cart_window_days"]), int(rules["cart_to_purchase_window_days"]))
    by_dimension = funnel_by_dimension(ev, list(rules["funnel_dimensions"]), bands, windows)
    clock.lap("funnel_by_dimension")

    session_products = cart_session_products(ev)
    actions = time_to_action(session_products, ev, bands)
    clock.lap("time_to_action")

    window = int(rules["conversion_window_days"])
    outcomes = cart_outcomes(session_products, int(ev.t.max()), window)
    abandonment = cart_abandonment(sessions, outcomes, window)
    delay = cart_conversion_delay(outcomes, list(rules["conversion_delay_bucket_hours"]))
    clock.lap("cart_marts")

    deciles, correlations = engagement_marts(user_engagement(sessions, ev.user_ids))
    clock.lap("engagement")

    value = customer_value(
        ev, users, bands, float(rules["power_tier_share"]), float(rules["core_tier_share"])
    )
    pareto = revenue_pareto(value)
    concentration = revenue_concentration(value, float(rules["pareto_revenue_target"]))
    clock.lap("customer_value")

    mix = tier_category_mix(ev, value, bands)
    profile = tier_profile(value, sessions, mix, int(rules["value_top_categories"]))
    clock.lap("tier_marts")

    segments = customer_segments(ev, value, rules)
    summary = segment_summary(segments, rules)
    clock.lap("segments")

    marts = {
        "funnel_by_dimension": by_dimension,
        "time_to_action": actions,
        "cart_abandonment": abandonment,
        "cart_conversion_delay": delay,
        "engagement_deciles": deciles,
        "engagement_revenue_correlation": correlations,
        "revenue_pareto": pareto,
        "tier_category_mix": mix,
        "tier_profile": profile,
        "customer_segments": segments,
        "segment_summary": summary,
    }
    return PipelineResult(
        raw_rows=raw_rows,
        clean_events=clean_events,
        quarantine=quarantine,
        sessions=ev.n_sessions,
        funnel=funnel_summary(by_dimension),
        customer_value=value,
        concentration=concentration,
        timings=clock.timings,
        marts=marts,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--out", type=Path, help="pickle the PipelineResult here")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    parser.add_argument("--vars", default="", help="dbt-style --vars YAML overriding the project's")
    args = parser.parse_args(argv)
    rules = load_vars(args.project_dir, args.vars)
    result = run_pipeline(args.files, rules, args.project_dir)
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
