"""Check the pandas baseline against the warehouse marts: same staging, funnel and value figures.

Compared: clean and quarantined row counts (per reason) with staging.stg_events and
staging.quarantined_events; sessions with intermediate.int_sessions; and every row and column of
the marts the pipeline computes: funnel_summary, funnel_by_dimension, time_to_action,
cart_abandonment, cart_conversion_delay, engagement_deciles, engagement_revenue_correlation,
customer_value, revenue_pareto, revenue_concentration, tier_category_mix, tier_profile,
customer_segments and segment_summary.

Per mart: the row counts, the rows found on one side only (matched on the mart's key columns),
every mart column missing from the pandas result, and per column the number of matched rows whose
values differ. Counts, text, booleans and timestamps must be equal; double columns agree to a
relative (and absolute) 1e-9, which leaves room for float summation order only. Nulls match nulls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from bench.pandas_pipeline import PipelineResult

REL_TOL = 1e-9
ABS_TOL = 1e-9
# The marts compared row by row, with the columns that identify a row.
MART_KEYS = {
    "funnel_summary": ["level", "stage"],
    "funnel_by_dimension": ["level", "dimension", "dimension_value", "stage"],
    # Percentiles are linear interpolations like percentile_cont; both sides interpolate in
    # double, so the usual 1e-9 holds (differences are float rounding only).
    "time_to_action": ["step", "dimension", "dimension_value"],
    "cart_abandonment": ["dimension", "dimension_value"],
    "cart_conversion_delay": ["bucket_order"],
    "engagement_deciles": ["ratio", "decile"],
    # Correlations are rounded to 12 decimals on both sides: a float-noise difference can flip
    # the last decimal (1e-12), well inside the absolute 1e-9.
    "engagement_revenue_correlation": ["ratio", "population"],
    "customer_value": ["user_id"],
    "revenue_pareto": ["buyer_percentile"],
    "revenue_concentration": [],
    "tier_category_mix": ["value_tier", "top_category"],
    "tier_profile": ["value_tier"],
    "customer_segments": ["user_id"],
    "segment_summary": ["grouping", "name"],
}


@dataclass
class Check:
    name: str
    pandas: object
    marts: object
    ok: bool


def equal(name: str, ours: object, theirs: object) -> Check:
    return Check(name, ours, theirs, ours == theirs)


def read_marts(warehouse: Path) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, str]]]:
    """The staging counts and every compared mart, with each mart's column types."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        sql = {
            "clean": "select count(*) as n from staging.stg_events",
            "quarantine": "select reason, count(*) as n from staging.quarantined_events group by 1",
            "sessions": "select count(*) as n from intermediate.int_sessions",
        }
        sql |= {mart: f"select * from marts.{mart}" for mart in MART_KEYS}
        frames, types = {}, {}
        for name, query in sql.items():
            relation = con.sql(query)
            types[name] = {c: str(t) for c, t in zip(relation.columns, relation.types, strict=True)}
            frames[name] = relation.df()
        return frames, types
    finally:
        con.close()


def pandas_marts(result: PipelineResult) -> dict[str, pd.DataFrame]:
    concentration = pd.DataFrame([result.concentration])
    named = {
        "funnel_summary": result.funnel,
        "customer_value": result.customer_value,
        "revenue_concentration": concentration,
    }
    return {**result.marts, **named}


def differing(ours: pd.Series, theirs: pd.Series, sql_type: str) -> int:
    """Matched rows whose values differ (null = null)."""
    if sql_type.startswith("TIMESTAMP") or sql_type == "DATE":
        a = pd.to_datetime(ours).astype("datetime64[us]")
        b = pd.to_datetime(theirs).astype("datetime64[us]")
        same = (a == b) | (a.isna() & b.isna())
        return int((~same).sum())
    if sql_type in ("VARCHAR", "BOOLEAN"):
        kind = "boolean" if sql_type == "BOOLEAN" else object
        a, b = ours.astype(kind), theirs.astype(kind)
        same = (a == b).fillna(False).astype(bool) | (a.isna() & b.isna())
        return int((~same.to_numpy(dtype=bool)).sum())
    a = pd.to_numeric(ours).to_numpy(dtype="float64", na_value=np.nan)
    b = pd.to_numeric(theirs).to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(a) | np.isnan(b)
    if sql_type in ("DOUBLE", "FLOAT"):
        same = np.isclose(a, b, rtol=REL_TOL, atol=ABS_TOL)
    else:  # integers (counts, ranks, orders): exact
        same = a == b
    same = np.where(missing, np.isnan(a) & np.isnan(b), same)
    return int((~same).sum())


def mart_checks(
    mart: str, ours: pd.DataFrame, theirs: pd.DataFrame, types: dict[str, str]
) -> list[Check]:
    """Rows, one-sided rows, missing columns and one check per compared column of one mart."""
    keys = MART_KEYS[mart] or ["_row"]
    if not MART_KEYS[mart]:  # a one-row mart
        ours, theirs = ours.assign(_row=0), theirs.assign(_row=0)
    checks = [Check(f"{mart} rows", len(ours), len(theirs), len(ours) == len(theirs))]
    missing = [c for c in theirs.columns if c not in ours.columns]
    if missing:
        checks.append(Check(f"{mart}: columns missing in pandas", ", ".join(missing), "", False))
    # Same key types on both sides (e.g. a categorical or int32 key against int64 or text).
    ours = ours.astype({k: theirs[k].dtype for k in keys if k != "_row"})
    columns = [c for c in theirs.columns if c not in keys and c not in missing]
    merged = ours[keys + columns].merge(
        theirs[keys + columns], on=keys, how="outer", suffixes=("_pd", "_db"), indicator=True
    )
    one_side = int((merged["_merge"] != "both").sum())
    checks.append(Check(f"{mart}: rows on one side only", one_side, 0, one_side == 0))
    both = merged[merged["_merge"] == "both"]
    for column in columns:
        n = differing(both[f"{column}_pd"], both[f"{column}_db"], types[column])
        checks.append(Check(f"{mart}: rows with a different {column}", n, 0, n == 0))
    return checks


def compare(result: PipelineResult, warehouse: Path) -> list[Check]:
    marts, types = read_marts(warehouse)
    clean = int(marts["clean"]["n"].iloc[0])
    checks = [equal("stg_events rows", result.clean_events, clean)]
    theirs = {str(r.reason): int(r.n) for r in marts["quarantine"].itertuples()}
    for reason in sorted(set(theirs) | set(result.quarantine)):
        a, b = result.quarantine.get(reason, 0), theirs.get(reason, 0)
        checks.append(equal(f"quarantined_events {reason}", a, b))
    sessions = int(marts["sessions"]["n"].iloc[0])
    checks.append(equal("int_sessions rows", result.sessions, sessions))
    ours = pandas_marts(result)
    for mart in MART_KEYS:
        if mart not in ours:
            checks.append(Check(f"{mart}: computed by pandas", "no", "yes", False))
            continue
        checks += mart_checks(mart, ours[mart], marts[mart], types[mart])
    return checks


def format_checks(checks: list[Check]) -> str:
    """A plain-text table, failures first."""
    ordered = sorted(checks, key=lambda c: c.ok)
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  {'pandas':>22}  {'marts':>22}  result"]
    for c in ordered:
        result = "ok" if c.ok else "DIFF"
        lines.append(f"{c.name:<{width}}  {fmt(c.pandas):>22}  {fmt(c.marts):>22}  {result}")
    return "\n".join(lines)


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)
