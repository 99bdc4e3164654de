{#-
    Every user of customer_value with segment flags from explicit rules (all dbt vars) and one
    segment label. "Now" is the last clean event date in the data, not the wall clock.

    Flags (all kept):
      at_risk_high_value      power or core buyer whose days since the last purchase exceed
                              at_risk_gap_multiplier (2) x their median gap between purchase days,
                              or exceed churn_horizon_days (28).
      unprofitable_engagement sessions at or above the unprofitable_sessions_quantile (0.75) of all
                              users' sessions, at least unprofitable_min_carts (1) cart event, and
                              revenue per session at or below the unprofitable_revenue_quantile (0.25)
                              of buyers' revenue per session (0 for non-buyers).
      discount_dependent      at least discount_min_purchases (2) purchase events, and at least
                              discount_purchase_share (0.5) of them priced at or below
                              discount_price_ratio (0.7) x the median price of the category's purchases.
      one_time_buyer          exactly one order (purchasing session).
      new_user                first seen less than new_user_days (14) days before now.
    segment = the first set flag in segment_precedence; without a flag: active_high_value (power,
    core), repeat_buyer (light) or browser.
-#}
{%- set flags = value_segment_flags() %}
{%- set defaults = value_default_segments() %}
{%- set trend_days = value_var('segment_trend_days', 28) | int %}

with now_date as (
    select max(event_date) as today
    from {{ ref('int_user_days') }}
),

purchase_gaps as (
    select
        user_id,
        {{ value_median('gap_days') }} as median_purchase_gap_days
    from {{ ref('int_value_purchase_days') }}
    group by user_id
),

purchase_lines as (
    select
        user_id,
        coalesce(category_id, -1) as category_key,
        price,
        purchases
    from {{ ref('int_value_user_day_items') }}
    where purchases > 0
),

category_prices as (
    select
        category_key,
        {{ value_median('price') }} as category_median_price
    from purchase_lines
    group by category_key
),

price_sensitivity as (
    select
        purchase_lines.user_id,
        {{ value_ratio(
            'sum(case when purchase_lines.price <= ' ~ value_var('discount_price_ratio', 0.7) ~ ' * category_prices.category_median_price then purchase_lines.purchases else 0 end)',
            'sum(purchase_lines.purchases)') }} as low_price_purchase_share
    from purchase_lines
    inner join category_prices on purchase_lines.category_key = category_prices.category_key
    group by purchase_lines.user_id
),

recent_revenue as (
    select
        d.user_id,
        sum(case when d.event_date > now_date.today - {{ trend_days }} then d.revenue else 0 end) as revenue_recent,
        sum(case when d.event_date <= now_date.today - {{ trend_days }} and d.event_date > now_date.today - {{ 2 * trend_days }}
            then d.revenue else 0 end) as revenue_previous,
        max(case when d.event_date > now_date.today - {{ trend_days }} then 1 else 0 end) as active_recent
    from {{ ref('int_user_days') }} as d
    cross join now_date
    group by d.user_id
),

users as (
    select
        customer_value.user_id,
        customer_value.value_tier,
        customer_value.revenue,
        customer_value.purchases,
        customer_value.orders,
        customer_value.sessions,
        customer_value.carts,
        {{ dbt.datediff('cast(customer_value.first_seen as date)', 'now_date.today', 'day') }} as days_since_first_seen,
        {{ dbt.datediff('cast(customer_value.last_seen as date)', 'now_date.today', 'day') }} as days_since_last_seen,
        {{ dbt.datediff('cast(customer_value.last_purchase_at as date)', 'now_date.today', 'day') }} as days_since_last_purchase,
        purchase_gaps.median_purchase_gap_days,
        {{ value_ratio('customer_value.revenue', 'customer_value.sessions') }} as revenue_per_session,
        price_sensitivity.low_price_purchase_share,
        recent_revenue.revenue_recent,
        recent_revenue.revenue_previous,
        recent_revenue.active_recent
    from {{ ref('customer_value') }} as customer_value
    cross join now_date
    left join purchase_gaps on customer_value.user_id = purchase_gaps.user_id
    left join price_sensitivity on customer_value.user_id = price_sensitivity.user_id
    left join recent_revenue on customer_value.user_id = recent_revenue.user_id
),

thresholds as (
    select
        {{ value_quantile('sessions', value_var('unprofitable_sessions_quantile', 0.75)) }} as sessions_threshold,
        coalesce(
            {{ value_quantile('case when purchases > 0 then revenue_per_session end', value_var('unprofitable_revenue_quantile', 0.25)) }}, 0
        ) as revenue_per_session_threshold
    from users
),

flagged as (
    select
        users.*,
        thresholds.sessions_threshold,
        thresholds.revenue_per_session_threshold,
        coalesce(
            users.value_tier in ('power', 'core')
            and (
                users.days_since_last_purchase > {{ value_var('churn_horizon_days', 28) }}
                or users.days_since_last_purchase > {{ value_var('at_risk_gap_multiplier', 2) }} * users.median_purchase_gap_days
            ),
            false
        ) as is_at_risk_high_value,
        (
            users.sessions >= thresholds.sessions_threshold
            and users.carts >= {{ value_var('unprofitable_min_carts', 1) }}
            and coalesce(users.revenue_per_session, 0) <= thresholds.revenue_per_session_threshold
        ) as is_unprofitable_engagement,
        coalesce(
            users.purchases >= {{ value_var('discount_min_purchases', 2) }}
            and users.low_price_purchase_share >= {{ value_var('discount_purchase_share', 0.5) }},
            false
        ) as is_discount_dependent,
        users.orders = 1 as is_one_time_buyer,
        users.days_since_first_seen < {{ value_var('new_user_days', 14) }} as is_new_user
    from users
    cross join thresholds
)

select
    user_id,
    value_tier,
    case
        {%- for flag in value_segment_precedence() %}
        when is_{{ flag }} then '{{ flag }}'
        {%- endfor %}
        {%- for tier, segment in defaults.items() %}
        when value_tier = '{{ tier }}' then '{{ segment }}'
        {%- endfor %}
    end as segment,
    {%- for flag in flags %}
    is_{{ flag }},
    {%- endfor %}
    cast(
        {%- for flag in flags %}
        cast(is_{{ flag }} as integer){{ ' +' if not loop.last }}
        {%- endfor %}
        as bigint
    ) as flag_count,
    revenue,
    purchases,
    orders,
    sessions,
    carts,
    cast(days_since_first_seen as bigint) as days_since_first_seen,
    cast(days_since_last_seen as bigint) as days_since_last_seen,
    cast(days_since_last_purchase as bigint) as days_since_last_purchase,
    cast(median_purchase_gap_days as double) as median_purchase_gap_days,
    revenue_per_session,
    low_price_purchase_share,
    cast(coalesce(revenue_recent, 0) as double) as revenue_recent,
    cast(coalesce(revenue_previous, 0) as double) as revenue_previous,
    coalesce(active_recent, 0) = 1 as is_active_recent,
    cast(sessions_threshold as double) as sessions_threshold,
    cast(revenue_per_session_threshold as double) as revenue_per_session_threshold
from flagged
