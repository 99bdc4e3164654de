"""Independent check of the funnel, time-to-action and engagement marts.

Everything is recomputed with plain pandas from staging.stg_events (the clean, de-duplicated
events of the built warehouse) and compared with what the marts say.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import query_df

STAGES = ("view", "cart", "purchase")
RATIOS = ("cart_view_ratio", "purchase_cart_ratio", "purchasing_session_ratio")


def load_events(warehouse: Path) -> pd.DataFrame:
    sql = """
        select session_id, user_id, product_id, top_category, price, event_type, event_time
        from staging.stg_events
    """
    events = query_df(warehouse, sql)
    events["top_category"] = events["top_category"].fillna("(missing)")
    return events


def mart(warehouse: Path, name: str) -> pd.DataFrame:
    return query_df(warehouse, f"select * from marts.{name}")


def ordered_funnel(events: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per entity (keys): reached flags per stage and the in-order cart and purchase flags."""
    first_view = (
        events[events.event_type == "view"].groupby(keys).event_time.min().rename("first_view")
    )
    carts = events[events.event_type == "cart"].join(first_view, on=keys, how="inner")
    ordered_cart = (
        carts[carts.event_time >= carts.first_view]
        .groupby(keys)
        .event_time.min()
        .rename("ordered_cart")
    )
    purchases = events[events.event_type == "purchase"].join(ordered_cart, on=keys, how="inner")
    ordered_purchase = (
        purchases[purchases.event_time >= purchases.ordered_cart].groupby(keys).size()
    )
    reached = pd.crosstab([events[k] for k in keys], events.event_type) > 0
    result = pd.DataFrame(
        {stage: reached.get(stage, pd.Series(False, index=reached.index)) for stage in STAGES}
    )
    result["ordered_cart"] = result.index.isin(ordered_cart.index)
    result["ordered_purchase"] = result.index.isin(ordered_purchase.index)
    return result


