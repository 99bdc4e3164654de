"""Product-analytics sections of the findings report (issue 19): one builder per mart.

Funnel trends, funnel paths, conversion drivers, cohort retention, user lifecycle and RFM
segments. Same rules as `report_sections`: each builder declares the relations and columns it
needs, every number it prints is a metric read from a query, and a mart that is missing or empty,
or a figure that is undefined on the data, gives a "not enough data" note with the reason.
"""

from __future__ import annotations

import pandas as pd

from warehouse import report_product_charts as charts
from warehouse.report_model import (
    Chart,
    Section,
    Table,
    Warehouse,
    clean,
    fmt_int,
    fmt_num,
    fmt_odds,
    fmt_pct,
    require,
)

# RFM segments of buyers who have not bought for a while (the seed's low r_score cells).
LAPSING_SEGMENTS = ("at_risk", "cannot_lose_them", "hibernating", "lost")

ENTITY_NOUNS = {
    "session": "sessions",
    "session_product": "carted session-products",
    "user_day_product": "viewed user-day-products",
}


def _lapsing_sql() -> str:
    return ", ".join(f"'{s}'" for s in LAPSING_SEGMENTS)


# --------------------------------------------------------------------------------------------
# Funnel trends
# --------------------------------------------------------------------------------------------

TRENDS_SQL = """
select
    entry_week,
    users_entered,
    users_observable,
    users_censored,
    reached_cart,
    reached_purchase,
    view_to_cart_rate,
    cart_to_purchase_rate,
    view_to_purchase_rate,
    is_week_fully_observable,
    entry_week = min(entry_week) over () as is_first_week
from marts.funnel_trends
order by entry_week
"""

# The first entry week holds every user whose first view was before the data started, so the
# comparison runs from the second week on; weeks whose window is still open are left out.
TRENDS_ENDS_SQL = """
with complete as (
    select *
    from marts.funnel_trends
    where is_week_fully_observable
        and users_observable > 0
        and entry_week > (select min(entry_week) from marts.funnel_trends)
),

ends as (
    select min(entry_week) as first_week, max(entry_week) as last_week, count(*) as weeks
    from complete
)

select
    ends.weeks as complete_weeks,
    ends.first_week,
    f.users_observable as first_users,
    f.view_to_cart_rate as first_view_to_cart,
    f.cart_to_purchase_rate as first_cart_to_purchase,
    f.view_to_purchase_rate as first_view_to_purchase,
    ends.last_week,
    l.users_observable as last_users,
    l.view_to_cart_rate as last_view_to_cart,
    l.cart_to_purchase_rate as last_cart_to_purchase,
    l.view_to_purchase_rate as last_view_to_purchase,
    100 * (l.view_to_cart_rate - f.view_to_cart_rate) as view_to_cart_change_points,
    100 * (l.view_to_purchase_rate - f.view_to_purchase_rate) as view_to_purchase_change_points,
    (select count(*) from marts.funnel_trends where not is_week_fully_observable)
        as open_weeks,
    (select sum(users_censored) from marts.funnel_trends) as users_censored
from ends
left join complete as f on ends.first_week = f.entry_week
left join complete as l on ends.last_week = l.entry_week
"""


