"""The brief's four claims, each tested on the warehouse by a stated rule.

Each claim gets the evidence read from the marts, the rule (with its thresholds, filled from
`ClaimRules`), and a verdict: holds, does not hold, or not enough data.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
from markupsafe import Markup

from warehouse import report_charts as charts
from warehouse.report_model import (
    VERDICT_FAILS,
    VERDICT_HOLDS,
    VERDICT_UNKNOWN,
    Chart,
    Section,
    Verdict,
    Warehouse,
    clean,
    say,
)


@dataclass(frozen=True)
class ClaimRules:
    min_users: int = 30  # fewer users (or measured pairs) than this: not enough data
    claimed_top20_share: float = 0.84  # the brief: 20% of buyers drive 84% of revenue
    top20_tolerance: float = 0.05  # holds within +- 5 percentage points
    min_spearman: float = 0.1  # a leading indicator needs a rank correlation above this
    high_tier: str = "power"
    low_tier: str = "light"


RULES = ClaimRules()

# The brief's words (analysis-brief.md, "Key Insights"): the claims under test.
CLAIM_TEXT = {
    "a": "The funnel leaks most at view → cart.",
    "b": "High-value users take more time to act, yet are more deliberate and profitable.",
    "c": "Power buyers are only 20% of buyers, but drive 84% of total revenue.",
    "d": "Engagement ratios like cart/view and the purchasing-session ratio are leading "
    "indicators of value.",
}


def _verdict(checks: list[bool | None]) -> str:
    """None in checks = not measurable; all True = holds."""
    if any(c is None for c in checks):
        return VERDICT_UNKNOWN
    return VERDICT_HOLDS if all(checks) else VERDICT_FAILS


def _not_enough(reason: str) -> list[Markup]:
    """The evidence of a claim that cannot be tested, with the reason."""
    return [say("Not computed, not enough data: {r}.", r=reason.rstrip("."))]


def _yes_no(check: bool | None) -> str:
    return {True: "yes", False: "no", None: "not measurable"}[check]


# --------------------------------------------------------------------------------------------
# (a) the funnel leaks most at view -> cart
# --------------------------------------------------------------------------------------------

CLAIM_A_SQL = """
select stage, entities_reached, entities_ordered, drop_off_share
from marts.funnel_summary
where level = 'user'
order by stage_order
"""


def claim_a(wh: Warehouse, s: Section, rules: ClaimRules) -> Verdict:
    claim = CLAIM_TEXT["a"]
    rule = say(
        "Holds when the user-level drop-off share at view → cart (viewers who never carted after "
        "a view) is larger than at cart → purchase (users who carted in order but never bought "
        "after it), with at least {n} viewing users; from marts.funnel_summary.",
        n=s.metric("a.rule.min_users", rules.min_users, "int"),
    )
    problem = wh.problem("marts.funnel_summary", ["level", "stage", "drop_off_share"])
    if problem:
        return Verdict("a", claim, rule, VERDICT_UNKNOWN, _not_enough(problem))
    d = wh.df(s, "(a) User-level drop-off per step", CLAIM_A_SQL).set_index("stage")
    if not {"view", "cart", "purchase"} <= set(d.index):
        return Verdict(
            "a",
            claim,
            rule,
            VERDICT_UNKNOWN,
            _not_enough("the user-level funnel is incomplete"),
        )
    viewers = clean(d.loc["view", "entities_reached"])
    cart_drop = clean(d.loc["cart", "drop_off_share"])
    buy_drop = clean(d.loc["purchase", "drop_off_share"])
    check = None
    if viewers and viewers >= rules.min_users and cart_drop is not None and buy_drop is not None:
        check = cart_drop > buy_drop
    evidence = [
        say(
            "{cart_drop} of {viewers} viewing users never carted after a view; {buy_drop} of the "
            "{carters} users who carted in order never bought after it.",
            cart_drop=s.metric("a.view_to_cart_drop_off", cart_drop, "pct"),
            viewers=s.metric("a.viewers", viewers, "int"),
            buy_drop=s.metric("a.cart_to_purchase_drop_off", buy_drop, "pct"),
            carters=s.metric("a.carters", clean(d.loc["cart", "entities_ordered"]), "int"),
        )
    ]
    return Verdict("a", claim, rule, _verdict([check]), evidence)


# --------------------------------------------------------------------------------------------
# (b) high-value users take more time, yet are more deliberate and profitable
# --------------------------------------------------------------------------------------------

CLAIM_B_SPEED_SQL = """
with pairs as (
    select v.value_tier, 'view_to_cart' as step, sp.view_to_cart_seconds as seconds
    from intermediate.int_session_products as sp
    inner join marts.customer_value as v on sp.user_id = v.user_id
    where sp.view_to_cart_seconds is not null
    union all
    select v.value_tier, 'cart_to_purchase' as step, sp.cart_to_purchase_seconds as seconds
    from intermediate.int_session_products as sp
    inner join marts.customer_value as v on sp.user_id = v.user_id
    where sp.cart_to_purchase_seconds is not null
)

