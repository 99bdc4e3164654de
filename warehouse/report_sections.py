"""Descriptive sections of the findings report: one builder per question, each reading its marts.

A builder declares the relations (and columns) it needs; when one is missing, lacks a column or is
empty, or a figure is undefined on the data (null in the marts: a rate without a denominator, a
share of zero revenue), the section says "not enough data" with the reason instead of failing or
printing a made-up number. Every number printed is a
metric read from the query results (see report_model).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from warehouse import report_charts as charts
from warehouse import report_product as product
from warehouse.report_model import (
    Chart,
    Section,
    Table,
    Warehouse,
    clean,
    fmt_int,
    fmt_num,
    fmt_pct,
    require,
)

Builder = Callable[[Warehouse], Section]

MAX_CATEGORIES = 15  # top categories shown in the funnel and speed charts (by users who viewed)
TOP_FEATURES = 10


# --------------------------------------------------------------------------------------------
# Overview
# --------------------------------------------------------------------------------------------

OVERVIEW_SQL = """
select
    (select min(event_date) from intermediate.int_user_days) as first_date,
    (select max(event_date) from intermediate.int_user_days) as last_date,
    (select count(distinct event_date) from intermediate.int_user_days) as days_with_events,
    (select sum(events) from intermediate.int_user_days) as events,
    (select count(*) from marts.customer_value) as users,
    (select count(*) from marts.customer_value where purchases > 0) as buyers,
    (select sum(revenue) from marts.customer_value) as revenue,
    (select sum(purchases) from marts.customer_value) as purchases,
    (select avg(case when purchases > 0 then 1.0 else 0.0 end) from marts.customer_value)
        as buyer_share
"""


def build_overview(wh: Warehouse) -> Section:
    s = Section(
        "overview",
        "The data at a glance",
        "What period and how many users does this report cover?",
        ["intermediate.int_user_days", "marts.customer_value"],
    )
    if not require(
        wh,
        s,
        {
            "intermediate.int_user_days": ["event_date", "events"],
            "marts.customer_value": ["revenue", "purchases"],
        },
    ):
        return s
    r = wh.rows(s, "Period, users, buyers and revenue", OVERVIEW_SQL)[0]
    s.say(
        "The warehouse holds {events} clean events from {first} to {last} (days with events: "
        "{days}), by {users} users, of whom {buyers} bought something ({buyer_share}): "
        "{purchases} purchased items for a revenue of {revenue} (sum of purchase prices, in the "
        "data's price units).",
        events=s.metric("events", clean(r["events"]), "int"),
        first=s.metric("first_date", clean(r["first_date"]), "date"),
        last=s.metric("last_date", clean(r["last_date"]), "date"),
        days=s.metric("days_with_events", clean(r["days_with_events"]), "int"),
        users=s.metric("users", clean(r["users"]), "int"),
        buyers=s.metric("buyers", clean(r["buyers"]), "int"),
        buyer_share=s.metric("buyer_share", clean(r["buyer_share"]), "pct"),
        purchases=s.metric("purchases", clean(r["purchases"]), "int"),
        revenue=s.metric("revenue", clean(r["revenue"]), "money"),
    )
    return s


# --------------------------------------------------------------------------------------------
# Funnel
# --------------------------------------------------------------------------------------------

FUNNEL_SQL = """
select
    level,
    stage,
    stage_order,
    entities,
    entities_reached,
    entities_ordered,
    entities_reached_out_of_order,
    ordered_conversion_from_previous,
    ordered_conversion_from_view,
    drop_off_share,
    stage_events
from marts.funnel_summary
order by level desc, stage_order
"""


def build_funnel(wh: Warehouse) -> Section:
    s = Section(
        "funnel",
        "Where do users drop off?",
        "How many users and sessions go from view to cart to purchase, and where are they lost?",
        ["marts.funnel_summary"],
    )
    needed = ["level", "stage", "entities_reached", "entities_ordered", "drop_off_share"]
    if not require(wh, s, {"marts.funnel_summary": needed}):
        return s
    df = wh.df(s, "Funnel by level and stage", FUNNEL_SQL)
    for level in ("user", "session"):
        d = df[df["level"] == level].set_index("stage")
        if not {"view", "cart", "purchase"} <= set(d.index):
            s.missing(f"marts.funnel_summary has no complete {level}-level funnel")
            continue

        def m(stage: str, col: str, fmt: str, level: str = level, d: pd.DataFrame = d):
            return s.metric(f"{level}.{stage}.{col}", clean(d.loc[stage, col]), fmt)

        noun = "users" if level == "user" else "sessions"
        viewers = clean(d.loc["view", "entities_reached"])
        carted_in_order = clean(d.loc["cart", "entities_ordered"])
        if not viewers:
            # Nothing to convert from: every conversion and drop-off is undefined (null).
            s.missing(
                f"{level} level: no {noun[:-1]} viewed a product, so the view → cart → purchase "
                "conversions and drop-offs are undefined"
            )
        elif not carted_in_order:
            s.say(
                f"{level.capitalize()} level: {{viewed}} {noun} viewed a product and none of "
                f"them added a product to the cart after a view (drop-off {{cart_drop}}).",
                viewed=m("view", "entities_reached", "int"),
                cart_drop=m("cart", "drop_off_share", "pct"),
            )
            s.missing(
                f"{level} level: no {noun[:-1]} carted after a view, so cart → purchase "
                "conversion is undefined"
            )
        else:
            s.say(
                f"{level.capitalize()} level: {{viewed}} {noun} viewed a product. {{carted}} of "
                f"them added a product to the cart after a view ({{cart_conv}} of viewing {noun}; "
                "drop-off {cart_drop}), and {bought} bought after such a cart ({buy_conv} of "
                "those; drop-off {buy_drop}). Overall {overall} of viewing "
                f"{noun} went all the way in order.",
                viewed=m("view", "entities_reached", "int"),
                carted=m("cart", "entities_ordered", "int"),
                cart_conv=m("cart", "ordered_conversion_from_previous", "pct"),
                cart_drop=m("cart", "drop_off_share", "pct"),
                bought=m("purchase", "entities_ordered", "int"),
                buy_conv=m("purchase", "ordered_conversion_from_previous", "pct"),
                buy_drop=m("purchase", "drop_off_share", "pct"),
                overall=m("purchase", "ordered_conversion_from_view", "pct"),
            )
        s.say(
            f"Out of order: {{ooo}} {noun} purchased with no cart before the purchase, and "
            f"{{cart_ooo}} {noun} carted with no view before the cart; the ordered funnel above "
            "does not count them.",
            ooo=m("purchase", "entities_reached_out_of_order", "int"),
            cart_ooo=m("cart", "entities_reached_out_of_order", "int"),
        )
    if "user" in set(df["level"]):
        ev = df[df["level"] == "user"].set_index("stage")
        s.say(
            "Event level: {views} view events, {carts} cart events and {purchases} purchase "
            "events.",
            views=s.metric("events.view", clean(ev.loc["view", "stage_events"]), "int"),
            carts=s.metric("events.cart", clean(ev.loc["cart", "stage_events"]), "int"),
            purchases=s.metric("events.purchase", clean(ev.loc["purchase", "stage_events"]), "int"),
        )
    s.charts.append(
        Chart(
            "funnel_levels",
            "Funnel at user and session level",
            charts.funnel_levels(df),
            "Bars of users and sessions reaching view, cart and purchase, with drop-off shares",
        )
    )
    s.tables.append(
        Table(
            "marts.funnel_summary",
            ["level", "stage", "reached", "in order", "out of order", "conversion", "drop-off"],
            [
                [
                    r.level,
                    r.stage,
                    fmt_int(r.entities_reached),
                    fmt_int(r.entities_ordered),
                    fmt_int(r.entities_reached_out_of_order),
                    fmt_pct(r.ordered_conversion_from_previous),
                    fmt_pct(r.drop_off_share),
                ]
                for r in df.itertuples()
            ],
        )
    )
    return s


MIN_VIEWERS = 30  # a category needs this many viewing users to be named best or worst

FUNNEL_DIM_STEPS = f"""
with steps as (
    select
        dimension,
        dimension_value,
        min(value_order) as value_order,
        max(entities_reached) filter (where stage = 'view') as viewers,
        max(ordered_conversion_from_previous) filter (where stage = 'cart') as view_to_cart,
        max(ordered_conversion_from_previous) filter (where stage = 'purchase')
            as cart_to_purchase,
        max(ordered_conversion_from_view) filter (where stage = 'purchase') as view_to_purchase
    from marts.funnel_by_dimension
    where level = 'user' and dimension in ('top_category', 'price_band')
    group by dimension, dimension_value
),

