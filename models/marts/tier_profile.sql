{#-
    How behaviour differs by value tier: one row per tier (power, core, light, browser; a tier with
    no user has users = 0). Conversion rates are given at user level (users who did the later step
    among users who did the earlier one) and at session level. The category mix is the share of the
    tier's revenue (and events) from its value_top_categories (var, default 3) top-level categories,
    among revenue/events with a known category; tier_category_mix has the full breakdown.
-#}
{%- set top_n = value_var('value_top_categories', 3) | int %}

with tiers as (
    {%- for tier in value_tier_names() %}
    select {{ loop.index }} as tier_order, '{{ tier }}' as value_tier{{ ' union all' if not loop.last }}
    {%- endfor %}
),

users as (
    select
        value_tier,
        count(*) as users,
        count(case when purchases > 0 then 1 end) as buyers,
        sum(revenue) as revenue,
        sum(orders) as orders,
        sum(purchases) as purchases,
        sum(sessions) as sessions,
        sum(events) as events,
        avg(active_days) as days_active_per_user,
        avg({{ dbt.datediff('first_seen', 'last_seen', 'day') }}) as active_span_days_per_user,
        count(case when views > 0 then 1 end) as viewers,
        count(case when views > 0 and carts > 0 then 1 end) as viewers_who_carted,
        count(case when carts > 0 then 1 end) as carters,
        count(case when carts > 0 and purchases > 0 then 1 end) as carters_who_purchased,
        count(case when orders >= 2 then 1 end) as repeat_buyers
    from {{ ref('customer_value') }}
    group by value_tier
),

sessions as (
    select
        customer_value.value_tier,
        count(case when s.views > 0 then 1 end) as view_sessions,
        count(case when s.views > 0 and s.carts > 0 then 1 end) as view_sessions_with_cart,
        count(case when s.carts > 0 then 1 end) as cart_sessions,
        count(case when s.carts > 0 and s.purchases > 0 then 1 end) as cart_sessions_with_purchase,
        avg(s.duration_seconds) as mean_session_seconds
    from {{ ref('int_sessions') }} as s
    inner join {{ ref('customer_value') }} as customer_value on s.user_id = customer_value.user_id
    group by customer_value.value_tier
),

categories as (
    select
        value_tier,
        max(case when category_rank_in_tier = 1 then top_category end) as top_category,
        sum(case when category_rank_in_tier <= {{ top_n }} then revenue end) as top_categories_revenue,
        sum(case when top_category <> 'unknown' then revenue end) as known_category_revenue,
        sum(case when category_rank_in_tier <= {{ top_n }} then events end) as top_categories_events,
        sum(case when top_category <> 'unknown' then events end) as known_category_events
    from {{ ref('tier_category_mix') }}
    group by value_tier
),

totals as (
    select
        sum(users) as all_users,
        sum(revenue) as all_revenue
    from users
)

select
    tiers.value_tier,
    tiers.tier_order,
    cast(coalesce(users.users, 0) as bigint) as users,
    {{ value_ratio('coalesce(users.users, 0)', 'totals.all_users') }} as user_share,
    cast(coalesce(users.buyers, 0) as bigint) as buyers,
    cast(coalesce(users.revenue, 0) as double) as revenue,
    {{ value_ratio('coalesce(users.revenue, 0)', 'totals.all_revenue') }} as revenue_share,
    {{ value_ratio('users.revenue', 'users.users') }} as revenue_per_user,
    {{ value_ratio('users.sessions', 'users.users') }} as sessions_per_user,
    {{ value_ratio('users.events', 'users.users') }} as events_per_user,
    cast(users.days_active_per_user as double) as days_active_per_user,
    cast(users.active_span_days_per_user as double) as active_span_days_per_user,
    cast(sessions.mean_session_seconds as double) as mean_session_seconds,
    {{ value_ratio('users.viewers_who_carted', 'users.viewers') }} as view_to_cart_user_rate,
    {{ value_ratio('users.carters_who_purchased', 'users.carters') }} as cart_to_purchase_user_rate,
    {{ value_ratio('sessions.view_sessions_with_cart', 'sessions.view_sessions') }} as view_to_cart_session_rate,
    {{ value_ratio('sessions.cart_sessions_with_purchase', 'sessions.cart_sessions') }} as cart_to_purchase_session_rate,
    cast(coalesce(users.orders, 0) as bigint) as orders,
    {{ value_ratio('users.revenue', 'users.orders') }} as avg_order_value,
    {{ value_ratio('users.purchases', 'users.orders') }} as items_per_order,
    {{ value_ratio('users.orders', 'users.buyers') }} as orders_per_buyer,
    {{ value_ratio('users.repeat_buyers', 'users.buyers') }} as repeat_purchase_rate,
    categories.top_category,
    {{ value_ratio('categories.top_categories_revenue', 'categories.known_category_revenue') }} as top_categories_revenue_share,
    {{ value_ratio('categories.top_categories_events', 'categories.known_category_events') }} as top_categories_event_share
from tiers
cross join totals
left join users on tiers.value_tier = users.value_tier
left join sessions on tiers.value_tier = sessions.value_tier
left join categories on tiers.value_tier = categories.value_tier