select
    value_tier,
    step,
    count(*) as session_products,
    quantile_cont(seconds, 0.25) as p25_seconds,
    quantile_cont(seconds, 0.5) as p50_seconds,
    quantile_cont(seconds, 0.75) as p75_seconds,
    quantile_cont(seconds, 0.9) as p90_seconds,
    avg(seconds) as mean_seconds
from pairs
group by value_tier, step
"""

CLAIM_B_TIER_SQL = """
select value_tier, tier_order, users, revenue_per_user, avg_order_value,
       cart_to_purchase_session_rate
from marts.tier_profile
order by tier_order
"""


def claim_b(wh: Warehouse, s: Section, rules: ClaimRules) -> Verdict:
    hi, lo = rules.high_tier, rules.low_tier
    claim = CLAIM_TEXT["b"]
    rule = say(
        "High-value = the {hi} tier, compared with the {lo} tier (buyers with the least revenue). "
        "Holds when all three parts hold: (1) more time: the {hi} tier's median seconds from "
        "first view to first cart AND from first cart to first purchase of a product in a "
        "session are both longer than the {lo} tier's; (2) more deliberate: a larger share of "
        "the {hi} tier's carting sessions end in a purchase (cart → purchase session rate); "
        "(3) more profitable: a higher average order value. Not enough data when a tier has "
        "fewer than {n} measured session-products per step. Sources: "
        "intermediate.int_session_products joined to marts.customer_value, and marts.tier_profile.",
        hi=s.metric("b.rule.high_tier", hi, "text"),
        lo=s.metric("b.rule.low_tier", lo, "text"),
        n=s.metric("b.rule.min_pairs", rules.min_users, "int"),
    )
    problems = [
        p
        for p in (
            wh.problem(
                "intermediate.int_session_products",
                ["user_id", "view_to_cart_seconds", "cart_to_purchase_seconds"],
            ),
            wh.problem("marts.customer_value", ["user_id", "value_tier"]),
            wh.problem("marts.tier_profile", ["value_tier", "cart_to_purchase_session_rate"]),
        )
        if p
    ]
    if problems:
        return Verdict("b", claim, rule, VERDICT_UNKNOWN, _not_enough("; ".join(problems)))
    speed = wh.df(s, "(b) Time to action by value tier", CLAIM_B_SPEED_SQL)
    tiers = wh.df(s, "(b) Conversion and order value by tier", CLAIM_B_TIER_SQL)
    tiers = tiers.set_index("value_tier")

    def p50(tier: str, step: str) -> tuple[float | None, int]:
        row = speed[(speed["value_tier"] == tier) & (speed["step"] == step)]
        if row.empty:
            return None, 0
        return clean(row["p50_seconds"].iloc[0]), int(row["session_products"].iloc[0])

    evidence = []
    slower: list[bool | None] = []
    for step, words in (("view_to_cart", "view → cart"), ("cart_to_purchase", "cart → purchase")):
        (hi_p50, hi_n), (lo_p50, lo_n) = p50(hi, step), p50(lo, step)
        enough = hi_n >= rules.min_users and lo_n >= rules.min_users
        slower.append(hi_p50 > lo_p50 if enough and None not in (hi_p50, lo_p50) else None)
        evidence.append(
            say(
                f"Median {words}: {{hi_p50}} for {hi} ({{hi_n}} session-products) vs {{lo_p50}} "
                f"for {lo} ({{lo_n}}).",
                hi_p50=s.metric(f"b.{hi}.{step}.p50_seconds", hi_p50, "seconds"),
                hi_n=s.metric(f"b.{hi}.{step}.session_products", hi_n, "int"),
                lo_p50=s.metric(f"b.{lo}.{step}.p50_seconds", lo_p50, "seconds"),
                lo_n=s.metric(f"b.{lo}.{step}.session_products", lo_n, "int"),
            )
        )
    more_time = None if None in slower else all(slower)

    def tier_value(tier: str, col: str):
        return clean(tiers.loc[tier, col]) if tier in tiers.index else None

    hi_rate, lo_rate = (tier_value(t, "cart_to_purchase_session_rate") for t in (hi, lo))
    hi_aov, lo_aov = (tier_value(t, "avg_order_value") for t in (hi, lo))
    deliberate = hi_rate > lo_rate if None not in (hi_rate, lo_rate) else None
    profitable = hi_aov > lo_aov if None not in (hi_aov, lo_aov) else None
    evidence.append(
        say(
            f"Carting sessions ending in a purchase: {{hi_rate}} for {hi} vs {{lo_rate}} for "
            f"{lo}. Average order value: {{hi_aov}} vs {{lo_aov}}; revenue per user: {{hi_rpu}} "
            "vs {lo_rpu}.",
            hi_rate=s.metric(f"b.{hi}.cart_to_purchase_session_rate", hi_rate, "pct"),
            lo_rate=s.metric(f"b.{lo}.cart_to_purchase_session_rate", lo_rate, "pct"),
            hi_aov=s.metric(f"b.{hi}.avg_order_value", hi_aov, "money2"),
            lo_aov=s.metric(f"b.{lo}.avg_order_value", lo_aov, "money2"),
            hi_rpu=s.metric(
                f"b.{hi}.revenue_per_user", tier_value(hi, "revenue_per_user"), "money2"
            ),
            lo_rpu=s.metric(
                f"b.{lo}.revenue_per_user", tier_value(lo, "revenue_per_user"), "money2"
            ),
        )
    )
    evidence.append(
        say(
            "Parts: more time: {t}; more deliberate: {d}; more profitable: {p}.",
            t=s.metric("b.part.more_time", _yes_no(more_time), "text"),
            d=s.metric("b.part.more_deliberate", _yes_no(deliberate), "text"),
            p=s.metric("b.part.more_profitable", _yes_no(profitable), "text"),
        )
    )
    if not speed.empty:
        order = {t: i for i, t in enumerate(("power", "core", "light", "browser"))}
        chart_df = speed.assign(
            label=speed["value_tier"], _o=speed["value_tier"].map(order).fillna(9)
        ).sort_values(["step", "_o"])
        s.charts.append(
            Chart(
                "claim_b_time_by_tier",
                "(b) Time to action by value tier",
                charts.tier_speed(chart_df),
                "Percentiles of seconds from view to cart and cart to purchase by value tier",
            )
        )
    return Verdict("b", claim, rule, _verdict([more_time, deliberate, profitable]), evidence)


# --------------------------------------------------------------------------------------------
# (c) power buyers are 20% of buyers but drive 84% of revenue
# --------------------------------------------------------------------------------------------

CLAIM_C_SQL = """
select buyers, top_20pct_revenue_share, buyer_share_for_revenue_target, revenue_target_share
from marts.revenue_concentration
"""


def claim_c(wh: Warehouse, s: Section, rules: ClaimRules) -> Verdict:
    claim = CLAIM_TEXT["c"]
    rule = say(
        "Holds when the revenue share of the top 20% of buyers (marts.revenue_concentration) is "
        "within ±{tol} points of {claimed}, with at least {n} buyers.",
        tol=s.metric("c.rule.tolerance_points", rules.top20_tolerance * 100, "num1"),
        claimed=s.metric("c.rule.claimed_share", rules.claimed_top20_share, "pct"),
        n=s.metric("c.rule.min_buyers", rules.min_users, "int"),
    )
    problem = wh.problem("marts.revenue_concentration", ["buyers", "top_20pct_revenue_share"])
    if problem:
        return Verdict("c", claim, rule, VERDICT_UNKNOWN, _not_enough(problem))
    r = wh.rows(s, "(c) Top-20% revenue share", CLAIM_C_SQL)[0]
    share, buyers = clean(r["top_20pct_revenue_share"]), clean(r["buyers"])
    check = None
    if share is not None and buyers and buyers >= rules.min_users:
        check = abs(share - rules.claimed_top20_share) <= rules.top20_tolerance + 1e-12
    gap = None if share is None else (share - rules.claimed_top20_share) * 100
    evidence = [
        say(
            "The top 20% of {buyers} buyers make {share} of revenue ({gap} percentage points from "
            "the claim); "
            "{target_buyers} of buyers make {target} of it.",
            buyers=s.metric("c.buyers", buyers, "int"),
            share=s.metric("c.top_20pct_revenue_share", share, "pct"),
            gap=s.metric("c.gap_points", gap, "points"),
            target_buyers=s.metric(
                "c.buyer_share_for_revenue_target",
                clean(r["buyer_share_for_revenue_target"]),
                "pct",
            ),
            target=s.metric("c.revenue_target_share", clean(r["revenue_target_share"]), "pct"),
        )
    ]
    return Verdict("c", claim, rule, _verdict([check]), evidence)


# --------------------------------------------------------------------------------------------
# (d) engagement ratios are leading indicators of value
# --------------------------------------------------------------------------------------------

CLAIM_D_BASE = """
with cutoff as (
    select min(as_of_date) as as_of_date
    from ml.ml_snapshot_labels
    where label_window_observed
),