shown as (
    -- every price band; the {MAX_CATEGORIES} top categories with the most viewing users
    select *
    from steps
    qualify dimension = 'price_band'
        or row_number() over (partition by dimension order by viewers desc, dimension_value)
        <= {MAX_CATEGORIES}
)
"""

FUNNEL_DIM_SQL = (
    FUNNEL_DIM_STEPS
    + """
select * from shown
order by dimension, value_order
"""
)

FUNNEL_DIM_EXTREMES_SQL = (
    FUNNEL_DIM_STEPS
    + f"""
, ranked as (
    select
        dimension,
        dimension_value,
        viewers,
        view_to_cart,
        count(*) over (partition by dimension) as candidates,
        row_number() over (
            partition by dimension order by view_to_cart desc, dimension_value
        ) as best_rank,
        row_number() over (partition by dimension order by view_to_cart, dimension_value)
            as worst_rank
    from shown
    where viewers >= {MIN_VIEWERS} and view_to_cart is not null
)

select
    dimension,
    case when best_rank = 1 then 'best' else 'worst' end as side,
    dimension_value,
    viewers,
    view_to_cart
from ranked
where candidates >= 2 and (best_rank = 1 or worst_rank = 1)
"""
)


def build_funnel_dimensions(wh: Warehouse) -> Section:
    s = Section(
        "funnel_dims",
        "Funnel by top category and price band",
        "Which categories and price bands lose the most users at each step?",
        ["marts.funnel_by_dimension"],
    )
    needed = ["level", "dimension", "dimension_value", "value_order", "stage"]
    if not require(wh, s, {"marts.funnel_by_dimension": needed}):
        return s
    df = wh.df(s, "User-level step conversion by top category and price band", FUNNEL_DIM_SQL)
    extremes = wh.rows(
        s, "Highest and lowest view -> cart conversion per dimension", FUNNEL_DIM_EXTREMES_SQL
    )
    for dim, label in (("top_category", "top category"), ("price_band", "price band")):
        d = df[df["dimension"] == dim]
        if d.empty:
            s.missing(f"marts.funnel_by_dimension has no {dim} rows")
            continue
        if not d["viewers"].fillna(0).any():
            s.missing(f"no user viewed a product, so conversion by {label} is undefined")
            continue
        sides = {r["side"]: r for r in extremes if r["dimension"] == dim}
        if {"best", "worst"} <= set(sides):
            best, worst = sides["best"], sides["worst"]
            s.say(
                f"By {label} (values with at least {{min_n}} viewing users): view → cart "
                "conversion is highest for {best} ({best_rate} of {best_n} viewing users) and "
                "lowest for {worst} ({worst_rate} of {worst_n}).",
                min_n=s.metric(f"{dim}.min_viewers", MIN_VIEWERS, "int"),
                best=s.metric(f"{dim}.best_view_to_cart.value", best["dimension_value"], "text"),
                best_rate=s.metric(
                    f"{dim}.best_view_to_cart.rate", clean(best["view_to_cart"]), "pct"
                ),
                best_n=s.metric(f"{dim}.best_view_to_cart.viewers", clean(best["viewers"]), "int"),
                worst=s.metric(f"{dim}.worst_view_to_cart.value", worst["dimension_value"], "text"),
                worst_rate=s.metric(
                    f"{dim}.worst_view_to_cart.rate", clean(worst["view_to_cart"]), "pct"
                ),
                worst_n=s.metric(
                    f"{dim}.worst_view_to_cart.viewers", clean(worst["viewers"]), "int"
                ),
            )
        s.charts.append(
            Chart(
                f"funnel_{dim}",
                f"Funnel by {label}",
                charts.funnel_by_dimension(d, label, sort_by_viewers=dim == "top_category"),
                f"User-level view-to-cart and cart-to-purchase conversion by {label}",
            )
        )
    return s


# --------------------------------------------------------------------------------------------
# Time to action
# --------------------------------------------------------------------------------------------

TIME_SQL = """
select step, dimension, dimension_value, value_order, session_products,
       p25_seconds, p50_seconds, p75_seconds, p90_seconds, mean_seconds
from marts.time_to_action
order by step desc, dimension, value_order
"""

DELAY_SQL = """
select bucket_order, delay_bucket, conversions, share_of_conversions, cumulative_share
from marts.cart_conversion_delay
order by bucket_order
"""

DELAY_TOP_SQL = """
select
    sum(conversions) over () as total_conversions,
    delay_bucket as top_bucket,
    share_of_conversions as top_share
from marts.cart_conversion_delay
qualify row_number() over (order by conversions desc, bucket_order) = 1
"""

ABANDON_SQL = """
select conversion_window_days, carting_sessions, session_abandonment_rate,
       session_abandonment_rate_after_later_sessions, carted_items,
       item_abandonment_rate_in_session, item_abandonment_rate_after_later_sessions