def build_funnel_trends(wh: Warehouse) -> Section:
    s = Section(
        "trends",
        "Is the funnel getting better week by week?",
        "Ordered view → cart → purchase conversion of the users who first viewed a product in "
        "each week, within the conversion window (var funnel_conversion_window_days) of that "
        "first view.",
        ["marts.funnel_trends"],
    )
    needed = [
        "entry_week",
        "users_entered",
        "users_observable",
        "users_censored",
        "reached_cart",
        "reached_purchase",
        "view_to_cart_rate",
        "cart_to_purchase_rate",
        "view_to_purchase_rate",
        "is_week_fully_observable",
    ]
    if not require(wh, s, {"marts.funnel_trends": needed}):
        return s
    df = wh.df(s, "Ordered funnel by entry week", TRENDS_SQL)
    e = wh.rows(s, "First and last fully observable entry week", TRENDS_ENDS_SQL)[0]
    if (e["complete_weeks"] or 0) < 2:
        s.missing(
            "fewer than two fully observable entry weeks after the first week of data, so there "
            "is no trend to compare"
        )
    else:
        s.say(
            "Comparing the first and the last fully observable entry week (the first week of "
            "data is left out: it holds every user active before the data starts): in the week "
            "of {first}, {first_v2c} of {first_n} new viewers carted after their first view and "
            "{first_v2p} bought; in the week of {last}, {last_v2c} of {last_n} carted and "
            "{last_v2p} bought. View → purchase changed by {v2p_change} percentage points "
            "(view → cart by {v2c_change}) over {weeks} fully observable weeks.",
            first=s.metric("first_week", clean(e["first_week"]), "date"),
            first_v2c=s.metric("first.view_to_cart_rate", clean(e["first_view_to_cart"]), "pct"),
            first_n=s.metric("first.users_observable", clean(e["first_users"]), "int"),
            first_v2p=s.metric(
                "first.view_to_purchase_rate", clean(e["first_view_to_purchase"]), "pct"
            ),
            last=s.metric("last_week", clean(e["last_week"]), "date"),
            last_v2c=s.metric("last.view_to_cart_rate", clean(e["last_view_to_cart"]), "pct"),
            last_n=s.metric("last.users_observable", clean(e["last_users"]), "int"),
            last_v2p=s.metric(
                "last.view_to_purchase_rate", clean(e["last_view_to_purchase"]), "pct"
            ),
            v2p_change=s.metric(
                "view_to_purchase_change_points",
                clean(e["view_to_purchase_change_points"]),
                "points",
            ),
            v2c_change=s.metric(
                "view_to_cart_change_points", clean(e["view_to_cart_change_points"]), "points"
            ),
            weeks=s.metric("complete_weeks", clean(e["complete_weeks"]), "int"),
        )
    if e["open_weeks"]:
        s.say(
            "The last {open_weeks} entry week(s) are not fully observable: {censored} users "
            "whose window is still open at the end of the data are left out of their week's "
            "rates (censored, not counted as lost).",
            open_weeks=s.metric("open_weeks", clean(e["open_weeks"]), "int"),
            censored=s.metric("users_censored", clean(e["users_censored"]), "int"),
        )
    s.charts.append(
        Chart(
            "funnel_trends",
            "Funnel trend by entry week",
            charts.funnel_trends(df),
            "Weekly view-to-cart, view-to-purchase and cart-to-purchase conversion of new "
            "viewers, and the users entering each week (observable and censored)",
        )
    )
    s.tables.append(
        Table(
            "marts.funnel_trends",
            [
                "entry week",
                "users",
                "observable",
                "censored",
                "view → cart",
                "cart → purchase",
                "view → purchase",
                "fully observable",
            ],
            [
                [
                    str(r.entry_week)[:10],
                    fmt_int(r.users_entered),
                    fmt_int(r.users_observable),
                    fmt_int(r.users_censored),
                    fmt_pct(r.view_to_cart_rate),
                    fmt_pct(r.cart_to_purchase_rate),
                    fmt_pct(r.view_to_purchase_rate),
                    "yes" if r.is_week_fully_observable else "no",
                ]
                for r in df.itertuples()
            ],
            collapsed=True,
        )
    )
    return s


# --------------------------------------------------------------------------------------------
# Funnel paths
# --------------------------------------------------------------------------------------------

PATHS_NEXT_SQL = """
select
    stage,
    min(stage_order) as stage_order,
    coalesce(next_event_type, path) as next_step,
    sum(occurrences) as occurrences,
    max(stage_total) as stage_total,
    sum(share) as share
from marts.funnel_paths
where path_kind = 'next_event'
group by stage, coalesce(next_event_type, path)
order by stage_order, share desc
"""

PATHS_TOP_SQL = """
with stages as (
    select
        stage,
        min(stage_order) as stage_order,
        max(stage_total) as stage_total,
        coalesce(sum(share) filter (where path = 'session_exit'), 0) as exit_share
    from marts.funnel_paths
    where path_kind = 'next_event'
    group by stage
)

select
    stages.stage,
    stages.stage_total,
    stages.exit_share,
    top.path as top_path,
    top.occurrences as top_occurrences,
    top.share as top_share
from stages
inner join marts.funnel_paths as top
    on top.path_kind = 'next_event' and stages.stage = top.stage and top.path_rank = 1
order by stages.stage_order
"""

PATHS_DROP_SQL = """
select
    stage,
    min(stage_order) as stage_order,
    max(stage_total) as items,
    coalesce(sum(share) filter (where path = 'later_purchase_same_product'), 0)
        as later_purchase_share,
    coalesce(sum(share) filter (where path = 'later_cart_same_product'), 0) as later_cart_share,
    coalesce(sum(share) filter (where path = 'returned_other_activity'), 0)
        as returned_other_share,
    coalesce(sum(share) filter (where path = 'never_returned'), 0) as never_returned_share
from marts.funnel_paths
where path_kind = 'after_drop_off'
group by stage
order by stage_order
"""

PATHS_DROP_DETAIL_SQL = """
select stage, stage_order, path, occurrences, stage_total, share
from marts.funnel_paths
where path_kind = 'after_drop_off'
order by stage_order, path_rank
"""

RELATION_WORDS = {
    "same_product": "the same product",
    "same_category": "another product of the same category",
    "other_category": "a product of another category",
}
TYPE_WORDS = {
    "view": "a view of",
    "cart": "a cart of",
    "remove_from_cart": "a remove from cart of",
    "purchase": "a purchase of",
}


def describe_path(path: str) -> str:
    """'view:same_category' -> 'a view of another product of the same category'."""
    if path == "session_exit":
        return "the session ends"
    event, _, relation = path.partition(":")
    return f"{TYPE_WORDS.get(event, event)} {RELATION_WORDS.get(relation, relation)}"


