{#-
    One row per session, UTC day and hour with events: counts by type, revenue, first and last
    times, and the times of the session's cart and purchase events in that hour. Sessions are
    keyed by (user_id, session_key): the 36-character session_id is not stored in this or the
    session tables rolled up from it (writing millions of random texts costs more than the rest
    of the table). The session-,
    day- and hour-grained work of every later model reads this table instead of the events:
    int_value_session_days and int_user_days roll it up, and the funnel takes its overall, date and
    hour stages from it (the event times keep the ordered funnel exact).
    Incremental: sessions with an event in the reprocess window are recomputed whole
    (see macros/incremental.sql).
-#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    incremental_strategy='delete+insert',
    unique_key=['user_id', 'session_key'],
    pre_hook="{{ delete_sessions_in_event_window('last_event_at') }}"
) }}
{%- set window_start = event_window_start() %}

select
    user_id,
    {{ session_key() }} as session_key,
    event_date,
    cast(extract(hour from event_time) as integer) as event_hour,
    min(event_time) as first_event_at,
    max(event_time) as last_event_at,
    count(*) as events,
    {{ count_events_by_type() }},
    coalesce(sum(case when event_type = 'purchase' then price end), 0) as revenue,
    coalesce(sum(case when event_type = 'view' then price end), 0) as viewed_value,
    max(case when event_type = 'purchase' then price end) as max_purchased_price,
    min(case when event_type = 'view' then event_time end) as first_view_at,
    {{ funnel_times_list('event_time', "event_type = 'cart'") }} as cart_times,
    {{ funnel_times_list('event_time', "event_type = 'purchase'") }} as purchase_times,
    {{ loaded_at() }} as loaded_at
from {{ ref('stg_events') }}
where {{ touched_sessions_filter(window_start) }}
group by user_id, {{ session_key() }}, event_date, cast(extract(hour from event_time) as integer)
