"""Check the pandas baseline against the warehouse marts: same staging, funnel and value figures.

Compared: clean and quarantined row counts (per reason) with staging.stg_events and
staging.quarantined_events; sessions with intermediate.int_sessions; per level and stage the
entities, entities_reached, entities_ordered and stage_events of marts.funnel_summary; per user the
revenue, purchases, buyer_rank and value_tier of marts.customer_value; and the headline figures of
marts.revenue_concentration. Counts must be equal; money and shares agree to a relative 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from bench.pandas_pipeline import PipelineResult

FUNNEL_COUNTS = ["entities", "entities_reached", "entities_ordered", "stage_events"]
CONCENTRATION = [
    "buyers",
    "total_revenue",
    "top_1pct_revenue_share",
    "top_10pct_revenue_share",
    "top_20pct_revenue_share",
    "buyers_for_revenue_target",
    "revenue_gini",
]
REL_TOL = 1e-9


@dataclass
class Check:
    name: str
    pandas: object
    marts: object
    ok: bool


def equal(name: str, ours: object, theirs: object) -> Check:
    return Check(name, ours, theirs, ours == theirs)


def close(a: float, b: float) -> bool:
    return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=1e-9)


def read_marts(warehouse: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        funnel_columns = ", ".join(FUNNEL_COUNTS)
        sql = {
            "clean": "select count(*) as n from staging.stg_events",
            "quarantine": "select reason, count(*) as n from staging.quarantined_events group by 1",
            "sessions": "select count(*) as n from intermediate.int_sessions",
            "funnel": f"select level, stage, {funnel_columns} from marts.funnel_summary",
            "value": "select user_id, revenue, purchases, buyer_rank, value_tier "
            "from marts.customer_value",
            "concentration": f"select {', '.join(CONCENTRATION)} from marts.revenue_concentration",
        }
        return {name: con.sql(query).df() for name, query in sql.items()}
    finally:
        con.close()


def value_checks(ours: pd.DataFrame, theirs: pd.DataFrame) -> list[Check]:
    merged = ours.merge(theirs, on="user_id", how="outer", suffixes=("_pd", "_db"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    revenue_ok = [close(a, b) for a, b in zip(both["revenue_pd"], both["revenue_db"], strict=True)]
    rank_pd = both["buyer_rank_pd"].astype("Int64").fillna(0)
    rank_db = both["buyer_rank_db"].astype("Int64").fillna(0)
    mismatches = {
        "users only on one side": int((merged["_merge"] != "both").sum()),
        "users with a different revenue": len(revenue_ok) - sum(revenue_ok),
        "users with a different purchases count": int(
            (both["purchases_pd"] != both["purchases_db"]).sum()
        ),
        "users with a different buyer_rank": int((rank_pd != rank_db).sum()),
        "users with a different value_tier": int(
            (both["value_tier_pd"] != both["value_tier_db"]).sum()
        ),
    }
    checks = [Check("customer_value users", len(ours), len(theirs), len(ours) == len(theirs))]
    checks += [Check(f"customer_value: {k}", v, 0, v == 0) for k, v in mismatches.items()]
    for tier in ("power", "core", "light", "browser"):
        a = int((ours["value_tier"] == tier).sum())
        b = int((theirs["value_tier"] == tier).sum())
        checks.append(Check(f"customer_value: {tier} users", a, b, a == b))
    return checks


def compare(result: PipelineResult, warehouse: Path) -> list[Check]:
    marts = read_marts(warehouse)
    clean = int(marts["clean"]["n"].iloc[0])
    checks = [equal("stg_events rows", result.clean_events, clean)]
    theirs = {str(r.reason): int(r.n) for r in marts["quarantine"].itertuples()}
    for reason in sorted(set(theirs) | set(result.quarantine)):
        a, b = result.quarantine.get(reason, 0), theirs.get(reason, 0)
        checks.append(equal(f"quarantined_events {reason}", a, b))
    sessions = int(marts["sessions"]["n"].iloc[0])
    checks.append(equal("int_sessions rows", result.sessions, sessions))

    funnel = marts["funnel"].set_index(["level", "stage"])
    for row in result.funnel.itertuples(index=False):
        for column in FUNNEL_COUNTS:
            ours = int(getattr(row, column))
            key = (row.level, row.stage)
            theirs_value = int(funnel.loc[key, column]) if key in funnel.index else None
            name = f"funnel_summary {row.level}/{row.stage} {column}"
            checks.append(equal(name, ours, theirs_value))
    checks.append(equal("funnel_summary rows", len(result.funnel), len(funnel)))

    checks += value_checks(result.customer_value, marts["value"])
    concentration = marts["concentration"].iloc[0]
    for column in CONCENTRATION:
        a, b = result.concentration[column], concentration[column]
        checks.append(Check(f"revenue_concentration {column}", a, b, close(a, b)))
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