def build_funnel_paths(wh: Warehouse) -> Section:
    s = Section(
        "paths",
        "What do shoppers do next?",
        "The session's next event after each funnel stage (or the end of the session), and what "
        "users did in later sessions after viewing an item without carting it or carting it "
        "without buying it.",
        ["marts.funnel_paths"],
    )
    needed = ["path_kind", "stage", "stage_order", "path", "next_event_type", "share", "path_rank"]
    if not require(wh, s, {"marts.funnel_paths": needed}):
        return s
    top = {r["stage"]: r for r in wh.rows(s, "Commonest next step and exit share", PATHS_TOP_SQL)}
    for stage, noun in (("cart", "cart"), ("view", "view")):
        if stage not in top:
            s.missing(f"no {noun} event to follow (marts.funnel_paths has no {noun} stage)")
            continue
        r = top[stage]
        s.say(
            f"After a {noun} event ({{n}} of them), the commonest next step in the session is "
            f"{{path}} ({describe_path(r['top_path'])}): {{share}} of {noun} events. The session "
            f"ends right after {{exit}} of {noun} events.",
            n=s.metric(f"{stage}.events", clean(r["stage_total"]), "int"),
            path=s.metric(f"{stage}.top_next_step", r["top_path"], "text"),
            share=s.metric(f"{stage}.top_next_step_share", clean(r["top_share"]), "pct"),
            exit=s.metric(f"{stage}.exit_share", clean(r["exit_share"]), "pct"),
        )
    drops = {r["stage"]: r for r in wh.rows(s, "Outcomes of dropped items", PATHS_DROP_SQL)}
    for stage, words in (("cart", "carted but not bought"), ("view", "viewed, not carted")):
        if stage not in drops:
            s.missing(f"no item was {words} in its session, so there are no drop-offs to follow")
            continue
        r = drops[stage]
        s.say(
            f"Of {{n}} items {words} in their session, the user bought the product in a later "
            "session for {purchase}, carted it again for {cart}, came back for other things for "
            "{other} and never came back for {never} (an upper bound near the end of the data).",
            n=s.metric(f"{stage}.dropped_items", clean(r["items"]), "int"),
            purchase=s.metric(
                f"{stage}.later_purchase_share", clean(r["later_purchase_share"]), "pct"
            ),
            cart=s.metric(f"{stage}.later_cart_share", clean(r["later_cart_share"]), "pct"),
            other=s.metric(
                f"{stage}.returned_other_share", clean(r["returned_other_share"]), "pct"
            ),
            never=s.metric(
                f"{stage}.never_returned_share", clean(r["never_returned_share"]), "pct"
            ),
        )
    next_steps = wh.df(s, "Next event type after each stage", PATHS_NEXT_SQL)
    drop_detail = wh.df(s, "After drop-off outcomes", PATHS_DROP_DETAIL_SQL)
    if not next_steps.empty or not drop_detail.empty:
        s.charts.append(
            Chart(
                "funnel_paths",
                "Next steps after each stage and after drop-offs",
                charts.funnel_paths(next_steps, drop_detail),
                "Share of each stage's events followed by a view, cart, remove, purchase or the "
                "session's end; outcomes of viewed and carted items in later sessions",
            )
        )
    return s


# --------------------------------------------------------------------------------------------
# Conversion drivers
# --------------------------------------------------------------------------------------------

DRIVERS_SQL = """
select
    funnel_step,
    driver_flag,
    property,
    property_value,
    entity_grain,
    entities,
    converted,
    conversion_rate,
    rest_conversion_rate,
    odds_ratio,
    odds_ratio_ci_low,
    odds_ratio_ci_high,
    p_value,
    haldane_corrected
from marts.conversion_drivers
where driver_flag is not null
order by funnel_step desc, odds_ratio desc
"""

DRIVER_COUNTS_SQL = """
select
    funnel_step,
    count(*) as values_tested,
    count(*) filter (where is_reliable and odds_ratio is not null) as reliable_values,
    count(*) filter (where driver_flag = 'top_positive') as positive_drivers,
    count(*) filter (where driver_flag = 'top_negative') as negative_drivers
from marts.conversion_drivers
group by funnel_step
order by funnel_step desc
"""

# The strongest flagged driver on each side of each step: the largest |ln odds ratio|.
DRIVER_STRONGEST_SQL = """
select
    funnel_step,
    driver_flag,
    property,
    property_value,
    entity_grain,
    entities,
    conversion_rate,
    rest_conversion_rate,
    odds_ratio,
    odds_ratio_ci_low,
    odds_ratio_ci_high,
    p_value,
    haldane_corrected
from marts.conversion_drivers
where driver_flag is not null
qualify row_number() over (
    partition by funnel_step, driver_flag
    order by abs(ln(odds_ratio)) desc, p_value, property, property_value
) = 1
order by funnel_step desc, driver_flag desc
"""

STEP_WORDS = {"view_to_cart": "view → cart", "cart_to_purchase": "cart → purchase"}


