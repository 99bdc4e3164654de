{#-
    One row per user and active day. Windowed features at any as-of date aggregate this table
    instead of the events, so several snapshots cost one small scan each.
    Incremental by event date (see macros/incremental.sql).
-#}
{{ config(materialized='incremental', on_schema_change='fail', incremental_strategy='delete+insert', unique_key='event_date') }}
{%- set window_start = event_window_start() %}

select
    user_id,
    event_date,
    count(*) as events,
    {{ count_events_by_type() }},
    count(distinct session_id) as sessions,
    count(distinct case when event_type = 'purchase' then session_id end) as purchasing_sessions,
    coalesce(sum(case when event_type = 'purchase' then price end), 0) as revenue,
    min(event_time) as first_event_at,
    max(event_time) as last_event_at,
    max(case when event_type = 'cart' then event_time end) as last_cart_at,
    max(case when event_type = 'purchase' then event_time end) as last_purchase_at,
    {{ loaded_at() }} as loaded_at
from {{ ref('stg_events') }}
where {{ event_window_filter('event_date', window_start) }}
group by user_id, event_date