paired as (
    select
        f.user_id,
        f.as_of_date,
        l.horizon_days,
        f.cart_to_view_rate_all as cart_view_ratio,
        f.purchasing_session_rate_all as purchasing_session_ratio,
        l.future_revenue
    from intermediate.int_customer_feature_snapshots as f
    inner join cutoff as c on f.as_of_date = c.as_of_date
    inner join ml.ml_snapshot_labels as l
        on f.user_id = l.user_id and f.as_of_date = l.as_of_date
),

long_ratios as (
    select 'cart_view_ratio' as ratio, user_id, as_of_date, horizon_days,
           cart_view_ratio as ratio_value, future_revenue
    from paired
    union all
    select 'purchasing_session_ratio' as ratio, user_id, as_of_date, horizon_days,
           purchasing_session_ratio as ratio_value, future_revenue
    from paired
),

ranked as (
    select
        *,
        rank() over (partition by ratio order by ratio_value)
        + (count(*) over (partition by ratio, ratio_value) - 1) / 2.0 as ratio_rank,
        rank() over (partition by ratio order by future_revenue)
        + (count(*) over (partition by ratio, future_revenue) - 1) / 2.0 as revenue_rank,
        ntile(10) over (partition by ratio order by ratio_value, user_id) as decile
    from long_ratios
    where ratio_value is not null and future_revenue is not null
)
"""

CLAIM_D_STATS_SQL = (
    CLAIM_D_BASE
    + """
