"""The report's product-analytics sections (issue 19): funnel trends, funnel paths, conversion
drivers, cohort retention, user lifecycle and RFM.

On the shared small warehouse, every figure of these sections is recomputed here with its own SQL,
where possible from a lower layer than the mart the report reads (retention from
intermediate.int_user_days, RFM moves by joining the two snapshots of rfm_segments, path totals
from staging.stg_events), so a wrong headline or a wrong mart fails. Each section has its charts.
With its mart dropped or emptied, or with figures that are undefined (nobody went dormant, no
flagged driver, no fully observed period, no revenue), a section says "not enough data" and the
report still renders.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import BuiltWarehouse, query
from tests.test_report import PNG_MAGIC, Built, Page, parse
from warehouse.report import build_report

NOT_ENOUGH = "not enough data"

# Each section, its marts and the charts it must show.
PRODUCT_SECTIONS = {
    "trends": (["marts.funnel_trends"], ["funnel_trends.png"]),
    "paths": (["marts.funnel_paths"], ["funnel_paths.png"]),
    "drivers": (["marts.conversion_drivers"], ["conversion_drivers.png"]),
    "retention": (["marts.cohort_retention"], ["cohort_retention.png"]),
    "lifecycle": (["marts.user_lifecycle"], ["user_lifecycle.png"]),
    "rfm": (
        ["marts.rfm_segments", "marts.rfm_segment_transitions"],
        ["rfm_segments.png", "rfm_transitions.png"],
    ),
}


@pytest.fixture(scope="module")
def report(built_warehouse: BuiltWarehouse, tmp_path_factory) -> Built:
    out = tmp_path_factory.mktemp("report_product")
    result = build_report(built_warehouse.path, out)
    html = result.html.read_text(encoding="utf-8")
    return Built(out, html, parse(html))


def section_html(html: str, section: str) -> str:
    match = re.search(
        rf'<section id="{section}" data-section="{section}">(.*?)</section>', html, re.S
    )
    assert match, section
    return match.group(1)


def section_images(html: str, section: str) -> list[str]:
    return re.findall(r'data-file="([^"]+)"', section_html(html, section))


# --------------------------------------------------------------------------------------------
# Every figure, recomputed
# --------------------------------------------------------------------------------------------

# Fully observable entry weeks after the first week of data (it holds users active before it).
_TREND_WEEKS = (
    "select * from marts.funnel_trends where is_week_fully_observable "
    "and entry_week > (select min(entry_week) from marts.funnel_trends)"
)
_FIRST_WEEK = f"(select min(entry_week) from ({_TREND_WEEKS}))"
_LAST_WEEK = f"(select max(entry_week) from ({_TREND_WEEKS}))"


def _trend(expr: str, week: str) -> str:
    return f"select {expr} from marts.funnel_trends where entry_week = {week}"


def _path_share(kind: str, stage: str, path: str) -> str:
    return (
        f"select coalesce(sum(occurrences) filter (where path = '{path}'), 0) / sum(occurrences) "
        f"from marts.funnel_paths where path_kind = '{kind}' and stage = '{stage}'"
    )


def _top_path(stage: str, column: str) -> str:
    return (
        f"select {column} from (select path, occurrences, occurrences / sum(occurrences) over () "
        f"as share from marts.funnel_paths where path_kind = 'next_event' and stage = '{stage}') "
        "order by occurrences desc, path limit 1"
    )


def _driver(step: str, flag: str, column: str) -> str:
    order = "odds_ratio desc" if flag == "top_positive" else "odds_ratio asc"
    return (
        f"select {column} from marts.conversion_drivers where funnel_step = '{step}' "
        f"and driver_flag = '{flag}' order by {order}, p_value limit 1"
    )


def _retention_from_user_days(activity: str, column: str) -> str:
    """Next-week retention of weekly cohorts straight from int_user_days: users whose first
    active week is after the first week of data and whose next week ended by the last day."""
    return f"""
        with days as (
            select user_id, date_trunc('week', event_date) as week
            from intermediate.int_user_days where {activity}
        ),
        cohorts as (select user_id, min(week) as cohort from days group by user_id)
        select {column}
        from (
            select exists (
                select 1 from days where days.user_id = c.user_id
                    and days.week = c.cohort + interval 7 day
            ) as came_back
            from cohorts as c
            where c.cohort > (
                select min(date_trunc('week', event_date)) from intermediate.int_user_days
            )
                and c.cohort + interval 13 day
                <= (select max(event_date) from intermediate.int_user_days)
        )
    """


def _retention_mart(kind: str, period: int, expr: str) -> str:
    return (
        f"select {expr} from marts.cohort_retention where cohort_kind = '{kind}' "
        f"and period_number = {period} and is_period_complete and cohort_period > "
        "(select min(cohort_period) from marts.cohort_retention)"
    )


_LATEST_COMPLETE_WEEK = (
    "(select max(week_start) from marts.user_lifecycle where is_week_complete "
    "and not is_first_data_week)"
)


def _lifecycle(activity: str, expr: str) -> str:
    return (
        f"select {expr} from (pivot (select lifecycle_state, users from marts.user_lifecycle "
        f"where activity = '{activity}' and week_start = {_LATEST_COMPLETE_WEEK}) "
        "on lifecycle_state using sum(users))"
    )


# The two snapshots of the latest transition, read from rfm_segments and joined by user.
_FROM = "(select max(from_as_of_date) from marts.rfm_segment_transitions)"
_TO = "(select max(as_of_date) from marts.rfm_segments)"
_LAPSING = "('at_risk', 'cannot_lose_them', 'hibernating', 'lost')"
_MOVES = f"""
    from (select user_id, rfm_segment from marts.rfm_segments where as_of_date = {_FROM}) as a
    inner join (select user_id, rfm_segment from marts.rfm_segments where as_of_date = {_TO}) as b
        using (user_id)