from marts.cart_abandonment
where dimension = 'overall'
"""


def build_time_to_action(wh: Warehouse) -> Section:
    s = Section(
        "speed",
        "How fast do users act?",
        "Seconds from a product's first view to its first cart, and from the cart to the "
        "purchase, in the same session; and how long carts bought in a later visit wait.",
        ["marts.time_to_action", "marts.cart_conversion_delay", "marts.cart_abandonment"],
    )
    if require(wh, s, {"marts.time_to_action": ["step", "dimension", "p50_seconds"]}):
        df = wh.df(s, "Time to action percentiles", TIME_SQL)
        overall = df[df["dimension"] == "overall"].set_index("step")
        for step, words in (
            ("view_to_cart", "from first view to first cart"),
            ("cart_to_purchase", "from first cart to first purchase"),
        ):
            if step not in overall.index:
                s.missing(f"marts.time_to_action has no overall {step} row")
                continue
            r = overall.loc[step]
            s.say(
                f"Time {words} (same session and product): median {{p50}}, middle half "
                "between {p25} and {p75}, 90% within {p90} (mean {mean}), over {n} "
                "session-products.",
                p50=s.metric(f"{step}.p50_seconds", clean(r["p50_seconds"]), "seconds"),
                p25=s.metric(f"{step}.p25_seconds", clean(r["p25_seconds"]), "seconds"),
                p75=s.metric(f"{step}.p75_seconds", clean(r["p75_seconds"]), "seconds"),
                p90=s.metric(f"{step}.p90_seconds", clean(r["p90_seconds"]), "seconds"),
                mean=s.metric(f"{step}.mean_seconds", clean(r["mean_seconds"]), "seconds"),
                n=s.metric(f"{step}.session_products", clean(r["session_products"]), "int"),
            )
        bands = df[df["dimension"].isin(["overall", "price_band"])].copy()
        bands["label"] = [
            "all products" if dim == "overall" else f"price {v}"
            for dim, v in zip(bands["dimension"], bands["dimension_value"], strict=True)
        ]
        if not bands.empty:
            s.charts.append(
                Chart(
                    "time_to_action_price_band",
                    "Time to action by price band",
                    charts.time_to_action(bands, "Time to action, overall and by price band"),
                    "Percentiles of seconds from view to cart and cart to purchase by price band",
                )
            )
        cats = df[df["dimension"] == "top_category"].copy()
        if not cats.empty:
            keep = (
                cats[cats["step"] == "view_to_cart"]
                .nlargest(MAX_CATEGORIES, "session_products")["dimension_value"]
                .tolist()
            )
            cats = cats[cats["dimension_value"].isin(keep)].sort_values(["step", "p50_seconds"])
            cats["label"] = cats["dimension_value"]
            s.charts.append(
                Chart(
                    "time_to_action_top_category",
                    "Time to action by top category",
                    charts.time_to_action(cats, "Time to action by top category"),
                    "Percentiles of seconds from view to cart and cart to purchase by category",
                )
            )
    if require(wh, s, {"marts.cart_abandonment": ["dimension", "session_abandonment_rate"]}):
        rows = wh.rows(s, "Cart abandonment in and across sessions", ABANDON_SQL)
        if rows and not rows[0]["carting_sessions"]:
            s.missing("no session has a cart event, so cart abandonment is undefined")
        elif rows:
            r = rows[0]
            s.say(
                "Of {sessions} sessions with a cart, {in_session} ended without a purchase; "
                "counting carts bought by the same user in a later session within {window} days, "
                "{after} stay abandoned. Per carted item: {item_in} not bought in the session, "
                "{item_after} not bought within the window.",
                sessions=s.metric("carting_sessions", clean(r["carting_sessions"]), "int"),
                in_session=s.metric(
                    "session_abandonment_rate", clean(r["session_abandonment_rate"]), "pct"
                ),
                window=s.metric(
                    "conversion_window_days", clean(r["conversion_window_days"]), "int"
                ),
                after=s.metric(
                    "session_abandonment_rate_after_later_sessions",
                    clean(r["session_abandonment_rate_after_later_sessions"]),
                    "pct",
                ),
                item_in=s.metric(
                    "item_abandonment_rate_in_session",
                    clean(r["item_abandonment_rate_in_session"]),
                    "pct",
                ),
                item_after=s.metric(
                    "item_abandonment_rate_after_later_sessions",
                    clean(r["item_abandonment_rate_after_later_sessions"]),
                    "pct",
                ),
            )
        else:
            s.missing("marts.cart_abandonment has no overall row")
    if require(wh, s, {"marts.cart_conversion_delay": ["delay_bucket", "conversions"]}):
        delay = wh.df(s, "Delay of later-session cart conversions", DELAY_SQL)
        top = wh.rows(s, "Most common delay", DELAY_TOP_SQL)[0]
        if top["total_conversions"]:
            s.say(
                "{total} carted items were bought in a later session; the most common delay is "
                "{bucket} ({share} of them).",
                total=s.metric("later_conversions", clean(top["total_conversions"]), "int"),
                bucket=s.metric("top_delay_bucket", top["top_bucket"], "text"),
                share=s.metric("top_delay_share", clean(top["top_share"]), "pct"),
            )
            s.charts.append(
                Chart(
                    "cart_conversion_delay",
                    "Delay of carts bought in a later session",
                    charts.conversion_delay(delay),
                    "Share of later-session conversions by delay bucket",
                )
            )
        else:
            s.missing("marts.cart_conversion_delay: no cart was bought in a later session")
    return s


# --------------------------------------------------------------------------------------------
# Engagement
# --------------------------------------------------------------------------------------------

DECILES_SQL = """
select ratio, decile, users, buyers, ratio_min, ratio_max,
       revenue_per_user_mean, revenue_per_user_median, revenue, revenue_share
from marts.engagement_deciles
order by ratio, decile
"""

CORR_SQL = """
select ratio, population, users, spearman_correlation, pearson_correlation
from marts.engagement_revenue_correlation
order by ratio, population desc
"""


def build_engagement(wh: Warehouse) -> Section:
    s = Section(
        "engagement",
        "Do high engagement ratios mean higher revenue?",
        "Revenue per user along deciles of each engagement ratio, and the rank correlation.",
        ["marts.engagement_deciles", "marts.engagement_revenue_correlation"],
    )
    if require(wh, s, {"marts.engagement_revenue_correlation": ["ratio", "spearman_correlation"]}):
        corr = wh.df(s, "Spearman correlation of each ratio with revenue", CORR_SQL)
        said = False
        for ratio, label in charts.RATIO_LABELS.items():
            d = corr[corr["ratio"] == ratio].set_index("population")

            def value(population: str, col: str, d: pd.DataFrame = d):
                return clean(d.loc[population, col]) if population in d.index else None

            rho, rho_b = (
                value(p, "spearman_correlation") for p in ("ratio_population", "buyers_only")
            )
            if rho is None:
                # A correlation needs two users who differ in both the ratio and the revenue.
                s.missing(
                    f"{label}: the correlation with revenue is undefined on this data (no user "
                    "has the ratio, or the ratio or the revenue is the same for every user)"
                )
                continue
            said = True
            rho_m = s.metric(f"{ratio}.spearman", rho, "corr")
            n = s.metric(f"{ratio}.users", value("ratio_population", "users"), "int")
            if rho_b is None:
                s.say(
                    f"{label}: Spearman correlation with revenue {{rho}} over {{n}} users where "
                    "the ratio is defined.",
                    rho=rho_m,
                    n=n,
                )
                s.missing(
                    f"{label}: the buyers-only correlation is undefined (fewer than two buyers "
                    "with the ratio, or they do not differ in the ratio or the revenue)"
                )
                continue
            s.say(
                f"{label}: Spearman correlation with revenue {{rho}} over {{n}} users where the "
                "ratio is defined, {rho_b} over the {n_b} buyers among them.",
                rho=rho_m,
                n=n,
                rho_b=s.metric(f"{ratio}.spearman_buyers", rho_b, "corr"),
                n_b=s.metric(f"{ratio}.buyers", value("buyers_only", "users"), "int"),
            )
        if said:
            s.say(
                "Most users never buy: their block of tied zero revenue decides the all-user "
                "figure, so read the buyers-only correlation for whether more engaged buyers "
                "spend more."
            )
    if require(wh, s, {"marts.engagement_deciles": ["ratio", "decile", "revenue_per_user_mean"]}):
        dec = wh.df(s, "Revenue per user by ratio decile", DECILES_SQL)
        for ratio, label in charts.RATIO_LABELS.items():
            top = dec[(dec["ratio"] == ratio) & (dec["decile"] == 10)]
            if top.empty:
                if (dec["ratio"] == ratio).any():
                    s.missing(f"{label}: fewer than 10 users have the ratio, so no top decile")
                continue
            r = top.iloc[0]
            if pd.isna(r["revenue_share"]):
                s.missing(
                    f"{label}: the population made no revenue, so the deciles' revenue shares "
                    "are undefined"
                )
                continue
            s.say(
                f"{label}: the top decile (ratio {{lo}} to {{hi}}) holds {{share}} of the "
                "population's revenue, {mean} per user on average.",
                lo=s.metric(f"{ratio}.top_decile.ratio_min", clean(r["ratio_min"]), "num3"),
                hi=s.metric(f"{ratio}.top_decile.ratio_max", clean(r["ratio_max"]), "num3"),
                share=s.metric(
                    f"{ratio}.top_decile.revenue_share", clean(r["revenue_share"]), "pct"
                ),
                mean=s.metric(
                    f"{ratio}.top_decile.revenue_per_user_mean",
                    clean(r["revenue_per_user_mean"]),
                    "money",
                ),
            )
        s.charts.append(
            Chart(
                "engagement_deciles",
                "Engagement ratio deciles vs revenue",
                charts.engagement_deciles(dec),
                "Mean and median revenue per user by decile of each engagement ratio",
            )
        )
        s.tables.append(
            Table(
                "marts.engagement_deciles (ratio range per decile)",
                ["ratio", "decile", "users", "buyers", "ratio range", "revenue / user", "share"],
                [
                    [
                        r.ratio,
                        int(r.decile),
                        fmt_int(r.users),
                        fmt_int(r.buyers),
                        f"{fmt_num(r.ratio_min, 3)} – {fmt_num(r.ratio_max, 3)}",
                        fmt_num(r.revenue_per_user_mean),
                        fmt_pct(r.revenue_share),
                    ]
                    for r in dec.itertuples()
                ],
                collapsed=True,
            )
        )
    return s


# --------------------------------------------------------------------------------------------
# Pareto
# --------------------------------------------------------------------------------------------

PARETO_SQL = """
select buyer_percentile, buyers_included, cumulative_revenue_share
from marts.revenue_pareto
order by buyer_percentile
"""

CONCENTRATION_SQL = """
select buyers, total_revenue, top_1pct_revenue_share, top_10pct_revenue_share,
       top_20pct_revenue_share, revenue_target_share, buyers_for_revenue_target,
       buyer_share_for_revenue_target, revenue_gini
