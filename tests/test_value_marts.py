"""Cross-check the customer value marts and features against pandas on generated data.

Everything is recomputed from staging.stg_events (the clean events) with pandas, independently of
the dbt models, on the shared `built_warehouse` build (churn_horizon_days = 14).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import PROJECT_DIR, BuiltWarehouse, query, query_df

POWER_SHARE = 0.2
CORE_SHARE = 0.5
VALUE_MARTS = [
    "customer_value",
    "revenue_pareto",
    "revenue_concentration",
    "tier_profile",
    "tier_category_mix",
    "customer_segments",
    "segment_summary",
]


@pytest.fixture(scope="module")
def events(built_warehouse: BuiltWarehouse) -> pd.DataFrame:
    return query_df(
        built_warehouse.path,
        "select user_id, session_id, event_time, event_date, event_type, product_id, price "
        "from staging.stg_events",
    )


@pytest.fixture(scope="module")
def expected_value(events: pd.DataFrame) -> pd.DataFrame:
    """Revenue, purchases, orders and tier per user, the pandas way."""
    purchases = events[events["event_type"] == "purchase"]
    users = events.groupby("user_id").agg(
        first_seen=("event_time", "min"), last_seen=("event_time", "max")
    )
    users["revenue"] = purchases.groupby("user_id")["price"].sum()
    users["purchases"] = purchases.groupby("user_id").size()
    users["orders"] = purchases.groupby("user_id")["session_id"].nunique()
    users = users.fillna({"revenue": 0.0, "purchases": 0, "orders": 0}).reset_index()
    return assign_tiers(users)


def assign_tiers(users: pd.DataFrame) -> pd.DataFrame:
    buyers = users[users["purchases"] > 0].copy()
    buyers["cents"] = buyers["revenue"].round(2)
    buyers = buyers.sort_values(["cents", "user_id"], ascending=[False, True])
    n = len(buyers)
    rank = np.arange(1, n + 1)
    buyers["expected_rank"] = rank
    buyers["expected_tier"] = np.where(
        rank <= math.ceil(POWER_SHARE * n),
        "power",
        np.where(rank <= math.ceil(CORE_SHARE * n), "core", "light"),
    )
    out = users.merge(buyers[["user_id", "expected_rank", "expected_tier"]], "left", "user_id")
    out["expected_tier"] = out["expected_tier"].fillna("browser")
    return out


def mart(built_warehouse: BuiltWarehouse, name: str) -> pd.DataFrame:
    return query_df(built_warehouse.path, f"select * from marts.{name}")


def test_revenue_purchases_and_orders_per_user(
    built_warehouse: BuiltWarehouse, expected_value: pd.DataFrame
) -> None:
    got = mart(built_warehouse, "customer_value").merge(
        expected_value, on="user_id", suffixes=("", "_pd"), how="outer", indicator=True
    )
    assert (got["_merge"] == "both").all(), "customer_value and stg_events differ in users"
    np.testing.assert_allclose(got["revenue"], got["revenue_pd"], rtol=1e-9, atol=1e-6)
    assert (got["purchases"] == got["purchases_pd"]).all()
    assert (got["orders"] == got["orders_pd"]).all()
    assert (got["first_seen"] == got["first_seen_pd"]).all()
    assert (got["last_seen"] == got["last_seen_pd"]).all()


def test_value_tiers_match_pandas_ranking(
    built_warehouse: BuiltWarehouse, expected_value: pd.DataFrame
) -> None:
    got = mart(built_warehouse, "customer_value").merge(
        expected_value, on="user_id", suffixes=("", "_pd")
    )
    wrong = got[got["value_tier"] != got["expected_tier"]]
    assert wrong.empty, wrong[["user_id", "revenue", "value_tier", "expected_tier"]].head()
    assert (got["buyer_rank"].fillna(0) == got["expected_rank"].fillna(0)).all()
    sizes = got["value_tier"].value_counts()
    buyers = int((got["purchases"] > 0).sum())
    assert buyers > 50, "the sample should have enough buyers for the tiers to mean something"
    assert sizes["power"] == math.ceil(POWER_SHARE * buyers)


def test_top_20_percent_share_and_pareto(
    built_warehouse: BuiltWarehouse, expected_value: pd.DataFrame
) -> None:
    buyers = expected_value.dropna(subset=["expected_rank"]).sort_values("expected_rank")
    total = buyers["revenue"].sum()
    cumulative = buyers["revenue"].cumsum().to_numpy()
    n = len(buyers)

    def share(p: int) -> float:
        return cumulative[math.ceil(p / 100 * n) - 1] / total

    concentration = mart(built_warehouse, "revenue_concentration").iloc[0]
    assert concentration["top_20pct_revenue_share"] == pytest.approx(share(20), rel=1e-9)
    assert concentration["top_1pct_revenue_share"] == pytest.approx(share(1), rel=1e-9)
    assert concentration["top_10pct_revenue_share"] == pytest.approx(share(10), rel=1e-9)
    reach = int(np.argmax(np.round(cumulative, 2) >= round(0.8 * total, 2))) + 1
    assert concentration["buyers_for_revenue_target"] == reach
    power = expected_value[expected_value["expected_tier"] == "power"]["revenue"].sum()
    assert concentration["top_20pct_revenue_share"] == pytest.approx(power / total, rel=1e-9)

    pareto = mart(built_warehouse, "revenue_pareto").sort_values("buyer_percentile")
    assert pareto["buyer_percentile"].tolist() == list(range(1, 101))
    expected_curve = [share(p) for p in range(1, 101)]
    np.testing.assert_allclose(pareto["cumulative_revenue_share"], expected_curve, rtol=1e-9)
    assert pareto["cumulative_revenue_share"].iloc[-1] == pytest.approx(1.0)


def test_tier_profile_adds_up(built_warehouse: BuiltWarehouse) -> None:
    profile = mart(built_warehouse, "tier_profile").set_index("value_tier")
    value = mart(built_warehouse, "customer_value")
    assert profile["users"].sum() == len(value)
    assert profile["revenue_share"].sum() == pytest.approx(1.0)
    by_tier = value.groupby("value_tier")["revenue"].sum()
    for tier, revenue in by_tier.items():
        assert profile.loc[tier, "revenue"] == pytest.approx(revenue)
    # Power buyers spend more per user than core, core more than light.
    per_user = profile["revenue_per_user"]
    assert per_user["power"] > per_user["core"] > per_user["light"] > 0


def test_segments_partition_users_and_flags_follow_rules(built_warehouse: BuiltWarehouse) -> None:
    segments = mart(built_warehouse, "customer_segments")
    summary = mart(built_warehouse, "segment_summary")
    seg_rows = summary[summary["grouping"] == "segment"]
    assert seg_rows["users"].sum() == len(segments)
    assert seg_rows["revenue_share"].sum() == pytest.approx(1.0)
    for flag in ["at_risk_high_value", "unprofitable_engagement", "discount_dependent"]:
        row = summary[(summary["grouping"] == "flag") & (summary["name"] == flag)].iloc[0]
        assert row["users"] == segments[f"is_{flag}"].sum()
    # Rules recomputed from the mart's own inputs (churn_horizon_days = 14 in the shared build).
    high = segments["value_tier"].isin(["power", "core"])
    overdue = (segments["days_since_last_purchase"] > 14) | (
        segments["days_since_last_purchase"] > 2 * segments["median_purchase_gap_days"]
    )
    assert (segments["is_at_risk_high_value"] == (high & overdue)).all()
    assert (segments["is_one_time_buyer"] == (segments["orders"] == 1)).all()
    assert (segments["is_new_user"] == (segments["days_since_first_seen"] < 14)).all()
    assert segments["is_at_risk_high_value"].any(), "generated churners should put someone at risk"


def test_features_match_pandas_at_the_as_of_date(
    built_warehouse: BuiltWarehouse, events: pd.DataFrame
) -> None:
    features = mart(built_warehouse, "customer_features").set_index("user_id")
    as_of = pd.Timestamp(features["as_of_date"].iloc[0]).date()
    assert as_of == events["event_date"].max().date(), "default as-of = last clean event date"
    past = events[events["event_date"].dt.date <= as_of].copy()
    past["days_ago"] = (pd.Timestamp(as_of) - past["event_date"]).dt.days
    assert set(features.index) == set(past["user_id"])

    recent = past[past["days_ago"] < 7]
    expected = pd.DataFrame(index=features.index)
    expected["views_7d"] = recent[recent["event_type"] == "view"].groupby("user_id").size()
    in_28 = past[(past["days_ago"] < 28) & (past["event_type"] == "purchase")]
    expected["revenue_28d"] = in_28.groupby("user_id")["price"].sum()
    expected["distinct_products_14d"] = (
        past[past["days_ago"] < 14].groupby("user_id")["product_id"].nunique()
    )
    starts = past.groupby(["user_id", "session_id"])["event_date"].min().reset_index()
    starts["days_ago"] = (pd.Timestamp(as_of) - starts["event_date"]).dt.days
    expected["sessions_56d"] = starts[starts["days_ago"] < 56].groupby("user_id").size()
    expected = expected.fillna(0)
    for column in expected.columns:
        np.testing.assert_allclose(
            features[column].to_numpy(dtype=float),
            expected.loc[features.index, column].to_numpy(dtype=float),
            rtol=1e-9,
            atol=1e-6,
            err_msg=column,
        )
    bought = past[past["event_type"] == "purchase"].groupby("user_id")["days_ago"].min()
    got = features["days_since_last_purchase"].dropna()
    assert got.sort_index().astype(int).to_dict() == bought.sort_index().to_dict()


def test_feature_snapshots_cover_the_prediction_issue_dates(
    built_warehouse: BuiltWarehouse,
) -> None:
    rows = query(
        built_warehouse.path,
        "select as_of_date, count(*) from intermediate.int_customer_feature_snapshots "
        "group by 1 order by 1",
    )
    dates = [r[0] for r in rows]
    d = dates[-1]
    # D and 5 grid dates (feature_snapshot_count = 6): with H = churn_horizon_days = 14 the grid
    # steps ceil(H / 2) = 7 days from Sunday 2000-01-02, so they are consecutive Sundays, the
    # latest one whose label window (g, g + 14] ends by D.
    grid = dates[:-1]
    assert len(grid) == 5
    assert all(g.weekday() == 6 for g in grid)
    assert [(b - a).days for a, b in zip(grid[:-1], grid[1:], strict=True)] == [7, 7, 7, 7]
    assert 14 <= (d - grid[-1]).days < 21
    counts = [r[1] for r in rows]
    assert counts == sorted(counts), "users seen by an earlier date are a subset of later ones"


def yaml_columns(path: Path, model: str) -> list[dict]:
    doc = yaml.safe_load(path.read_text())
    (entry,) = [m for m in doc["models"] if m["name"] == model]
    return entry["columns"]


@pytest.mark.parametrize(
    ("schema", "model", "yaml_file"),
    [
        ("marts", "customer_features", "models/marts/_value_features.yml"),
        (
            "intermediate",
            "int_customer_feature_snapshots",
            "models/intermediate/_value_intermediate_features.yml",
        ),
        *[("marts", m, "models/marts/_value.yml") for m in VALUE_MARTS],
    ],
)
def test_every_column_is_documented(
    built_warehouse: BuiltWarehouse, schema: str, model: str, yaml_file: str
) -> None:
    table = [
        r[0]
        for r in query(
            built_warehouse.path,
            "select column_name from information_schema.columns "
            f"where table_schema = '{schema}' and table_name = '{model}' order by ordinal_position",
        )
    ]
    documented = yaml_columns(PROJECT_DIR / yaml_file, model)
    assert table == [c["name"] for c in documented], "YAML out of sync: run the generator"
    assert all(str(c.get("description", "")).strip() for c in documented)
    if model == "customer_features":
        assert len(table) - 2 >= 150, "at least 150 features besides user_id and as_of_date"
