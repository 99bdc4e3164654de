{#-
    One row per user with at least one clean event: revenue, purchases, orders and the value tier.
    Buyers (users with a purchase event) are ranked by revenue rounded to cents, descending, ties by
    user_id (rounding keeps float summation order from moving a user across a tier line):
      power  = the first ceil(power_tier_share x buyers) buyers (var, default 0.2),
      core   = the next buyers up to ceil(core_tier_share x buyers) (var, default 0.5),
      light  = the other buyers,
      browser = users without a purchase event.
-#}
{%- set power_share = value_var('power_tier_share', 0.2) | float %}
{%- set core_share = value_var('core_tier_share', 0.5) | float %}
{%- if not (0 < power_share <= core_share <= 1) %}
    {{ exceptions.raise_compiler_error("Tier shares must satisfy 0 < power_tier_share <= core_tier_share <= 1, got "
        ~ power_share ~ " and " ~ core_share) }}
{%- endif %}

with user_days as (
    select
        user_id,
        min(first_event_at) as first_seen,
        max(last_event_at) as last_seen,
        max(last_purchase_at) as last_purchase_at,
        count(*) as active_days,
        sum(events) as events,
        sum(views) as views,
        sum(carts) as carts,
        sum(purchases) as purchases,
        sum(revenue) as revenue
    from {{ ref('int_user_days') }}
    group by user_id
),

user_sessions as (
    select
        user_id,
        count(*) as sessions,
        count(case when purchases > 0 then 1 end) as orders
    from {{ ref('int_sessions') }}
    group by user_id
),

buyers as (
    select
        user_id,
        {{ bigint_on_spark('row_number() over (order by round(revenue, 2) desc, user_id)') }} as buyer_rank,
        count(*) over () as buyers
    from user_days
    where purchases > 0
),

tiered as (
    select
        user_id,
        buyer_rank,
        case
            when buyer_rank <= {{ value_tier_cutoff(power_share, 'buyers') }} then 'power'
            when buyer_rank <= {{ value_tier_cutoff(core_share, 'buyers') }} then 'core'
            else 'light'
        end as value_tier
    from buyers
)

select
    user_days.user_id,
    cast(user_days.revenue as double) as revenue,
    cast(user_days.purchases as bigint) as purchases,
    cast(coalesce(user_sessions.orders, 0) as bigint) as orders,
    user_days.first_seen,
    user_days.last_seen,
    user_days.last_purchase_at,
    coalesce(tiered.value_tier, 'browser') as value_tier,
    tiered.buyer_rank,
    cast(coalesce(user_sessions.sessions, 0) as bigint) as sessions,
    cast(user_days.active_days as bigint) as active_days,
    cast(user_days.events as bigint) as events,
    cast(user_days.views as bigint) as views,
    cast(user_days.carts as bigint) as carts
from user_days
left join user_sessions on user_days.user_id = user_sessions.user_id
left join tiered on user_days.user_id = tiered.user_id