from marts.revenue_concentration
"""


def build_pareto(wh: Warehouse) -> Section:
    s = Section(
        "pareto",
        "How concentrated is revenue?",
        "The share of revenue made by the top buyers (the Pareto curve).",
        ["marts.revenue_pareto", "marts.revenue_concentration"],
    )
    ok = require(
        wh,
        s,
        {
            "marts.revenue_pareto": ["buyer_percentile", "cumulative_revenue_share"],
            "marts.revenue_concentration": ["top_20pct_revenue_share"],
        },
    )
    if not ok:
        return s
    conc = wh.rows(s, "Headline concentration figures", CONCENTRATION_SQL)[0]
    if not conc["buyers"] or not conc["total_revenue"]:
        # No buyer, or every purchase at price 0: no share of revenue is defined (the marts
        # hold null), so there is no curve to draw.
        s.say(
            "{buyers} buyers, revenue {revenue}.",
            buyers=s.metric("buyers", clean(conc["buyers"]), "int"),
            revenue=s.metric("total_revenue", clean(conc["total_revenue"]), "money"),
        )
        s.missing(
            "no revenue from buyers, so the revenue shares, the Pareto curve and the Gini "
            "coefficient are undefined"
        )
        return s
    curve = wh.df(s, "Pareto curve", PARETO_SQL)
    s.say(
        "Among {buyers} buyers (revenue {revenue}), the top 1% make {t1} of revenue, the top 10% "
        "{t10} and the top 20% {t20}. {share_for_target} of buyers ({n_for_target}) make "
        "{target} of revenue; the Gini coefficient of revenue among buyers is {gini}.",
        buyers=s.metric("buyers", clean(conc["buyers"]), "int"),
        revenue=s.metric("total_revenue", clean(conc["total_revenue"]), "money"),
        t1=s.metric("top_1pct_revenue_share", clean(conc["top_1pct_revenue_share"]), "pct"),
        t10=s.metric("top_10pct_revenue_share", clean(conc["top_10pct_revenue_share"]), "pct"),
        t20=s.metric("top_20pct_revenue_share", clean(conc["top_20pct_revenue_share"]), "pct"),
        share_for_target=s.metric(
            "buyer_share_for_revenue_target", clean(conc["buyer_share_for_revenue_target"]), "pct"
        ),
        n_for_target=s.metric(
            "buyers_for_revenue_target", clean(conc["buyers_for_revenue_target"]), "int"
        ),
        target=s.metric("revenue_target_share", clean(conc["revenue_target_share"]), "pct"),
        gini=s.metric("revenue_gini", clean(conc["revenue_gini"]), "num3"),
    )
    s.charts.append(
        Chart(
            "pareto",
            "Pareto curve",
            charts.pareto(
                curve,
                clean(conc["top_20pct_revenue_share"]),
                clean(conc["revenue_target_share"]),
                clean(conc["buyer_share_for_revenue_target"]),
            ),
            "Cumulative revenue share by top buyer percentile, top 20% marked",
        )
    )
    return s


# --------------------------------------------------------------------------------------------
# Tier profile
# --------------------------------------------------------------------------------------------

TIER_SQL = """
select value_tier, tier_order, users, user_share, buyers, revenue, revenue_share,
       revenue_per_user, sessions_per_user, days_active_per_user, mean_session_seconds,
       view_to_cart_session_rate, cart_to_purchase_session_rate, avg_order_value,
       orders_per_buyer, repeat_purchase_rate, top_category
