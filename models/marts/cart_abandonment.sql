{#-
    Cart abandonment inside the session and across sessions, side by side, overall and by month.
    Session figures count sessions by the month they start; item figures count carted
    (session, product) items by the month of their first cart.
-#}
with sessions as (
    select
        user_id,
        session_key,
        carts,
        purchases,
        remove_from_carts,
        {{ funnel_month_label('session_date') }} as session_month
    from {{ ref('int_sessions') }}
),

cart_outcomes as (
    select
        outcome,
        window_censored,
        user_id,
        session_key,
        {{ funnel_month_label('cart_date') }} as cart_month
    from {{ ref('int_funnel_cart_outcomes') }}
),

recovered_sessions as (
    select distinct
        user_id,
        session_key
    from cart_outcomes
    where outcome = 'later_session'
),

session_stats as (
    select
        case when grouping(sessions.session_month) = 0 then 'month' else 'overall' end as dimension,
        coalesce(sessions.session_month, 'all') as dimension_value,
        sum(case when sessions.carts > 0 then 1 else 0 end) as carting_sessions,
        sum(case when sessions.carts > 0 and sessions.purchases = 0 then 1 else 0 end) as abandoned_sessions,
        sum(
            case when sessions.carts > 0 and sessions.purchases = 0 and recovered_sessions.session_key is not null then 1 else 0 end
        ) as abandoned_sessions_recovered_later,
        sum(sessions.carts) as cart_events,
        sum(sessions.remove_from_carts) as remove_from_cart_events,
        sum(case when sessions.carts > 0 and sessions.remove_from_carts > 0 then 1 else 0 end) as carting_sessions_with_remove
    from sessions
    left join recovered_sessions
        on sessions.user_id = recovered_sessions.user_id
        and sessions.session_key = recovered_sessions.session_key
    group by grouping sets ((), (sessions.session_month))
),

item_stats as (
    select
        case when grouping(cart_month) = 0 then 'month' else 'overall' end as dimension,
        coalesce(cart_month, 'all') as dimension_value,
        count(*) as carted_items,
        sum(case when outcome = 'in_session' then 1 else 0 end) as items_purchased_in_session,
        sum(case when outcome = 'later_session' then 1 else 0 end) as items_purchased_later,
        sum(case when outcome = 'abandoned' then 1 else 0 end) as items_abandoned,
        sum(case when window_censored then 1 else 0 end) as items_window_censored
    from cart_outcomes
    group by grouping sets ((), (cart_month))
),

joined as (
    select
        coalesce(session_stats.dimension, item_stats.dimension) as dimension,
        coalesce(session_stats.dimension_value, item_stats.dimension_value) as dimension_value,
        coalesce(session_stats.carting_sessions, 0) as carting_sessions,
        coalesce(session_stats.abandoned_sessions, 0) as abandoned_sessions,
        coalesce(session_stats.abandoned_sessions_recovered_later, 0) as abandoned_sessions_recovered_later,
        coalesce(item_stats.carted_items, 0) as carted_items,
        coalesce(item_stats.items_purchased_in_session, 0) as items_purchased_in_session,
        coalesce(item_stats.items_purchased_later, 0) as items_purchased_later,
        coalesce(item_stats.items_abandoned, 0) as items_abandoned,
        coalesce(item_stats.items_window_censored, 0) as items_window_censored,
        coalesce(session_stats.cart_events, 0) as cart_events,
        coalesce(session_stats.remove_from_cart_events, 0) as remove_from_cart_events,
        coalesce(session_stats.carting_sessions_with_remove, 0) as carting_sessions_with_remove
    from session_stats
    full outer join item_stats
        on session_stats.dimension = item_stats.dimension
        and session_stats.dimension_value = item_stats.dimension_value
)

select
    dimension,
    dimension_value,
    cast({{ var('conversion_window_days', 7) }} as integer) as conversion_window_days,
    cast(carting_sessions as {{ dbt.type_bigint() }}) as carting_sessions,
    cast(abandoned_sessions as {{ dbt.type_bigint() }}) as abandoned_sessions,
    cast(abandoned_sessions_recovered_later as {{ dbt.type_bigint() }}) as abandoned_sessions_recovered_later,
    {{ funnel_ratio('abandoned_sessions', 'carting_sessions') }} as session_abandonment_rate,
    {{ funnel_ratio('abandoned_sessions - abandoned_sessions_recovered_later', 'carting_sessions') }}
    as session_abandonment_rate_after_later_sessions,
    cast(carted_items as {{ dbt.type_bigint() }}) as carted_items,
    cast(items_purchased_in_session as {{ dbt.type_bigint() }}) as items_purchased_in_session,
    cast(items_purchased_later as {{ dbt.type_bigint() }}) as items_purchased_later,
    cast(items_abandoned as {{ dbt.type_bigint() }}) as items_abandoned,
    cast(items_window_censored as {{ dbt.type_bigint() }}) as items_window_censored,
    {{ funnel_ratio('items_purchased_in_session', 'carted_items') }} as item_in_session_conversion_rate,
    {{ funnel_ratio('items_purchased_later', 'carted_items') }} as item_later_session_conversion_rate,
    {{ funnel_ratio('carted_items - items_purchased_in_session', 'carted_items') }} as item_abandonment_rate_in_session,
    {{ funnel_ratio('items_abandoned', 'carted_items') }} as item_abandonment_rate_after_later_sessions,
    cast(cart_events as {{ dbt.type_bigint() }}) as cart_events,
    cast(remove_from_cart_events as {{ dbt.type_bigint() }}) as remove_from_cart_events,
    remove_from_cart_events > 0 as has_remove_from_cart_data,
    case
        when remove_from_cart_events > 0 then {{ funnel_ratio('remove_from_cart_events', 'cart_events') }}
    end as remove_from_cart_per_cart,
    case
        when remove_from_cart_events > 0 then {{ funnel_ratio('carting_sessions_with_remove', 'carting_sessions') }}
    end as carting_sessions_with_remove_share
from joined