def build_conversion_drivers(wh: Warehouse) -> Section:
    s = Section(
        "drivers",
        "What goes with converting?",
        "Per funnel step, the property values (category, brand, price band, hour, weekday, "
        "session depth, new vs returning) whose conversion differs most from the rest of their "
        "property: odds ratio with its 95% interval, reliable and significant ones only "
        "(driver_flag). Association, not causation; many values are tested at once.",
        ["marts.conversion_drivers"],
    )
    needed = ["funnel_step", "property", "property_value", "odds_ratio", "p_value", "driver_flag"]
    if not require(wh, s, {"marts.conversion_drivers": needed}):
        return s
    counts = {r["funnel_step"]: r for r in wh.rows(s, "Values tested per step", DRIVER_COUNTS_SQL)}
    strongest = wh.rows(s, "Strongest flagged driver per step and side", DRIVER_STRONGEST_SQL)
    drivers = wh.df(s, "Flagged drivers", DRIVERS_SQL)
    for step, words in STEP_WORDS.items():
        if step not in counts:
            s.missing(f"marts.conversion_drivers has no {words} rows")
            continue
        c = counts[step]
        s.say(
            f"{words.capitalize()}: {{tested}} property values tested, {{reliable}} with enough "
            "entities on both sides; {pos} flagged as going with converting and {neg} as going "
            "against it.",
            tested=s.metric(f"{step}.values_tested", clean(c["values_tested"]), "int"),
            reliable=s.metric(f"{step}.reliable_values", clean(c["reliable_values"]), "int"),
            pos=s.metric(f"{step}.positive_drivers", clean(c["positive_drivers"]), "int"),
            neg=s.metric(f"{step}.negative_drivers", clean(c["negative_drivers"]), "int"),
        )
        sides = {r["driver_flag"]: r for r in strongest if r["funnel_step"] == step}
        if not sides:
            s.missing(f"{words}: no reliable, significant driver, so no strongest driver to name")
        for flag, side in (("top_positive", "positive"), ("top_negative", "negative")):
            if flag not in sides:
                continue
            r = sides[flag]
            key = f"{step}.strongest_{side}"
            corrected = " (a zero cell, Haldane-corrected)" if r["haldane_corrected"] else ""
            s.say(
                f"Strongest {side} driver of {words}: {{prop}} = {{value}}, converting {{rate}} "
                "vs {rest} for the rest of the property, odds ratio {odds} (95% interval "
                f"{{lo}} to {{hi}}, p {{p}}){corrected}, over {{n}} "
                f"{ENTITY_NOUNS.get(r['entity_grain'], r['entity_grain'])}.",
                prop=s.metric(f"{key}.property", r["property"], "text"),
                value=s.metric(f"{key}.property_value", r["property_value"], "text"),
                rate=s.metric(f"{key}.conversion_rate", clean(r["conversion_rate"]), "pct"),
                rest=s.metric(
                    f"{key}.rest_conversion_rate", clean(r["rest_conversion_rate"]), "pct"
                ),
                odds=s.metric(f"{key}.odds_ratio", clean(r["odds_ratio"]), "odds"),
                lo=s.metric(f"{key}.odds_ratio_ci_low", clean(r["odds_ratio_ci_low"]), "odds"),
                hi=s.metric(f"{key}.odds_ratio_ci_high", clean(r["odds_ratio_ci_high"]), "odds"),
                p=s.metric(f"{key}.p_value", clean(r["p_value"]), "pvalue"),
                n=s.metric(f"{key}.entities", clean(r["entities"]), "int"),
            )
    if not drivers.empty:
        grains = {
            step: " / ".join(
                sorted({ENTITY_NOUNS.get(g, g) for g in d["entity_grain"]}, reverse=True)
            )
            for step, d in drivers.groupby("funnel_step")
        }
        s.charts.append(
            Chart(
                "conversion_drivers",
                "Conversion drivers (forest plot)",
                charts.driver_forest(drivers, grains),
                "Odds ratio and 95% interval of each flagged driver per funnel step, log scale",
            )
        )
        s.tables.append(
            Table(
                "Flagged drivers (marts.conversion_drivers where driver_flag is not null)",
                ["step", "flag", "property", "value", "n", "conv.", "rest", "odds ratio", "p"],
                [
                    [
                        r.funnel_step,
                        r.driver_flag,
                        r.property,
                        str(r.property_value),
                        fmt_int(r.entities),
                        fmt_pct(r.conversion_rate),
                        fmt_pct(r.rest_conversion_rate),
                        f"{fmt_odds(r.odds_ratio)} [{fmt_odds(r.odds_ratio_ci_low)}, "
                        f"{fmt_odds(r.odds_ratio_ci_high)}]",
                        f"{r.p_value:.2g}",
                    ]
                    for r in drivers.itertuples()
                ],
                collapsed=True,
            )
        )
    return s


# --------------------------------------------------------------------------------------------
# Cohort retention
# --------------------------------------------------------------------------------------------

