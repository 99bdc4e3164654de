{#-
    One row per user and active day. Windowed features at any as-of date aggregate this table
    instead of the events, so several snapshots cost one small scan each. Rolled up from
    int_session_hours (a session-day first, so that sessions and purchasing sessions are plain
    counts). Incremental by event date (see macros/incremental.sql).
-#}
{{ config(materialized='incremental', on_schema_change='fail', **date_keyed_storage_config('event_date')) }}
-- depends_on: {{ ref('stg_events') }}
{%- set window_start = event_window_start() %}
{%- set counts = ['events'] %}{% for t in event_types() %}{% do counts.append(event_type_plural(t)) %}{% endfor %}

with session_days as (
    select
        user_id,
        event_date,
        {%- for col in counts %}
        sum({{ col }}) as {{ col }},
        {%- endfor %}
        sum(revenue) as revenue,
        sum(viewed_value) as viewed_value,
        max(max_purchased_price) as max_purchased_price,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at,
        max({{ funnel_list_max('cart_times') }}) as last_cart_at,
        max({{ funnel_list_max('purchase_times') }}) as last_purchase_at
    from {{ ref('int_session_hours') }}
    where {{ event_window_filter('event_date', window_start) }}
    group by user_id, event_date, session_key
)

select
    user_id,
    event_date,
    {%- for col in counts %}
    cast(sum({{ col }}) as {{ dbt.type_bigint() }}) as {{ col }},
    {%- endfor %}
    count(*) as sessions,
    count(case when purchases > 0 then 1 end) as purchasing_sessions,
    sum(revenue) as revenue,
    sum(viewed_value) as viewed_value,
    max(max_purchased_price) as max_purchased_price,
    min(first_event_at) as first_event_at,
    max(last_event_at) as last_event_at,
    max(last_cart_at) as last_cart_at,
    max(last_purchase_at) as last_purchase_at,
    {{ loaded_at() }} as loaded_at
from session_days
group by user_id, event_date