from marts.tier_profile
order by tier_order
"""


def build_tiers(wh: Warehouse) -> Section:
    s = Section(
        "tiers",
        "How do behaviours differ by value tier?",
        "Buyers are ranked by revenue: power is the top tier, then core, then light (cut-offs "
        "are the dbt vars power_tier_share and core_tier_share); browsers never bought.",
        ["marts.tier_profile"],
    )
    if not require(wh, s, {"marts.tier_profile": ["value_tier", "users", "revenue_share"]}):
        return s
    df = wh.df(s, "Tier profile", TIER_SQL)
    if not df["revenue"].fillna(0).any():
        s.missing(
            "no revenue (no buyer, or every price 0), so the tiers' revenue shares are undefined"
        )
    for r in df.itertuples():
        if not r.users:
            continue
        t = r.value_tier
        if t == "browser":
            s.say(
                "browser: {users} users ({share}) who never bought, {sessions} sessions each "
                "on average.",
                users=s.metric(f"{t}.users", clean(r.users), "int"),
                share=s.metric(f"{t}.user_share", clean(r.user_share), "pct"),
                sessions=s.metric(f"{t}.sessions_per_user", clean(r.sessions_per_user), "num"),
            )
            continue
        s.say(
            f"{t}: {{users}} users ({{share}} of users) bring {{rev_share}} of revenue, "
            "{rpu} per user, over {sessions} sessions and {days} active days each; average order "
            "value {aov}, {repeat} of them ordered more than once.",
            users=s.metric(f"{t}.users", clean(r.users), "int"),
            share=s.metric(f"{t}.user_share", clean(r.user_share), "pct"),
            rev_share=s.metric(f"{t}.revenue_share", clean(r.revenue_share), "pct"),
            rpu=s.metric(f"{t}.revenue_per_user", clean(r.revenue_per_user), "money"),
            sessions=s.metric(f"{t}.sessions_per_user", clean(r.sessions_per_user), "num"),
            days=s.metric(f"{t}.days_active_per_user", clean(r.days_active_per_user), "num"),
            aov=s.metric(f"{t}.avg_order_value", clean(r.avg_order_value), "money"),
            repeat=s.metric(f"{t}.repeat_purchase_rate", clean(r.repeat_purchase_rate), "pct"),
        )
    s.charts.append(
        Chart(
            "tier_profile",
            "Tier profile",
            charts.tier_profile(df),
            "Users, revenue, engagement and conversion by value tier",
        )
    )
    s.tables.append(
        Table(
            "marts.tier_profile (selected columns)",
            [
                "tier",
                "users",
                "revenue share",
                "revenue / user",
                "sessions / user",
                "mean session",
                "view → cart (sessions)",
                "cart → purchase (sessions)",
                "avg order value",
                "repeat rate",
                "top category",
            ],
            [
                [
                    r.value_tier,
                    fmt_int(r.users),
                    fmt_pct(r.revenue_share),
                    fmt_num(r.revenue_per_user),
                    fmt_num(r.sessions_per_user),
                    "n/a"
                    if pd.isna(r.mean_session_seconds)
                    else f"{r.mean_session_seconds:,.0f} s",
                    fmt_pct(r.view_to_cart_session_rate),
                    fmt_pct(r.cart_to_purchase_session_rate),
                    fmt_num(r.avg_order_value),
                    fmt_pct(r.repeat_purchase_rate),
                    r.top_category if isinstance(r.top_category, str) else "n/a",
                ]
                for r in df.itertuples()
            ],
        )
    )
    return s


# --------------------------------------------------------------------------------------------
# Segments and revenue at risk
# --------------------------------------------------------------------------------------------

SEGMENTS_SQL = """
select name, concern, is_risky, users, user_share, revenue, revenue_share, revenue_trend
from marts.segment_summary
where grouping = 'segment'
order by users desc
"""

RISK_TOTALS_SQL = """
select
    max(as_of_date) as as_of_date,
    sum(expected_revenue_at_risk) as expected_revenue_at_risk,
    coalesce(sum(users) filter (where is_high_value_high_risk), 0) as hv_users,
    coalesce(sum(expected_revenue_at_risk) filter (where is_high_value_high_risk), 0)
        as hv_expected_revenue_at_risk,
    coalesce(sum(expected_revenue_at_risk) filter (where is_high_value_high_risk), 0)
    / nullif(sum(expected_revenue_at_risk), 0) as hv_share
from (
    select
        *,
        value_tier in ('power', 'core') and churn_risk_band = 'high' as is_high_value_high_risk
    from marts.revenue_at_risk
)
"""

RISK_SEGMENTS_SQL = """
select segment, source, is_active, is_risky, users, user_share, clv_at_risk,
       backtest_precision, backtest_base_rate, backtest_lift, backtest_user_share,
       backtest_cutoffs
from marts.churn_risk_segments
order by is_active desc, source, case segment when 'at_risk_high_value' then 1
    when 'at_risk' then 2 else 3 end
"""

RISK_SQL = """
select as_of_date, value_tier, churn_risk_band, users, recent_revenue,
       churn_probability_mean, expected_revenue_at_risk
from marts.revenue_at_risk
order by value_tier, churn_risk_band
"""


def build_segments(wh: Warehouse) -> Section:
    s = Section(
        "segments",
        "Which segments are risky or unprofitable?",
        "Segment sizes and revenue, and the revenue expected to be lost to churn.",
        ["marts.segment_summary", "marts.churn_risk_segments", "marts.revenue_at_risk"],
    )
    if require(wh, s, {"marts.segment_summary": ["grouping", "name", "is_risky", "users"]}):
        seg = wh.df(s, "Segments (one label per user)", SEGMENTS_SQL)
        if not seg["revenue"].fillna(0).any():
            s.missing(
                "no revenue (no buyer, or every price 0), so the segments' revenue shares are "
                "undefined"
            )
        for r in seg[seg["is_risky"] & (seg["users"] > 0)].itertuples():
            s.say(
                f"{r.name} ({r.concern.replace('_', ' ')}): {{users}} users ({{share}}), "
                "{rev_share} of revenue; revenue trend (the last segment_trend_days days vs the "
                "same span before): {trend}.",
                users=s.metric(f"{r.name}.users", clean(r.users), "int"),
                share=s.metric(f"{r.name}.user_share", clean(r.user_share), "pct"),
                rev_share=s.metric(f"{r.name}.revenue_share", clean(r.revenue_share), "pct"),
                trend=s.metric(f"{r.name}.revenue_trend", clean(r.revenue_trend), "pct"),
            )
        s.charts.append(
            Chart(
                "segments",
                "Segment sizes and revenue",
                charts.segments(seg),
                "Share of users and of revenue per customer segment",
            )
        )
    if require(wh, s, {"marts.churn_risk_segments": ["segment", "source", "users"]}):
        build_risk_segments(wh, s)
    if require(
        wh,
        s,
        {"marts.revenue_at_risk": ["value_tier", "churn_risk_band", "expected_revenue_at_risk"]},
    ):
        risk = wh.df(s, "Expected revenue at risk by tier and churn risk band", RISK_SQL)
        t = wh.rows(s, "Totals: all buyers, and high-value buyers at high risk", RISK_TOTALS_SQL)[0]
        s.say(
            "At {date}, the expected revenue at risk (recent revenue × churn probability, summed "
            "over scored buyers) is {total}; high-value buyers (power or core) with a high churn "
            "risk are {hv_users} users carrying {hv_value} of it ({hv_share}).",
            date=s.metric("as_of_date", clean(t["as_of_date"]), "date"),
            total=s.metric(
                "expected_revenue_at_risk", clean(t["expected_revenue_at_risk"]), "money"
            ),
            hv_users=s.metric("high_value_high_risk.users", clean(t["hv_users"]), "int"),
            hv_value=s.metric(
                "high_value_high_risk.expected_revenue_at_risk",
                clean(t["hv_expected_revenue_at_risk"]),
                "money",
            ),
            hv_share=s.metric("high_value_high_risk.share", clean(t["hv_share"]), "pct"),
        )
        s.charts.append(
            Chart(
                "revenue_at_risk",
                "Revenue at risk",
                charts.revenue_at_risk(risk),
                "Expected revenue at risk by value tier, stacked by churn risk band",
            )
        )
    return s


def build_risk_segments(wh: Warehouse, s: Section) -> None:
    """The churn-risk segments at D: size, and precision in the backtest beside the base rate."""
    seg = wh.df(s, "Churn-risk segments (marts.churn_risk_segments)", RISK_SEGMENTS_SQL)
    active = seg[seg["is_active"]]
    if not active.empty and (active["source"] == "rule").all():
        s.say(
            "The churn or CLV model was skipped, so the churn-risk segments fall back to the "
            "rule of customer_segments (power or core buyers past their usual gap)."
        )
    for r in seg[seg["is_risky"]].itertuples():
        key = f"risk.{r.source}.{r.segment}"
        label = ("the model's" if r.source == "model" else "the rule's") + " " + r.segment
        if clean(r.backtest_precision) is None:
            s.say(
                f"{label}: {{users}} buyers ({{share}}); not judged in a backtest.",
                users=s.metric(f"{key}.users", clean(r.users), "int"),
                share=s.metric(f"{key}.user_share", clean(r.user_share), "pct"),
            )
            continue
        s.say(
            f"{label}: {{users}} buyers ({{share}} of buyers); in the rolling backtest "
            "({n} cutoffs) {precision} of such buyers stopped buying in the next horizon, "
            "against a base rate of {base} (lift {lift}).",
            users=s.metric(f"{key}.users", clean(r.users), "int"),
            share=s.metric(f"{key}.user_share", clean(r.user_share), "pct"),
            n=s.metric(f"{key}.backtest_cutoffs", clean(r.backtest_cutoffs), "int"),
            precision=s.metric(f"{key}.precision", clean(r.backtest_precision), "pct"),
            base=s.metric(f"{key}.base_rate", clean(r.backtest_base_rate), "pct"),
            lift=s.metric(f"{key}.lift", clean(r.backtest_lift), "num"),
        )
    s.tables.append(
        Table(
            "Churn-risk segments at the prediction date, and their backtest",
            ["segment", "source", "active", "buyers", "share", "CLV at risk",
             "backtest precision", "base rate", "lift"],
            [
                [r.segment, r.source, "yes" if r.is_active else "no", fmt_int(r.users),
                 fmt_pct(r.user_share), fmt_num(r.clv_at_risk, 0), fmt_pct(r.backtest_precision),
                 fmt_pct(r.backtest_base_rate), fmt_num(r.backtest_lift, 2)]
                for r in seg.itertuples()
            ],
        )
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

RUNS_SQL = """
select target, status, reason, horizon_days, cutoff_count, skipped_cutoff_count,
       first_cutoff_date, last_cutoff_date, train_snapshot_dates, prediction_as_of_date,
       evaluation_rows