# The first cohort of data holds every user already active before the data starts (no history),
# so its retention is not that of new users: the averages leave it out. Only fully observed
# periods count (an incomplete period is a lower bound, not loss).
RETENTION_CURVE_SQL = """
select
    cohort_kind,
    period_number,
    count(*) as cohorts,
    cast(sum(users_in_cohort) as bigint) as users,
    sum(retained_users) / sum(users_in_cohort) as retention_rate,
    sum(rolling_retained_users) / sum(users_in_cohort) as rolling_retention_rate
from marts.cohort_retention
where is_period_complete
    and cohort_period > (
        select min(cohort_period) from marts.cohort_retention where cohort_kind = 'first_visit'
    )
group by cohort_kind, period_number
order by cohort_kind, period_number
"""

RETENTION_LATEST_SQL = """
select
    cohort_kind,
    cohort_period,
    users_in_cohort,
    retention_rate
from marts.cohort_retention
where period_number = 1 and is_period_complete
qualify row_number() over (partition by cohort_kind order by cohort_period desc) = 1
"""

RETENTION_GRAIN_SQL = "select min(cohort_grain) as cohort_grain from marts.cohort_retention"

RETENTION_KINDS = {
    "first_visit": ("First-visit cohorts", "users", "were active again"),
    "first_purchase": ("First-purchase cohorts", "new buyers", "bought again"),
}
LATER_PERIOD = 4


def build_cohort_retention(wh: Warehouse) -> Section:
    s = Section(
        "retention",
        "Do users come back?",
        "Cohorts by the period (var cohort_grain) of the first visit or first purchase: the "
        "share active (or buying) again N periods later.",
        ["marts.cohort_retention"],
    )
    needed = [
        "cohort_kind",
        "cohort_grain",
        "cohort_period",
        "period_number",
        "users_in_cohort",
        "retained_users",
        "rolling_retained_users",
        "is_period_complete",
    ]
    if not require(wh, s, {"marts.cohort_retention": needed}):
        return s
    grain = wh.rows(s, "Cohort grain", RETENTION_GRAIN_SQL)[0]["cohort_grain"]
    curve = wh.df(s, "Mean retention by period, fully observed periods", RETENTION_CURVE_SQL)
    latest = {r["cohort_kind"]: r for r in wh.rows(s, "Latest cohort", RETENTION_LATEST_SQL)}
    for kind, (label, noun, verb) in RETENTION_KINDS.items():
        d = curve[curve["cohort_kind"] == kind].set_index("period_number")
        if 1 not in d.index:
            s.missing(
                f"{label.lower()}: no cohort after the first {grain} of data has fully observed "
                f"its next {grain}"
            )
            continue
        one, key = d.loc[1], f"{kind}.period_1"
        s.say(
            f"{label} (the first {grain} of data left out, as it holds every user already "
            f"active before the data starts): {{rate}} of {noun} {verb} in the next {grain}, "
            "a mean over {cohorts} cohorts that fully observed it ({users} users, weighted by "
            "cohort size).",
            rate=s.metric(f"{key}.retention_rate", clean(one["retention_rate"]), "pct"),
            cohorts=s.metric(f"{key}.cohorts", clean(one["cohorts"]), "int"),
            users=s.metric(f"{key}.users", clean(one["users"]), "int"),
        )
        if LATER_PERIOD in d.index:
            later, key = d.loc[LATER_PERIOD], f"{kind}.period_{LATER_PERIOD}"
            s.say(
                f"{LATER_PERIOD} {grain}s after: {{rate}} ({{cohorts}} cohorts); "
                f"{{rolling}} {verb} in that {grain} or a later one.",
                rate=s.metric(f"{key}.retention_rate", clean(later["retention_rate"]), "pct"),
                cohorts=s.metric(f"{key}.cohorts", clean(later["cohorts"]), "int"),
                rolling=s.metric(
                    f"{key}.rolling_retention_rate", clean(later["rolling_retention_rate"]), "pct"
                ),
            )
        if kind in latest:
            r = latest[kind]
            s.say(
                f"The latest cohort to complete its next {grain}, {{cohort}} ({{n}} {noun}), "
                "kept {rate}.",
                cohort=s.metric(f"{kind}.latest_cohort", clean(r["cohort_period"]), "date"),
                n=s.metric(f"{kind}.latest_cohort.users", clean(r["users_in_cohort"]), "int"),
                rate=s.metric(
                    f"{kind}.latest_cohort.retention_rate", clean(r["retention_rate"]), "pct"
                ),
            )
    if (curve["period_number"] >= 1).any():
        s.charts.append(
            Chart(
                "cohort_retention",
                "Retention curves",
                charts.retention_curves(curve[curve["period_number"] >= 1], grain),
                "Mean share of first-visit and first-purchase cohorts active again by periods "
                "since the cohort's period",
            )
        )
    return s


# --------------------------------------------------------------------------------------------
# User lifecycle
# --------------------------------------------------------------------------------------------

LIFECYCLE_SQL = """
select activity, week_start, lifecycle_state, state_order, users, is_first_data_week,
       is_week_complete
from marts.user_lifecycle
order by activity, week_start, state_order
"""

