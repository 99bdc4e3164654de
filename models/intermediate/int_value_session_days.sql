{#-
    One row per session and day on which it has events, holding the session as it stood at the end
    of that day (running totals). A feature snapshot as of date T takes, per session, the row of its
    last day on or before T: sessions that continue after T are truncated at T, so no event after T
    reaches a feature (int_sessions would leak the rest of a session that crosses midnight).
    Rolled up from int_session_hours. Incremental like it (see macros/incremental.sql).
-#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    incremental_strategy='delete+insert',
    unique_key=['user_id', 'session_key'],
    pre_hook="{{ delete_sessions_in_event_window('last_event_at') }}"
) }}
-- depends_on: {{ ref('stg_events') }}
{%- set running = ['events'] %}{% for t in event_types() %}{% do running.append(event_type_plural(t)) %}{% endfor %}{% do running.append('revenue') %}

with session_days as (
    -- int_session_hours re-inserts every session it touches whole, so its newly loaded rows are
    -- exactly the sessions to recompute here.
    select
        user_id,
        session_key,
        event_date,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at,
        {%- for col in running %}
        sum({{ col }}) as {{ col }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('int_session_hours') }}
    where {{ loaded_since_this_model() }}
    group by user_id, session_key, event_date
)

select
    user_id,
    session_key,
    event_date,
    lead(event_date) over {{ offset_window('session_order', 'partition by user_id, session_key order by event_date') }} as next_event_date,
    min(first_event_at) over session_order as session_start,
    last_event_at,
    {%- for col in running %}
    {%- set cast_to = 'double' if col == 'revenue' else dbt.type_bigint() %}
    cast(sum({{ col }}) over session_order as {{ cast_to }}) as {{ col }},
    {%- endfor %}
    {{ loaded_at() }} as loaded_at
from session_days
window session_order as (partition by user_id, session_key order by event_date rows between unbounded preceding and current row)