from ml.model_runs
order by case target when 'big_spender' then 1 when 'churn' then 2 else 3 end
"""

SKIPPED_CUTOFFS_SQL = """
select target, cutoff_date, reason
from ml.backtest_cutoffs
where status = 'skipped'
order by target, cutoff_date
"""

# The mean over the rolling backtest's cutoffs of each figure, per model and baseline.
METRICS_SQL = """
select
    target,
    model,
    is_baseline,
    max(value) filter (where metric = 'roc_auc' and statistic = 'mean') as roc_auc,
    max(value) filter (where metric = 'roc_auc' and statistic = 'std') as roc_auc_std,
    max(value) filter (where metric = 'pr_auc' and statistic = 'mean') as pr_auc,
    max(value) filter (where metric = 'brier' and statistic = 'mean') as brier,
    max(value) filter (where metric = 'log_loss' and statistic = 'mean') as log_loss,
    max(value) filter (where metric = 'lift_at_10pct' and statistic = 'mean') as lift_at_10pct,
    max(value) filter (where metric = 'positives' and statistic = 'mean') as positives,
    max(cutoffs) as cutoffs
from ml.model_metrics
where evaluation = 'backtest' and target in ('churn', 'big_spender')
group by target, model, is_baseline
order by target desc, is_baseline, roc_auc desc
"""

CUTOFF_AUC_SQL = """
select target, model, is_baseline, cutoff_date, value as roc_auc
from ml.model_metrics
where evaluation = 'backtest' and metric = 'roc_auc' and statistic = 'cutoff'
    and target in ('churn', 'big_spender')
order by target desc, model, cutoff_date
"""

VERSUS_BASELINE_SQL = """
with calibrated as (
    select
        target,
        model,
        max(value) filter (where metric = 'brier' and statistic = 'mean') as brier,
        max(value) filter (where metric = 'log_loss' and statistic = 'mean') as log_loss,
        max(value) filter (where metric = 'expected_calibration_error' and statistic = 'mean')
            as ece,
        max(cutoffs) as cutoffs
    from ml.model_metrics
    where evaluation = 'backtest_calibrated'
    group by target, model
),

raw as (
    select
        target,
        model,
        max(value) filter (where metric = 'brier' and statistic = 'cutoff') as brier,
        max(value) filter (where metric = 'log_loss' and statistic = 'cutoff') as log_loss,
        max(value) filter (where metric = 'expected_calibration_error' and statistic = 'cutoff')
            as ece
    from ml.model_metrics
    where evaluation = 'backtest'
        and (target, cutoff_date) in (
            select target, cutoff_date from ml.model_metrics
            where evaluation = 'backtest_calibrated' and statistic = 'cutoff'
        )
    group by target, model, cutoff_date
),

raw_mean as (
    select target, model, avg(brier) as brier, avg(log_loss) as log_loss, avg(ece) as ece
    from raw
    group by target, model
)

select
    r.target,
    r.champion_model,
    r.champion_is_baseline,
    r.champion_roc_auc,
    r.champion_roc_auc_std,
    r.cutoff_count,
    r.runner_up_model,
    r.champion_margin_roc_auc,
    r.best_baseline_model as baseline,
    r.best_baseline_roc_auc as baseline_roc_auc,
    r.champion_margin_over_baseline_roc_auc,
    r.calibration_method,
    c.brier as calibrated_brier,
    c.log_loss as calibrated_log_loss,
    c.ece as calibrated_ece,
    c.cutoffs as calibrated_cutoffs,
    m.brier as raw_brier,
    m.log_loss as raw_log_loss,
    m.ece as raw_ece
from ml.model_runs as r
left join calibrated as c on r.target = c.target and r.champion_model = c.model
left join raw_mean as m on r.target = m.target and r.champion_model = m.model
where r.status = 'ok' and r.target in ('churn', 'big_spender')
order by r.target desc
"""

CLV_SQL = """
select
    model,
    max(value) filter (where metric = 'spearman' and statistic = 'mean') as spearman,
    max(value) filter (where metric = 'top_10pct_revenue_capture' and statistic = 'mean')
        as capture,
    max(value) filter (where metric = 'revenue_ratio' and statistic = 'mean') as revenue_ratio,
    max(cutoffs) as cutoffs
from ml.model_metrics
where target = 'clv' and evaluation = 'backtest'
group by model
"""

CLV_TOTALS_SQL = """
select count(*) as buyers, sum(clv) as clv, sum(expected_revenue) as expected_revenue,
       median(clv) as median_clv
