{#-
    One row per session and day on which it has events, holding the session as it stood at the end
    of that day (running totals). A feature snapshot as of date T takes, per session, the row of its
    last day on or before T: sessions that continue after T are truncated at T, so no event after T
    reaches a feature (int_sessions would leak the rest of a session that crosses midnight).
    Incremental like int_session_products (see macros/incremental.sql).
-#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    incremental_strategy='delete+insert',
    unique_key='session_id',
    pre_hook="{{ delete_sessions_in_event_window('last_event_at') }}"
) }}
{%- set window_start = event_window_start() %}

with session_days as (
    select
        user_id,
        session_id,
        event_date,
        min(event_time) as first_event_at,
        max(event_time) as last_event_at,
        count(*) as events,
        {{ count_events_by_type() }},
        coalesce(sum(case when event_type = 'purchase' then price end), 0) as revenue
    from {{ ref('stg_events') }}
    where {{ touched_sessions_filter(window_start) }}
    group by user_id, session_id, event_date
)

select
    user_id,
    session_id,
    event_date,
    lead(event_date) over session_order as next_event_date,
    min(first_event_at) over session_order as session_start,
    last_event_at,
    {%- set running = ['events'] %}{% for t in event_types() %}{% do running.append(event_type_plural(t)) %}{% endfor %}{% do running.append('revenue') %}
    {%- for col in running %}
    sum({{ col }}) over session_order as {{ col }},
    {%- endfor %}
    {{ loaded_at() }} as loaded_at
from session_days
window session_order as (partition by user_id, session_id order by event_date rows between unbounded preceding and current row)