select
    ratio,
    min(as_of_date) as as_of_date,
    min(horizon_days) as horizon_days,
    count(*) as users,
    count(*) filter (where future_revenue > 0) as future_buyers,
    corr(ratio_rank, revenue_rank) as spearman_correlation
from ranked
group by ratio
order by ratio
"""
)

CLAIM_D_DECILES_SQL = (
    CLAIM_D_BASE
    + """
select ratio, decile, count(*) as users, avg(future_revenue) as future_revenue_mean
from ranked
group by ratio, decile
order by ratio, decile
"""
)

LEADING_RATIOS = {
    "cart_view_ratio": "cart / view ratio",
    "purchasing_session_ratio": "purchasing sessions / sessions",
}


def claim_d(wh: Warehouse, s: Section, rules: ClaimRules) -> Verdict:
    claim = CLAIM_TEXT["d"]
    rule = say(
        "At the cutoff T = the earliest feature snapshot whose label window is fully observed, "
        "each ratio is measured over all history up to T (cart_to_view_rate_all, "
        "purchasing_session_rate_all in intermediate.int_customer_feature_snapshots) and "
        "compared with the user's revenue in the H days after T (future_revenue in "
        "ml.ml_snapshot_labels). Holds when, for both ratios, the Spearman rank correlation over "
        "users with a defined ratio is above {rho} with at least {n} such users.",
        rho=s.metric("d.rule.min_spearman", rules.min_spearman, "num"),
        n=s.metric("d.rule.min_users", rules.min_users, "int"),
    )
    problems = [
        p
        for p in (
            wh.problem(
                "intermediate.int_customer_feature_snapshots",
                ["user_id", "as_of_date", "cart_to_view_rate_all", "purchasing_session_rate_all"],
            ),
            wh.problem(
                "ml.ml_snapshot_labels",
                ["user_id", "as_of_date", "label_window_observed", "future_revenue"],
            ),
        )
        if p
    ]
    if problems:
        return Verdict("d", claim, rule, VERDICT_UNKNOWN, _not_enough("; ".join(problems)))
    stats = wh.df(s, "(d) Ratio before the cutoff vs revenue after it", CLAIM_D_STATS_SQL)
    if stats.empty:
        return Verdict(
            "d",
            claim,
            rule,
            VERDICT_UNKNOWN,
            _not_enough("no feature snapshot has a fully observed label window"),
        )
    stats = stats.set_index("ratio")
    first = stats.iloc[0]
    evidence = [
        say(
            "Cutoff T = {t}; revenue measured over the next {h} days.",
            t=s.metric("d.as_of_date", clean(first["as_of_date"]), "date"),
            h=s.metric("d.horizon_days", clean(first["horizon_days"]), "int"),
        )
    ]
    checks: list[bool | None] = []
    for ratio, label in LEADING_RATIOS.items():
        if ratio not in stats.index:
            checks.append(None)
            continue
        r = stats.loc[ratio]
        rho, n = clean(r["spearman_correlation"]), int(r["users"])
        checks.append(
            rho > rules.min_spearman if rho is not None and n >= rules.min_users else None
        )
        evidence.append(
            say(
                f"{label}: Spearman {{rho}} over {{n}} users ({{buyers}} of them bought in the "
                "window).",
                rho=s.metric(f"d.{ratio}.spearman", rho, "corr"),
                n=s.metric(f"d.{ratio}.users", n, "int"),
                buyers=s.metric(f"d.{ratio}.future_buyers", clean(r["future_buyers"]), "int"),
            )
        )
    deciles = wh.df(s, "(d) Revenue after the cutoff by ratio decile", CLAIM_D_DECILES_SQL)
    if not deciles.empty:
        s.charts.append(
            Chart(
                "claim_d_leading_deciles",
                "(d) Ratio before the cutoff vs revenue after it",
                charts.leading_deciles(deciles, clean(first["horizon_days"])),
                "Mean revenue after the cutoff by decile of each ratio before it",
            )
        )
    return Verdict("d", claim, rule, _verdict(checks), evidence)


def build_claims(wh: Warehouse, rules: ClaimRules = RULES) -> Section:
    s = Section(
        "claims",
        "The brief's claims, tested on this data",
        "Each claim of the original analysis, the evidence from the marts, the rule that decides, "
        "and the verdict.",
        [
            "marts.funnel_summary",
            "intermediate.int_session_products",
            "marts.customer_value",
            "marts.tier_profile",
            "marts.revenue_concentration",
            "intermediate.int_customer_feature_snapshots",
            "ml.ml_snapshot_labels",
        ],
    )
    for key, test in (("a", claim_a), ("b", claim_b), ("c", claim_c), ("d", claim_d)):
        try:
            s.verdicts.append(test(wh, s, rules))
        except duckdb.Error as exc:
            reason = f"a query failed: {str(exc).splitlines()[0]}"
            s.verdicts.append(
                Verdict(
                    key,
                    CLAIM_TEXT[key],
                    say("See the SQL below."),
                    VERDICT_UNKNOWN,
                    _not_enough(reason),
                )
            )
    return s