# The latest complete week that is not the first of the data (where everyone counts as new).
LIFECYCLE_LATEST_SQL = """
with weeks as (
    select
        activity,
        week_start,
        sum(users) filter (where lifecycle_state = 'new') as new_users,
        sum(users) filter (where lifecycle_state = 'returning') as returning_users,
        sum(users) filter (where lifecycle_state = 'resurrecting') as resurrecting_users,
        sum(users) filter (where lifecycle_state = 'dormant') as dormant_users
    from marts.user_lifecycle
    where is_week_complete and not is_first_data_week
    group by activity, week_start
)

select
    activity,
    week_start,
    new_users,
    returning_users,
    resurrecting_users,
    dormant_users,
    new_users + returning_users + resurrecting_users as active_users,
    new_users + resurrecting_users - dormant_users as net_change,
    (new_users + resurrecting_users) / nullif(dormant_users, 0) as quick_ratio
from weeks
qualify row_number() over (partition by activity order by week_start desc) = 1
order by activity
"""

ACTIVITY_WORDS = {
    "active": ("any activity", "active users"),
    "purchasing": ("purchasing", "buyers"),
}


def build_user_lifecycle(wh: Warehouse) -> Section:
    s = Section(
        "lifecycle",
        "Is the user base growing or leaking?",
        "Each week, users active in it are new, returning (active the week before too) or "
        "resurrecting (back after a gap); users active the week before but not in it went "
        "dormant. The quick ratio (new + resurrecting) / dormant is above 1 when the base grows.",
        ["marts.user_lifecycle"],
    )
    needed = [
        "activity",
        "week_start",
        "lifecycle_state",
        "users",
        "is_first_data_week",
        "is_week_complete",
    ]
    if not require(wh, s, {"marts.user_lifecycle": needed}):
        return s
    df = wh.df(s, "Users per week and lifecycle state", LIFECYCLE_SQL)
    latest = {r["activity"]: r for r in wh.rows(s, "Latest complete week", LIFECYCLE_LATEST_SQL)}
    for activity, (words, noun) in ACTIVITY_WORDS.items():
        if activity not in latest:
            s.missing(
                f"{words}: no complete week after the first week of data, so no week to sum up"
            )
            continue
        r = latest[activity]
        s.say(
            f"Latest complete week ({words}), starting {{week}}: {{active}} {noun}, of whom "
            "{new} new, {returning} returning and {resurrecting} resurrecting; "
            f"{{dormant}} {noun} of the week before did not come back (dormant). Net change: "
            "{net}.",
            week=s.metric(f"{activity}.week_start", clean(r["week_start"]), "date"),
            active=s.metric(f"{activity}.active_users", clean(r["active_users"]), "int"),
            new=s.metric(f"{activity}.new", clean(r["new_users"]), "int"),
            returning=s.metric(f"{activity}.returning", clean(r["returning_users"]), "int"),
            resurrecting=s.metric(
                f"{activity}.resurrecting", clean(r["resurrecting_users"]), "int"
            ),
            dormant=s.metric(f"{activity}.dormant", clean(r["dormant_users"]), "int"),
            net=s.metric(f"{activity}.net_change", clean(r["net_change"]), "int"),
        )
        if r["quick_ratio"] is None:
            s.missing(
                f"{words}: nobody went dormant in the latest complete week, so the quick ratio "
                "is undefined"
            )
        else:
            s.say(
                f"Quick ratio ({words}) that week: {{qr}} ({{direction}}).",
                qr=s.metric(f"{activity}.quick_ratio", clean(r["quick_ratio"]), "num"),
                direction=s.metric(
                    f"{activity}.quick_ratio_reading",
                    "growing" if r["quick_ratio"] > 1 else "shrinking or flat",
                    "text",
                ),
            )
    s.charts.append(
        Chart(
            "user_lifecycle",
            "User lifecycle per week",
            charts.user_lifecycle(df),
            "Stacked bars of new, returning and resurrecting users per week, dormant users "
            "below zero, for any activity and for purchasing",
        )
    )
    return s


# --------------------------------------------------------------------------------------------
# RFM segments and transitions
# --------------------------------------------------------------------------------------------

RFM_SEGMENTS_SQL = f"""
select
    as_of_date,
    rfm_segment,
    min(segment_order) as segment_order,
    rfm_segment in ({_lapsing_sql()}) as is_lapsing,
    count(*) as users,
    count(*) / sum(count(*)) over () as user_share,
    sum(monetary) as revenue,
    sum(monetary) / nullif(sum(sum(monetary)) over (), 0) as revenue_share,
    avg(recency_days) as mean_recency_days,
    avg(frequency) as mean_frequency,
    avg(monetary) as mean_monetary,
    max(buyers_in_snapshot) as buyers,
    cast(sum(count(*) filter (where rfm_segment in ({_lapsing_sql()}))) over () as bigint)
        as lapsing_users,
    sum(count(*) filter (where rfm_segment in ({_lapsing_sql()}))) over ()
    / sum(count(*)) over () as lapsing_user_share,
    sum(sum(monetary) filter (where rfm_segment in ({_lapsing_sql()}))) over ()
    / nullif(sum(sum(monetary)) over (), 0) as lapsing_revenue_share
from marts.rfm_segments
where is_latest_snapshot
group by as_of_date, rfm_segment
order by segment_order
"""