from ml.customer_lifetime_value
"""

IMPORTANCE_SQL = f"""
select target, model, feature, importance, importance_std
from ml.feature_importance
where model = 'hist_gradient_boosting'
qualify row_number() over (partition by target order by importance desc, feature) <= {TOP_FEATURES}
order by target desc, importance desc
"""


def build_models(wh: Warehouse) -> Section:
    s = Section(
        "models",
        "Can we predict big spenders and churn?",
        "Rolling-origin backtest: at each cutoff, trained on older snapshots whose outcomes were "
        "known by then and judged on the next period, beside simple baselines; the champion's "
        "probabilities are calibrated on that backtest.",
        [
            "ml.model_runs",
            "ml.backtest_cutoffs",
            "ml.model_metrics",
            "ml.customer_lifetime_value",
            "ml.feature_importance",
        ],
    )
    if require(wh, s, {"ml.model_runs": ["target", "status", "reason", "cutoff_count"]}):
        for r in wh.rows(s, "Model runs", RUNS_SQL):
            t = r["target"]
            if r["status"] != "ok":
                s.missing(f"the {t} model was skipped: {r['reason']}")
                continue
            name = "customer lifetime value" if t == "clv" else t.replace("_", " ")
            s.say(
                f"{name}: horizon {{h}} days; rolling backtest over {{n}} cutoffs from {{first}} "
                "to {last} ({skipped} skipped), {rows} users judged in all; predictions as of "
                "{pred}.",
                h=s.metric(f"{t}.horizon_days", clean(r["horizon_days"]), "int"),
                n=s.metric(f"{t}.cutoff_count", clean(r["cutoff_count"]), "int"),
                first=s.metric(f"{t}.first_cutoff_date", clean(r["first_cutoff_date"]), "date"),
                last=s.metric(f"{t}.last_cutoff_date", clean(r["last_cutoff_date"]), "date"),
                skipped=s.metric(
                    f"{t}.skipped_cutoff_count", clean(r["skipped_cutoff_count"]), "int"
                ),
                rows=s.metric(f"{t}.evaluation_rows", clean(r["evaluation_rows"]), "int"),
                pred=s.metric(
                    f"{t}.prediction_as_of_date", clean(r["prediction_as_of_date"]), "date"
                ),
            )
    if wh.exists("ml.backtest_cutoffs"):
        for r in wh.rows(s, "Cutoffs skipped, with the reason", SKIPPED_CUTOFFS_SQL):
            s.say(
                f"{r['target'].replace('_', ' ')}: cutoff {{c}} skipped: {r['reason']}.",
                c=s.metric(f"{r['target']}.skipped.{r['cutoff_date']}", clean(r["cutoff_date"]),
                           "date"),
            )  # fmt: skip
    if require(
        wh,
        s,
        {"ml.model_metrics": ["target", "model", "is_baseline", "metric", "value", "statistic"]},
    ):
        mm = wh.df(s, "Backtest metrics per model (mean over the cutoffs)", METRICS_SQL)
        for m in wh.rows(
            s, "The champion against the runner-up and the best baseline", VERSUS_BASELINE_SQL
        ):
            target = m["target"]
            winner = "the baseline" if m["champion_is_baseline"] else "the model"
            s.say(
                f"{target.replace('_', ' ')}: {winner} {{champion}} wins the rolling backtest "
                "and writes the predictions: mean ROC AUC {auc} (standard deviation {std} over "
                "{n} cutoffs), {margin} ahead of the runner-up {runner_up} and {over_base} ahead "
                "of the best baseline {base_name} ({base_auc}).",
                champion=s.metric(f"{target}.champion.model", m["champion_model"], "text"),
                auc=s.metric(f"{target}.champion.roc_auc", clean(m["champion_roc_auc"]), "num3"),
                std=s.metric(
                    f"{target}.champion.roc_auc_std", clean(m["champion_roc_auc_std"]), "num3"
                ),
                n=s.metric(f"{target}.champion.cutoffs", clean(m["cutoff_count"]), "int"),
                margin=s.metric(
                    f"{target}.champion.margin_roc_auc", clean(m["champion_margin_roc_auc"]), "num3"
                ),
                runner_up=s.metric(f"{target}.runner_up.model", m["runner_up_model"], "text"),
                over_base=s.metric(
                    f"{target}.champion.margin_over_baseline_roc_auc",
                    clean(m["champion_margin_over_baseline_roc_auc"]),
                    "num3",
                ),
                base_name=s.metric(f"{target}.best_baseline.model", m["baseline"], "text"),
                base_auc=s.metric(
                    f"{target}.best_baseline.roc_auc", clean(m["baseline_roc_auc"]), "num3"
                ),
            )
            if clean(m["calibrated_cutoffs"]) is None:
                s.missing(
                    f"{target}: no cutoff had an earlier one to calibrate on, so the calibrated "
                    "probabilities are not judged out of time"
                )
                continue
            s.say(
                f"{target.replace('_', ' ')}: its probabilities are calibrated ({{method}}) on "
                "the backtest; judged out of time on {cn} cutoffs (each calibrated on the "
                "earlier ones), Brier score {brier} (uncalibrated {raw_brier}), log loss {ll} "
                "({raw_ll}), expected calibration error {ece} ({raw_ece}).",
                method=s.metric(f"{target}.calibration_method", m["calibration_method"], "text"),
                cn=s.metric(f"{target}.calibrated.cutoffs", clean(m["calibrated_cutoffs"]), "int"),
                brier=s.metric(f"{target}.calibrated.brier", clean(m["calibrated_brier"]), "num4"),
                raw_brier=s.metric(f"{target}.raw.brier", clean(m["raw_brier"]), "num4"),
                ll=s.metric(f"{target}.calibrated.log_loss", clean(m["calibrated_log_loss"]),
                            "num4"),
                raw_ll=s.metric(f"{target}.raw.log_loss", clean(m["raw_log_loss"]), "num4"),
                ece=s.metric(f"{target}.calibrated.ece", clean(m["calibrated_ece"]), "num4"),
                raw_ece=s.metric(f"{target}.raw.ece", clean(m["raw_ece"]), "num4"),
            )  # fmt: skip
        if not mm.empty:
            s.charts.append(
                Chart(
                    "model_metrics",
                    "Model metrics beside baselines",
                    charts.model_metrics(mm),
                    "Mean ROC AUC and PR AUC over the backtest cutoffs per model and baseline",
                )
            )
            s.tables.append(
                Table(
                    "ml.model_metrics (rolling backtest, mean over the cutoffs)",
                    ["target", "model", "baseline", "ROC AUC", "± std", "PR AUC", "Brier",
                     "log loss", "lift @10%", "cutoffs"],
                    [
                        [
                            r.target,
                            r.model,
                            "yes" if r.is_baseline else "no",
                            fmt_num(r.roc_auc, 3),
                            fmt_num(r.roc_auc_std, 3),
                            fmt_num(r.pr_auc, 3),
                            fmt_num(r.brier, 4),
                            fmt_num(r.log_loss, 4),
                            fmt_num(r.lift_at_10pct, 2),
                            fmt_int(r.cutoffs),
                        ]
                        for r in mm.itertuples()
                    ],
                )
            )  # fmt: skip
        per_cutoff = wh.df(s, "Backtest ROC AUC per cutoff", CUTOFF_AUC_SQL)
        if not per_cutoff.empty:
            dates = sorted(per_cutoff["cutoff_date"].unique())
            table = per_cutoff.pivot_table(
                index=["target", "model", "is_baseline"], columns="cutoff_date", values="roc_auc"
            )
            s.tables.append(
                Table(
                    "ROC AUC per backtest cutoff",
                    ["target", "model", "baseline", *[str(d)[:10] for d in dates]],
                    [
                        [target, model, "yes" if base else "no",
                         *[fmt_num(row.get(d), 3) for d in dates]]
                        for (target, model, base), row in table.sort_index(
                            ascending=[False, True, True]).iterrows()
                    ],
                )
            )  # fmt: skip
            s.charts.append(
                Chart(
                    "backtest_cutoffs",
                    "ROC AUC per backtest cutoff",
                    charts.backtest_cutoffs(per_cutoff),
                    "Out-of-time ROC AUC of every model and baseline at each cutoff",
                )
            )
        clv = {r["model"]: r for r in wh.rows(s, "CLV backtest (mean over the cutoffs)", CLV_SQL)}
        if {"bg_nbd_gamma_gamma", "past_revenue"} <= set(clv):
            model, base = clv["bg_nbd_gamma_gamma"], clv["past_revenue"]
            s.say(
                "customer lifetime value (BG/NBD x Gamma-Gamma): over {n} cutoffs, the 10% of "
                "buyers with the highest expected revenue brought in {capture} of the revenue of "
                "the next horizon (the top 10% by past revenue: {base_capture}); Spearman "
                "correlation with the realised revenue {rho} (past revenue: {base_rho}); expected "
                "over realised revenue {ratio}.",
                n=s.metric("clv.backtest_cutoffs", clean(model["cutoffs"]), "int"),
                capture=s.metric("clv.top_10pct_revenue_capture", clean(model["capture"]), "pct"),
                base_capture=s.metric(
                    "clv.past_revenue.top_10pct_revenue_capture", clean(base["capture"]), "pct"
                ),
                rho=s.metric("clv.spearman", clean(model["spearman"]), "corr"),
                base_rho=s.metric("clv.past_revenue.spearman", clean(base["spearman"]), "corr"),
                ratio=s.metric("clv.revenue_ratio", clean(model["revenue_ratio"]), "num"),
            )
    if wh.problem("ml.customer_lifetime_value", ["clv"]) is None:
        t = wh.rows(s, "CLV at D", CLV_TOTALS_SQL)[0]
        s.say(
            "At the prediction date, {buyers} buyers carry a lifetime value of {clv} (median "
            "{median} per buyer) and an expected revenue of {revenue} over the next horizon.",
            buyers=s.metric("clv.buyers", clean(t["buyers"]), "int"),
            clv=s.metric("clv.total", clean(t["clv"]), "money"),
            median=s.metric("clv.median", clean(t["median_clv"]), "money2"),
            revenue=s.metric("clv.expected_revenue", clean(t["expected_revenue"]), "money"),
        )
    if require(wh, s, {"ml.feature_importance": ["target", "model", "feature", "importance"]}):
        fi = wh.df(s, f"Top {TOP_FEATURES} features per target", IMPORTANCE_SQL)
        if "importance_std" not in fi:
            fi["importance_std"] = 0.0
        for target in fi["target"].unique():
            top = fi[fi["target"] == target].iloc[0]
            s.say(
                f"{target.replace('_', ' ')}: the most important feature is {{feature}} (ROC AUC "
                "drops by {drop} when it is shuffled, at the latest cutoff).",
                feature=s.metric(f"{target}.top_feature", top["feature"], "text"),
                drop=s.metric(f"{target}.top_feature_importance", clean(top["importance"]), "num4"),
            )
        if not fi.empty:
            s.charts.append(
                Chart(
                    "feature_importance",
                    "Top features",
                    charts.feature_importance(fi),
                    "Permutation importance of the top features per target",
                )
            )
    return s


# --------------------------------------------------------------------------------------------
# Data quality
# --------------------------------------------------------------------------------------------

FILES_SQL = """
with clean_rows as (
    select source_file, count(*) as clean_rows
    from staging.stg_events
    group by source_file
),

