{#-
    One row per session and product that went past a view: a (session, product) with at least one
    cart, remove_from_cart or purchase event, with its counts by event type (views included), the
    first and last times of each step, and how long the next step took. Time to action and cart
    outcomes read this table; both are about carted or bought items, which are a few percent of
    the session-products, so the view-only ones (most of the events) are never grouped.
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
{%- set window_start = event_window_start('last_event_at') %}

with items_past_view as (
    select distinct
        user_id,
        {{ session_key() }} as session_key,
        product_id
    from {{ ref('stg_events') }}
    where event_type <> 'view'
        and {{ touched_sessions_filter(window_start) }}
),

session_products as (
    select
        events.user_id,
        items_past_view.session_key,
        any_value(events.session_id) as session_id,
        events.product_id,
        min(events.category_id) as category_id,
        min(events.top_category) as top_category,
        min(events.brand) as brand,
        max(events.price) as price,
        min(events.event_time) as first_event_at,
        max(events.event_time) as last_event_at,
        {{ count_events_by_type('events.event_type') }},
        coalesce(sum(case when events.event_type = 'purchase' then events.price end), 0) as revenue,
        min(case when events.event_type = 'view' then events.event_time end) as first_view_at,
        min(case when events.event_type = 'cart' then events.event_time end) as first_cart_at,
        min(case when events.event_type = 'purchase' then events.event_time end) as first_purchase_at,
        max(case when events.event_type = 'purchase' then events.event_time end) as last_purchase_at
    from {{ ref('stg_events') }} as events
    inner join items_past_view
        on events.user_id = items_past_view.user_id
        and {{ session_key('events.session_id') }} = items_past_view.session_key
        and events.product_id = items_past_view.product_id
    group by events.user_id, items_past_view.session_key, events.product_id
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