RFM_TRANSITIONS_SQL = """
with segment_order as (
    select rfm_segment, min(segment_order) as segment_order
    from marts.rfm_segments
    group by rfm_segment
)

select
    t.from_as_of_date,
    t.to_as_of_date,
    t.from_segment,
    t.to_segment,
    t.users,
    t.from_segment_users,
    t.share_of_from_segment,
    coalesce(f.segment_order, 0) as from_order,
    coalesce(o.segment_order, 99) as to_order
from marts.rfm_segment_transitions as t
left join segment_order as f on t.from_segment = f.rfm_segment
left join segment_order as o on t.to_segment = o.rfm_segment
where t.is_latest_transition
order by from_order, to_order
"""

RFM_MOVES_SQL = f"""
with t as (
    select * from marts.rfm_segment_transitions where is_latest_transition
)

select
    max(from_as_of_date) as from_as_of_date,
    max(to_as_of_date) as to_as_of_date,
    max(from_segment_users) filter (where from_segment = 'champions') as champions,
    coalesce(sum(users) filter (where from_segment = 'champions' and is_same_segment), 0)
        as champions_stayed,
    coalesce(sum(users) filter (where from_segment = 'champions' and to_segment = 'at_risk'), 0)
        as champions_to_at_risk,
    coalesce(sum(users) filter (where from_segment = 'champions' and is_same_segment), 0)
    / max(from_segment_users) filter (where from_segment = 'champions') as champions_stayed_share,
    coalesce(sum(users) filter (where from_segment = 'champions' and to_segment = 'at_risk'), 0)
    / max(from_segment_users) filter (where from_segment = 'champions')
        as champions_to_at_risk_share,
    coalesce(sum(users) filter (where from_segment = 'new_buyer'), 0) as new_buyers,
    coalesce(sum(users) filter (where from_segment <> 'new_buyer'), 0) as earlier_buyers,
    coalesce(
        sum(users) filter (
            where from_segment not in ('new_buyer', {_lapsing_sql()})
                and to_segment in ({_lapsing_sql()})
        ),
        0
    ) as slid_into_lapsing
from t
"""

RFM_LARGEST_MOVE_SQL = """
select from_segment, to_segment, users, share_of_from_segment
from marts.rfm_segment_transitions
where is_latest_transition and not is_same_segment and from_segment <> 'new_buyer'
qualify row_number() over (order by users desc, from_segment, to_segment) = 1
"""