def funnel_counts(flags: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Stage -> (entities_reached, entities_ordered)."""
    return {
        "view": (int(flags.view.sum()), int(flags.view.sum())),
        "cart": (int(flags.cart.sum()), int(flags.ordered_cart.sum())),
        "purchase": (int(flags.purchase.sum()), int(flags.ordered_purchase.sum())),
    }


def mart_counts(rows: pd.DataFrame) -> dict[str, tuple[int, int]]:
    return {r.stage: (int(r.entities_reached), int(r.entities_ordered)) for r in rows.itertuples()}


def session_product_seconds(events: pd.DataFrame) -> pd.DataFrame:
    """Per (session, product): step seconds, only where the later step follows the earlier one."""
    keys = ["session_id", "product_id"]
    out = events.groupby(keys).agg(top_category=("top_category", "first"), price=("price", "max"))
    for stage in STAGES:
        of_stage = events[events.event_type == stage]
        out[stage] = of_stage.groupby(keys).event_time.min()
    view_to_cart = (out["cart"] - out["view"]).dt.total_seconds()
    cart_to_purchase = (out["purchase"] - out["cart"]).dt.total_seconds()
    out["view_to_cart"] = view_to_cart.where(view_to_cart >= 0)
    out["cart_to_purchase"] = cart_to_purchase.where(cart_to_purchase >= 0)
    return out


def user_engagement(events: pd.DataFrame) -> pd.DataFrame:
    """Per user: revenue (cents), buyer flag and the engagement ratios (null on a 0 denominator)."""
    counts = pd.crosstab(events.user_id, events.event_type)
    for stage in STAGES:
        if stage not in counts:
            counts[stage] = 0
    purchases = events[events.event_type == "purchase"]
    revenue = purchases.groupby("user_id").price.sum()
    sessions = events.groupby("user_id").session_id.nunique()
    purchasing_sessions = purchases.groupby("user_id").session_id.nunique()
    users = pd.DataFrame(index=counts.index)
    users["revenue"] = revenue.reindex(users.index, fill_value=0.0).round(2)
    users["is_buyer"] = counts["purchase"] > 0
    users["cart_view_ratio"] = counts["cart"] / counts["view"].replace(0, np.nan)
    users["purchase_cart_ratio"] = counts["purchase"] / counts["cart"].replace(0, np.nan)
    users["purchasing_session_ratio"] = (
        purchasing_sessions.reindex(users.index, fill_value=0) / sessions
    )
    return users.reset_index()


def ntile(n: int, buckets: int = 10) -> np.ndarray:
    """SQL ntile(): the first n % buckets buckets get one extra row."""
    sizes = [n // buckets + (1 if b < n % buckets else 0) for b in range(buckets)]
    return np.repeat(np.arange(1, buckets + 1), sizes)


@pytest.fixture(scope="module")
def warehouse(built_warehouse) -> Path:
    return built_warehouse.path


@pytest.fixture(scope="module")
def events(warehouse: Path) -> pd.DataFrame:
    return load_events(warehouse)


@pytest.mark.parametrize("level, keys", [("user", ["user_id"]), ("session", ["session_id"])])
def test_funnel_summary_reached_and_ordered(events, warehouse, level, keys) -> None:
    expected = funnel_counts(ordered_funnel(events, keys))
    summary = mart(warehouse, "funnel_summary")
    assert mart_counts(summary[summary.level == level]) == expected
    stage_events = summary[summary.level == level].set_index("stage").stage_events.to_dict()
    assert stage_events == events.event_type.value_counts().reindex(STAGES).to_dict()


def test_funnel_by_category_counts_only_that_categorys_events(events, warehouse) -> None:
    flags = ordered_funnel(events, ["user_id", "top_category"])
    by_dimension = mart(warehouse, "funnel_by_dimension")
    rows = by_dimension[(by_dimension.level == "user") & (by_dimension.dimension == "top_category")]
    assert set(rows.dimension_value) == set(events.top_category)
    for category, group in flags.groupby(level="top_category"):
        assert mart_counts(rows[rows.dimension_value == category]) == funnel_counts(group)


def test_funnel_summary_equals_overall_dimension_rows(warehouse) -> None:
    summary = mart(warehouse, "funnel_summary").set_index(["level", "stage"]).sort_index()
    overall = mart(warehouse, "funnel_by_dimension").query("dimension == 'overall'")
    overall = overall.set_index(["level", "stage"]).sort_index()
    pd.testing.assert_frame_equal(summary, overall[summary.columns])


def test_time_to_action_percentiles(events, warehouse) -> None:
    seconds = session_product_seconds(events)
    tta = mart(warehouse, "time_to_action")
    for step in ("view_to_cart", "cart_to_purchase"):
        values = seconds[step].dropna()
        overall = tta[(tta.step == step) & (tta.dimension == "overall")].iloc[0]
        assert overall.session_products == len(values)
        assert overall.p50_seconds == pytest.approx(values.median())
        assert overall.p90_seconds == pytest.approx(values.quantile(0.9))
        assert overall.mean_seconds == pytest.approx(values.mean())
        medians = seconds.dropna(subset=[step]).groupby("top_category")[step].median()
        by_category = tta[(tta.step == step) & (tta.dimension == "top_category")]
        assert by_category.set_index("dimension_value").p50_seconds.to_dict() == pytest.approx(
            medians.to_dict()
        )


def test_engagement_decile_revenue(events, warehouse) -> None:
    users = user_engagement(events)
    deciles = mart(warehouse, "engagement_deciles")
    for ratio in RATIOS:
        population = users.dropna(subset=[ratio]).sort_values([ratio, "user_id"])
        population["decile"] = ntile(len(population))
        expected = population.groupby("decile").revenue.agg(["sum", "median", "size"])
        got = deciles[deciles.ratio == ratio].set_index("decile").sort_index()
        assert got.users.tolist() == expected["size"].tolist()
        assert got.revenue.tolist() == pytest.approx(expected["sum"].tolist())
        assert got.revenue_per_user_median.tolist() == pytest.approx(expected["median"].tolist())
        assert got.revenue_share.sum() == pytest.approx(1.0)


def test_spearman_correlations(events, warehouse) -> None:
    users = user_engagement(events)
    correlations = mart(warehouse, "engagement_revenue_correlation")
    for ratio in RATIOS:
        population = users.dropna(subset=[ratio])
        for name, subset in (
            ("ratio_population", population),
            ("buyers_only", population[population.is_buyer]),
        ):
            got = correlations[(correlations.ratio == ratio) & (correlations.population == name)]
            assert got.users.iloc[0] == len(subset)
            expected = subset[ratio].rank().corr(subset.revenue.rank())
            assert got.spearman_correlation.iloc[0] == pytest.approx(expected, abs=1e-9)


def test_session_abandonment(events, warehouse) -> None:
    types = pd.crosstab(events.session_id, events.event_type)
    carting = types[types["cart"] > 0]
    abandonment = mart(warehouse, "cart_abandonment").query("dimension == 'overall'").iloc[0]
    assert abandonment.carting_sessions == len(carting)
    assert abandonment.abandoned_sessions == int((carting["purchase"] == 0).sum())
    items = (
        abandonment.items_purchased_in_session
        + abandonment.items_purchased_later
        + abandonment.items_abandoned
    )
    assert items == abandonment.carted_items