quarantined as (
    select source_file, count(*) as quarantined_rows
    from staging.quarantined_events
    group by source_file
)

select
    coalesce(c.source_file, q.source_file) as source_file,
    coalesce(c.clean_rows, 0) as clean_rows,
    coalesce(q.quarantined_rows, 0) as quarantined_rows
from clean_rows as c
full outer join quarantined as q on c.source_file = q.source_file
order by 1
"""

REASONS_SQL = """
select reason, count(*) as rows
from staging.quarantined_events
group by reason
order by rows desc
"""

RANGE_SQL = """
select min(event_time) as first_event_at, max(event_time) as last_event_at,
       count(distinct event_date) as days, count(*) as events
from staging.stg_events
"""

TOTALS_SQL = """
with counts as (
    select
        (select count(*) from staging.stg_events) as clean_rows,
        (select count(*) from staging.quarantined_events) as quarantined_rows,
        (
            select count(*) from (
                select source_file from staging.stg_events
                union
                select source_file from staging.quarantined_events
            )
        ) as files
)

select
    files,
    clean_rows,
    quarantined_rows,
    clean_rows + quarantined_rows as raw_rows,
    quarantined_rows / nullif(clean_rows + quarantined_rows, 0) as quarantined_share
from counts
"""

DAILY_SQL = """
select event_date, sum(events) as events
from intermediate.int_user_days
group by event_date
order by event_date
"""


def build_quality(wh: Warehouse) -> Section:
    s = Section(
        "quality",
        "Data quality",
        "How many raw rows were kept, how many were quarantined and why, and which dates the "
        "data covers.",
        ["staging.stg_events", "staging.quarantined_events", "intermediate.int_user_days"],
    )
    if not require(wh, s, {"staging.stg_events": ["source_file", "event_time"]}):
        return s
    has_quarantine = wh.exists("staging.quarantined_events")
    if not has_quarantine:
        s.missing("staging.quarantined_events is missing from the warehouse")
        files = wh.df(
            s,
            "Clean rows per file",
            "select source_file, count(*) as clean_rows, 0 as quarantined_rows "
            "from staging.stg_events group by source_file order by 1",
        )
        reasons = pd.DataFrame({"reason": [], "rows": []})
    else:
        files = wh.df(s, "Clean and quarantined rows per file", FILES_SQL)
        reasons = wh.df(s, "Quarantined rows by reason", REASONS_SQL)
    rng = wh.rows(s, "Date range of clean events", RANGE_SQL)[0]
    if has_quarantine:
        t = wh.rows(s, "Row counts", TOTALS_SQL)[0]
        s.say(
            "{raw} raw rows in {files} file(s): {clean} clean events in staging.stg_events and "
            "{quarantined} quarantined ({q_share}).",
            raw=s.metric("raw_rows", clean(t["raw_rows"]), "int"),
            files=s.metric("files", clean(t["files"]), "int"),
            clean=s.metric("clean_rows", clean(t["clean_rows"]), "int"),
            quarantined=s.metric("quarantined_rows", clean(t["quarantined_rows"]), "int"),
            q_share=s.metric("quarantined_share", clean(t["quarantined_share"]), "pct2"),
        )
    else:
        s.say(
            "{clean} clean events in staging.stg_events.",
            clean=s.metric("clean_rows", clean(rng["events"]), "int"),
        )
    s.say(
        "Clean events run from {first} to {last} (UTC) and cover {days} distinct days.",
        first=s.metric("first_event_at", clean(rng["first_event_at"]), "datetime"),
        last=s.metric("last_event_at", clean(rng["last_event_at"]), "datetime"),
        days=s.metric("days", clean(rng["days"]), "int"),
    )
    for r in reasons.itertuples():
        s.say(
            f"Quarantine reason {r.reason}: {{rows}} rows.",
            rows=s.metric(f"reason.{r.reason}", clean(r.rows), "int"),
        )
    if has_quarantine and reasons.empty:
        s.say("No row was quarantined.")
    files["file_name"] = [str(p).rsplit("/", 1)[-1] for p in files["source_file"]]
    if wh.exists("intermediate.int_user_days"):
        daily = wh.df(s, "Clean events per day", DAILY_SQL)
    else:
        daily = wh.df(
            s,
            "Clean events per day",
            "select event_date, count(*) as events from staging.stg_events group by 1 order by 1",
        )
    s.charts.append(
        Chart(
            "data_quality",
            "Clean and quarantined rows",
            charts.data_quality(files, reasons, daily),
            "Rows per file, quarantined rows by reason and clean events per day",
        )
    )
    s.tables.append(
        Table(
            "Rows per source file",
            ["file", "clean rows", "quarantined rows"],
            [
                [r.file_name, fmt_int(r.clean_rows), fmt_int(r.quarantined_rows)]
                for r in files.itertuples()
            ],
        )
    )
    return s


SECTION_BUILDERS: list[Builder] = [
    build_funnel,
    build_funnel_dimensions,
    build_time_to_action,
    build_engagement,
    build_pareto,
    build_tiers,
    build_segments,
    *product.PRODUCT_BUILDERS,
    build_models,
    build_quality,
]