def build_rfm(wh: Warehouse) -> Section:
    s = Section(
        "rfm",
        "Who are the champions and the at-risk buyers, and how do they move?",
        "RFM segments of buyers (recency and frequency scores 1-5 on the seed's grid) at the "
        "latest feature snapshot, and where each segment's buyers went since the snapshot "
        "before. Revenue is the buyers' revenue to date; lapsing segments are at_risk, "
        "cannot_lose_them, hibernating and lost.",
        ["marts.rfm_segments", "marts.rfm_segment_transitions"],
    )
    needed = ["as_of_date", "is_latest_snapshot", "rfm_segment", "segment_order", "monetary"]
    if require(wh, s, {"marts.rfm_segments": needed}):
        seg = wh.df(s, "Buyers and revenue per segment at the latest snapshot", RFM_SEGMENTS_SQL)
    else:
        seg = pd.DataFrame()
    if not seg.empty:
        as_of = pd.Timestamp(seg["as_of_date"].iloc[0]).date()  # a DATE, read by pandas
        by_name = seg.set_index("rfm_segment")
        largest = seg.sort_values(["users", "segment_order"], ascending=[False, True]).iloc[0]
        s.say(
            "At the latest snapshot, {date}, {buyers} buyers; the largest segment is {largest} "
            "({largest_n} buyers, {largest_share}).",
            date=s.metric("as_of_date", as_of, "date"),
            buyers=s.metric("buyers", clean(seg["buyers"].iloc[0]), "int"),
            largest=s.metric("largest_segment", largest["rfm_segment"], "text"),
            largest_n=s.metric("largest_segment.users", clean(largest["users"]), "int"),
            largest_share=s.metric(
                "largest_segment.user_share", clean(largest["user_share"]), "pct"
            ),
        )
        if not seg["revenue"].fillna(0).any():
            s.missing("no revenue (every purchase priced 0), so revenue shares are undefined")
        elif "champions" in by_name.index:
            c = by_name.loc["champions"]
            s.say(
                "Champions: {users} buyers ({share} of buyers) hold {rev_share} of the buyers' "
                "revenue to date ({revenue}).",
                users=s.metric("champions.users", clean(c["users"]), "int"),
                share=s.metric("champions.user_share", clean(c["user_share"]), "pct"),
                rev_share=s.metric("champions.revenue_share", clean(c["revenue_share"]), "pct"),
                revenue=s.metric("champions.revenue", clean(c["revenue"]), "money"),
            )
        else:
            s.missing("no champions at the latest snapshot")
        first = seg.iloc[0]
        if first["lapsing_users"] and seg["revenue"].fillna(0).any():
            s.say(
                "Lapsing segments together: {users} buyers ({share}) with {rev_share} of the "
                "revenue to date.",
                users=s.metric("lapsing.users", clean(first["lapsing_users"]), "int"),
                share=s.metric("lapsing.user_share", clean(first["lapsing_user_share"]), "pct"),
                rev_share=s.metric(
                    "lapsing.revenue_share", clean(first["lapsing_revenue_share"]), "pct"
                ),
            )
        s.charts.append(
            Chart(
                "rfm_segments",
                "RFM segments at the latest snapshot",
                charts.rfm_segments(seg, str(as_of)[:10]),
                "Buyers and revenue to date per RFM segment, lapsing segments in red",
            )
        )
        s.tables.append(
            Table(
                f"marts.rfm_segments at {str(as_of)[:10]}",
                [
                    "segment",
                    "buyers",
                    "share",
                    "revenue",
                    "revenue share",
                    "recency (days)",
                    "orders",
                    "revenue / buyer",
                ],
                [
                    [
                        r.rfm_segment,
                        fmt_int(r.users),
                        fmt_pct(r.user_share),
                        fmt_num(r.revenue, 0),
                        fmt_pct(r.revenue_share),
                        fmt_num(r.mean_recency_days, 1),
                        fmt_num(r.mean_frequency, 2),
                        fmt_num(r.mean_monetary, 0),
                    ]
                    for r in seg.itertuples()
                ],
                collapsed=True,
            )
        )
    needed = ["is_latest_transition", "from_segment", "to_segment", "users", "from_segment_users"]
    if require(wh, s, {"marts.rfm_segment_transitions": needed}):
        m = wh.rows(s, "Moves into the latest snapshot", RFM_MOVES_SQL)[0]
        trans = wh.df(s, "Transition matrix into the latest snapshot", RFM_TRANSITIONS_SQL)
        from_date = s.metric("transition.from_as_of_date", clean(m["from_as_of_date"]), "date")
        to_date = s.metric("transition.to_as_of_date", clean(m["to_as_of_date"]), "date")
        if not m["champions"]:
            s.missing(f"no champions at {from_date}, so there is no champion to follow")
        else:
            s.say(
                "From {from_date} to {to_date}: of {champions} champions, {stayed} "
                "({stayed_share}) were still champions and {at_risk} ({at_risk_share}) became "
                "at risk.",
                from_date=from_date,
                to_date=to_date,
                champions=s.metric("transition.champions", clean(m["champions"]), "int"),
                stayed=s.metric("transition.champions_stayed", clean(m["champions_stayed"]), "int"),
                stayed_share=s.metric(
                    "transition.champions_stayed_share",
                    clean(m["champions_stayed_share"]),
                    "pct",
                ),
                at_risk=s.metric(
                    "transition.champions_to_at_risk", clean(m["champions_to_at_risk"]), "int"
                ),
                at_risk_share=s.metric(
                    "transition.champions_to_at_risk_share",
                    clean(m["champions_to_at_risk_share"]),
                    "pct",
                ),
            )
        if m["earlier_buyers"]:
            move = wh.rows(s, "Largest move between segments", RFM_LARGEST_MOVE_SQL)
            s.say(
                "Of {earlier} earlier buyers, {slid} slid from a non-lapsing segment into a "
                "lapsing one; {new} new buyers arrived.",
                earlier=s.metric("transition.earlier_buyers", clean(m["earlier_buyers"]), "int"),
                slid=s.metric("transition.slid_into_lapsing", clean(m["slid_into_lapsing"]), "int"),
                new=s.metric("transition.new_buyers", clean(m["new_buyers"]), "int"),
            )
            if move:
                mv = move[0]
                s.say(
                    "The largest move between segments: {users} buyers from {from_seg} to "
                    "{to_seg} ({share} of {from_seg_again}).",
                    users=s.metric("transition.largest_move.users", clean(mv["users"]), "int"),
                    from_seg=s.metric("transition.largest_move.from", mv["from_segment"], "text"),
                    to_seg=s.metric("transition.largest_move.to", mv["to_segment"], "text"),
                    share=s.metric(
                        "transition.largest_move.share", clean(mv["share_of_from_segment"]), "pct"
                    ),
                    from_seg_again=mv["from_segment"],
                )
        else:
            s.say(
                "Every buyer at {to_date} is a new buyer since {from_date}: {new}.",
                to_date=to_date,
                from_date=from_date,
                new=s.metric("transition.new_buyers", clean(m["new_buyers"]), "int"),
            )
        s.charts.append(
            Chart(
                "rfm_transitions",
                "RFM segment transitions",
                charts.rfm_transitions(trans, str(from_date), str(to_date)),
                "Heatmap of the share of each segment's buyers in each segment at the next "
                "snapshot",
            )
        )
    return s


PRODUCT_BUILDERS = [
    build_funnel_trends,
    build_funnel_paths,
    build_conversion_drivers,
    build_cohort_retention,
    build_user_lifecycle,
    build_rfm,
]
