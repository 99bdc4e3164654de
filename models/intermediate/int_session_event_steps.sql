{#-
    One row per event with the next event of the same session: its type, product, category and
    time (one lead() window over the session's events; null next_* for the session's last event).
    Events are ordered by time; events in the same second by funnel order (view, cart,
    remove_from_cart, purchase: macro event_types()), then product_id and category_id, so the
    order, and every row's next step, is the same on every build. int_funnel_path_step_days and
    int_funnel_path_drop_off_users aggregate it for funnel_paths.
    Incremental like int_session_hours: sessions with an event in the reprocess window are
    recomputed whole (a next step can cross the window's start; see macros/incremental.sql).
-#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    incremental_strategy='delete+insert',
    unique_key=['user_id', 'session_key'],
    pre_hook="{{ delete_sessions_in_event_window('event_time') }}"
) }}
{%- set window_start = event_window_start('event_time') %}
{#- One window (every lead() below shares it; DuckDB sorts each session once). -#}
{%- set session_order -%}
    partition by user_id, {{ session_key() }}
    order by
        event_time,
        case event_type{% for t in event_types() %} when '{{ t }}' then {{ loop.index }}{% endfor %} end,
        product_id,
        category_id
{%- endset %}

select
    user_id,
    {{ session_key() }} as session_key,
    event_time,
    event_type,
    product_id,
    category_id,
    {%- for column, source in [('next_event_at', 'event_time'), ('next_event_type', 'event_type'), ('next_product_id', 'product_id'), ('next_category_id', 'category_id')] %}
    lead({{ source }}) over ({{ session_order }}) as {{ column }},
    {%- endfor %}
    {{ loaded_at() }} as loaded_at
from {{ ref('stg_events') }}
where {{ touched_sessions_filter(window_start) }}