"""
_LATEST = "from marts.rfm_segments where is_latest_snapshot"

EXPECTED = {
    # funnel_trends
    "trends.first_week": f"select {_FIRST_WEEK}",
    "trends.last_week": f"select {_LAST_WEEK}",
    "trends.complete_weeks": f"select count(*) from ({_TREND_WEEKS})",
    "trends.first.users_observable": _trend("users_observable", _FIRST_WEEK),
    "trends.first.view_to_cart_rate": _trend("reached_cart / users_observable", _FIRST_WEEK),
    "trends.last.view_to_purchase_rate": _trend("reached_purchase / users_observable", _LAST_WEEK),
    "trends.view_to_purchase_change_points": (
        f"select 100 * (({_trend('reached_purchase / users_observable', _LAST_WEEK)}) "
        f"- ({_trend('reached_purchase / users_observable', _FIRST_WEEK)}))"
    ),
    "trends.users_censored": (
        "select sum(users_entered - users_observable) from marts.funnel_trends"
    ),
    "trends.open_weeks": (
        "select count(*) from marts.funnel_trends where not is_week_fully_observable"
    ),
    # funnel_paths: every event of a stage is followed by something (or the session's end)
    "paths.cart.events": "select count(*) from staging.stg_events where event_type = 'cart'",
    "paths.view.events": "select count(*) from staging.stg_events where event_type = 'view'",
    "paths.cart.top_next_step": _top_path("cart", "path"),
    "paths.cart.top_next_step_share": _top_path("cart", "share"),
    "paths.view.top_next_step": _top_path("view", "path"),
    "paths.cart.exit_share": _path_share("next_event", "cart", "session_exit"),
    "paths.view.exit_share": _path_share("next_event", "view", "session_exit"),
    "paths.cart.dropped_items": (
        "select sum(occurrences) from marts.funnel_paths "
        "where path_kind = 'after_drop_off' and stage = 'cart'"
    ),
    "paths.cart.later_purchase_share": _path_share(
        "after_drop_off", "cart", "later_purchase_same_product"
    ),
    "paths.cart.never_returned_share": _path_share("after_drop_off", "cart", "never_returned"),
    "paths.view.returned_other_share": _path_share(
        "after_drop_off", "view", "returned_other_activity"
    ),
    # conversion_drivers
    "drivers.view_to_cart.values_tested": (
        "select count(*) from marts.conversion_drivers where funnel_step = 'view_to_cart'"
    ),
    "drivers.cart_to_purchase.positive_drivers": (
        "select count(*) from marts.conversion_drivers "
        "where funnel_step = 'cart_to_purchase' and driver_flag = 'top_positive'"
    ),
    "drivers.view_to_cart.negative_drivers": (
        "select count(*) from marts.conversion_drivers "
        "where funnel_step = 'view_to_cart' and driver_flag = 'top_negative'"
    ),
    **{
        f"drivers.{step}.strongest_{side}.{name}": _driver(step, flag, expr)
        for step in ("view_to_cart", "cart_to_purchase")
        for flag, side in (("top_positive", "positive"), ("top_negative", "negative"))
        for name, expr in (
            ("property", "property"),
            ("property_value", "property_value"),
            ("odds_ratio", "odds_ratio"),
            ("odds_ratio_ci_low", "odds_ratio_ci_low"),
            ("odds_ratio_ci_high", "odds_ratio_ci_high"),
            ("p_value", "p_value"),
            ("entities", "entities"),
            ("conversion_rate", "converted / entities"),
            ("rest_conversion_rate", "rest_converted / rest_entities"),
        )
    },
    # cohort_retention: next-week retention recomputed from the user-days
    "retention.first_visit.period_1.retention_rate": _retention_from_user_days(
        "events > 0", "avg(case when came_back then 1.0 else 0.0 end)"
    ),
    "retention.first_visit.period_1.users": _retention_from_user_days("events > 0", "count(*)"),
    "retention.first_purchase.period_1.retention_rate": _retention_from_user_days(
        "purchases > 0", "avg(case when came_back then 1.0 else 0.0 end)"
    ),
    "retention.first_purchase.period_1.users": _retention_from_user_days(
        "purchases > 0", "count(*)"
    ),
    "retention.first_visit.period_1.cohorts": _retention_mart("first_visit", 1, "count(*)"),
    "retention.first_visit.period_4.retention_rate": _retention_mart(
        "first_visit", 4, "sum(retained_users) / sum(users_in_cohort)"
    ),
    "retention.first_purchase.period_4.rolling_retention_rate": _retention_mart(
        "first_purchase", 4, "sum(rolling_retained_users) / sum(users_in_cohort)"
    ),
    "retention.first_visit.latest_cohort": (
        "select max(cohort_period) from marts.cohort_retention where cohort_kind = 'first_visit' "
        "and period_number = 1 and is_period_complete"
    ),
    # user_lifecycle: the latest complete week
    "lifecycle.active.week_start": f"select {_LATEST_COMPLETE_WEEK}",
    "lifecycle.active.active_users": (
        "select count(distinct user_id) from intermediate.int_user_days "
        f"where date_trunc('week', event_date) = {_LATEST_COMPLETE_WEEK}"
    ),
    "lifecycle.active.new": _lifecycle("active", "new"),
    "lifecycle.active.dormant": _lifecycle("active", "dormant"),
    "lifecycle.active.quick_ratio": _lifecycle("active", "(new + resurrecting) / dormant"),
    "lifecycle.purchasing.returning": _lifecycle("purchasing", '"returning"'),
    "lifecycle.purchasing.net_change": _lifecycle("purchasing", "new + resurrecting - dormant"),
    "lifecycle.purchasing.quick_ratio": _lifecycle("purchasing", "(new + resurrecting) / dormant"),
    # rfm_segments and rfm_segment_transitions
    "rfm.as_of_date": "select max(as_of_date) from marts.rfm_segments",
    "rfm.buyers": f"select count(*) {_LATEST}",
    "rfm.largest_segment": (
        f"select rfm_segment {_LATEST} group by rfm_segment "
        "order by count(*) desc, min(segment_order) limit 1"
    ),
    "rfm.champions.users": f"select count(*) {_LATEST} and rfm_segment = 'champions'",
    "rfm.champions.revenue_share": (
        f"select sum(monetary) filter (where rfm_segment = 'champions') / sum(monetary) {_LATEST}"
    ),
    "rfm.lapsing.users": f"select count(*) {_LATEST} and rfm_segment in {_LAPSING}",
    "rfm.transition.from_as_of_date": f"select {_FROM}",
    "rfm.transition.champions": (
        f"select count(*) from marts.rfm_segments where as_of_date = {_FROM} "
        "and rfm_segment = 'champions'"
    ),
    "rfm.transition.champions_stayed": (
        f"select count(*) {_MOVES} where a.rfm_segment = 'champions' "
        "and b.rfm_segment = 'champions'"
    ),
    "rfm.transition.champions_to_at_risk": (
        f"select count(*) {_MOVES} where a.rfm_segment = 'champions' and b.rfm_segment = 'at_risk'"
    ),
    "rfm.transition.earlier_buyers": f"select count(*) {_MOVES}",
    "rfm.transition.new_buyers": (
        f"select count(*) from marts.rfm_segments where as_of_date = {_TO} and user_id not in "
        f"(select user_id from marts.rfm_segments where as_of_date = {_FROM})"
    ),
    "rfm.transition.slid_into_lapsing": (
        f"select count(*) {_MOVES} where a.rfm_segment not in {_LAPSING} "
        f"and b.rfm_segment in {_LAPSING}"
    ),
    "rfm.transition.largest_move.users": (
        f"select count(*) {_MOVES} where a.rfm_segment <> b.rfm_segment "
        "group by a.rfm_segment, b.rfm_segment order by count(*) desc limit 1"
    ),
}


def _same(raw: str, expected) -> bool:
    if isinstance(expected, str):
        return raw == expected
    if isinstance(expected, dt.date):
        return raw == expected.isoformat()[:10]
    return float(raw) == pytest.approx(float(expected), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_product_figures_equal_their_recomputation(
    report: Built, built_warehouse: BuiltWarehouse, key: str
) -> None:
    assert key in report.page.metrics, f"{key} missing from the page"
    raw, _text = report.page.metrics[key]
    rows = query(built_warehouse.path, EXPECTED[key])
    assert len(rows) == 1 and len(rows[0]) == 1, (key, rows)
    expected = rows[0][0]
    assert expected is not None, key
    assert _same(raw, expected), (key, raw, expected)


def test_sentences_agree_with_each_other(report: Built) -> None:
    m = {k: v[0] for k, v in report.page.metrics.items()}
    for activity in ("active", "purchasing"):
        states = [int(m[f"lifecycle.{activity}.{s}"]) for s in ("new", "returning", "resurrecting")]
        assert sum(states) == int(m[f"lifecycle.{activity}.active_users"])
        if f"lifecycle.{activity}.quick_ratio" in m:
            growing = float(m[f"lifecycle.{activity}.quick_ratio"]) > 1
            assert (m[f"lifecycle.{activity}.quick_ratio_reading"] == "growing") == growing
    champions = int(m["rfm.transition.champions"])
    assert float(m["rfm.transition.champions_stayed_share"]) == pytest.approx(
        int(m["rfm.transition.champions_stayed"]) / champions
    )
    for stage in ("cart", "view"):
        shares = [
            float(m[f"paths.{stage}.{k}"])
            for k in ("later_purchase_share", "later_cart_share", "returned_other_share")
        ]
        assert sum(shares) + float(m[f"paths.{stage}.never_returned_share"]) == pytest.approx(1.0)
    for step in ("view_to_cart", "cart_to_purchase"):
        key = f"drivers.{step}.strongest_positive"
        low, odds, high = (
            float(m[f"{key}.{c}"])
            for c in ("odds_ratio_ci_low", "odds_ratio", "odds_ratio_ci_high")
        )
        assert low <= odds <= high and odds > 1
        assert float(m[f"{key}.p_value"]) < 0.05


def test_each_product_section_has_its_charts(report: Built) -> None:
    for section, (_marts, charts) in PRODUCT_SECTIONS.items():
        assert section_images(report.html, section) == charts, section
        for name in charts:
            assert (report.out / name).read_bytes().startswith(PNG_MAGIC), name
        text = report.page.section_text[section]
        assert NOT_ENOUGH not in text, (section, text[:500])
        assert "SQL behind this section" in text


def test_product_sections_follow_the_segments_section(report: Built) -> None:
    names = list(report.page.section_text)
    start = names.index("segments") + 1
    assert names[start : start + len(PRODUCT_SECTIONS)] == list(PRODUCT_SECTIONS)
    assert names[-2:] == ["models", "quality"]


# --------------------------------------------------------------------------------------------
# Not enough data
# --------------------------------------------------------------------------------------------


def _report_on_copy(built: BuiltWarehouse, tmp_path: Path, statements: list[str]) -> tuple:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built.path, copy)
    con = duckdb.connect(str(copy))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()
    out = tmp_path / "reports"
    result = build_report(copy, out)  # no traceback: every section renders
    html = result.html.read_text(encoding="utf-8")
    return html, parse(html), out


def _says(page: Page, section: str, reason: str) -> None:
    text = page.section_text[section]
    assert f"{NOT_ENOUGH}: {reason}" in text, (section, text[:800])


def test_missing_or_empty_product_marts_say_not_enough_data(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    html, page, out = _report_on_copy(
        built_warehouse,
        tmp_path,
        [
            "drop table marts.funnel_trends",
            "delete from marts.funnel_paths",
            "drop table marts.conversion_drivers",
            "delete from marts.cohort_retention",
            "drop table marts.user_lifecycle",
            "delete from marts.rfm_segments",
            "drop table marts.rfm_segment_transitions",
        ],
    )
    _says(page, "trends", "marts.funnel_trends is missing from the warehouse")
    _says(page, "paths", "marts.funnel_paths has no rows")
    _says(page, "drivers", "marts.conversion_drivers is missing from the warehouse")
    _says(page, "retention", "marts.cohort_retention has no rows")
    _says(page, "lifecycle", "marts.user_lifecycle is missing from the warehouse")
    _says(page, "rfm", "marts.rfm_segments has no rows")
    _says(page, "rfm", "marts.rfm_segment_transitions is missing from the warehouse")
    for section, (_marts, charts) in PRODUCT_SECTIONS.items():
        assert section_images(html, section) == [], section
        assert not any(k.startswith(f"{section}.") for k in page.metrics), section
        for name in charts:
            assert not (out / name).exists(), name
    assert NOT_ENOUGH not in page.section_text["funnel"]  # the other sections are untouched


def test_undefined_product_figures_say_not_enough_data(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    """Marts with rows, but the headline figures undefined on them."""
    html, page, _out = _report_on_copy(
        built_warehouse,
        tmp_path,
        [
            # every entry week still open: no trend to compare
            "update marts.funnel_trends set is_week_fully_observable = false",
            # no item dropped at view or cart
            "delete from marts.funnel_paths where path_kind = 'after_drop_off'",
            # nothing reliable and significant
            "update marts.conversion_drivers set driver_flag = null",
            # only the cohorts' own periods (100% by definition)
            "delete from marts.cohort_retention where period_number > 0",
            # nobody ever went dormant: the quick ratio divides by 0
            "update marts.user_lifecycle set users = 0 where lifecycle_state = 'dormant'",
            # every purchase priced 0, and no champion at the earlier snapshot
            "update marts.rfm_segments set monetary = 0",
            "delete from marts.rfm_segment_transitions where from_segment = 'champions'",
        ],
    )
    _says(page, "trends", "fewer than two fully observable entry weeks")
    _says(page, "paths", "no item was carted but not bought in its session")
    _says(page, "paths", "no item was viewed, not carted in its session")
    _says(page, "drivers", "view → cart: no reliable, significant driver")
    _says(page, "drivers", "cart → purchase: no reliable, significant driver")
    _says(page, "retention", "first-visit cohorts: no cohort after the first week of data")
    _says(page, "retention", "first-purchase cohorts: no cohort after the first week of data")
    _says(page, "lifecycle", "any activity: nobody went dormant in the latest complete week")
    _says(page, "lifecycle", "purchasing: nobody went dormant in the latest complete week")
    _says(page, "rfm", "no revenue (every purchase priced 0)")
    _says(page, "rfm", "no champions at")
    undefined = [
        "trends.first.view_to_cart_rate",
        "paths.cart.later_purchase_share",
        "drivers.view_to_cart.strongest_positive.odds_ratio",
        "retention.first_visit.period_1.retention_rate",
        "lifecycle.active.quick_ratio",
        "rfm.champions.revenue_share",
        "rfm.transition.champions_to_at_risk",
    ]
    assert not [k for k in undefined if k in page.metrics]
    # What is still defined is still shown: the counts, the trend and lifecycle charts.
    assert "paths.cart.top_next_step" in page.metrics
    assert "lifecycle.active.new" in page.metrics and "rfm.buyers" in page.metrics
    assert section_images(html, "trends") == ["funnel_trends.png"]
    assert section_images(html, "lifecycle") == ["user_lifecycle.png"]
    assert section_images(html, "drivers") == [] and section_images(html, "retention") == []
    for raw, text in page.metrics.values():
        assert raw not in ("nan", "inf", "-inf") and (raw == "null") == (text == "n/a")


def test_a_mart_without_a_needed_column_says_so(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    _html, page, _out = _report_on_copy(
        built_warehouse,
        tmp_path,
        ["alter table marts.conversion_drivers drop column driver_flag"],
    )
    _says(page, "drivers", "marts.conversion_drivers lacks column(s) driver_flag")
