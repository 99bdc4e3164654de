{#-
    One row per session and product: when each funnel step first happened and how long the next
    step took. int_sessions, cart outcomes and time to action read this table instead of the events.
    Incremental: sessions with an event in the reprocess window are recomputed whole
    (see macros/incremental.sql).
-#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    incremental_strategy='delete+insert',
    unique_key='session_id',
    pre_hook="{{ delete_sessions_in_event_window('last_event_at') }}"
) }}
{%- set window_start = event_window_start() %}

with session_products as (
    select
        session_id,
        product_id,
        min(user_id) as user_id,
        min(category_id) as category_id,
        min(top_category) as top_category,
        min(brand) as brand,
        max(price) as price,
        min(event_time) as first_event_at,
        max(event_time) as last_event_at,
        {{ count_events_by_type() }},
        coalesce(sum(case when event_type = 'purchase' then price end), 0) as revenue,
        min(case when event_type = 'view' then event_time end) as first_view_at,
        min(case when event_type = 'cart' then event_time end) as first_cart_at,
        min(case when event_type = 'purchase' then event_time end) as first_purchase_at,
        max(case when event_type = 'purchase' then event_time end) as last_purchase_at
    from {{ ref('stg_events') }}
    where {{ touched_sessions_filter(window_start) }}
    group by session_id, product_id
)

select
    *,
    case
        when first_cart_at >= first_view_at
            then {{ dbt.datediff('first_view_at', 'first_cart_at', 'second') }}
    end as view_to_cart_seconds,
    case
        when first_purchase_at >= first_cart_at
            then {{ dbt.datediff('first_cart_at', 'first_purchase_at', 'second') }}
    end as cart_to_purchase_seconds,
    {{ loaded_at() }} as loaded_at
from session_products
