{#-
    One row per clean, de-duplicated event. session_id is the shop's user_session; where that is
    missing, a session starts after session_gap_minutes of the user's inactivity (among the user's
    session-less events) and is named after the user and its start time, so it stays stable when
    later data arrives.

    Incremental by event date: a build recomputes the dates from the earliest one among newly
    loaded clean rows (so late events are merged into their days) and keeps older dates. Gap
    sessions continue across the window start from the session ids already stored before it.
-#}
{{ config(materialized='incremental', on_schema_change='fail', incremental_strategy='delete+insert', unique_key='event_date') }}

{%- set window_start = none %}
{%- if is_incremental() %}
    {%- set window_start = reprocess_window_start(ref('stg_raw_events'), 'cast(event_time as date)', 'reason is null') %}
    {{- check_lateness(window_start) }}
{%- endif %}
{%- set gap_seconds = var('session_gap_minutes') * 60 %}

with clean as (
    select *
    from {{ ref('stg_raw_events') }}
    where reason is null
        and {{ event_window_filter('event_time', window_start) }}
),

sessionless as (
    -- Session-less events in the window, plus (incremental) the stored ones just before it that a
    -- session crossing the window start continues from, with their session ids.
    select
        user_id,
        event_time,
        cast(null as varchar) as stored_session_id
    from clean
    where user_session is null
    {%- if is_incremental() and window_start is not none %}
    union all
    select
        user_id,
        event_time,
        session_id as stored_session_id
    from {{ this }}
    where user_session is null
        and event_time < cast('{{ window_start }}' as {{ dbt.type_timestamp() }})
        and event_time >= {{ dbt.dateadd('second', -gap_seconds, "cast('" ~ window_start ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
    {%- endif %}
),

sessionless_starts as (
    select
        *,
        case
            when lag(event_time) over (partition by user_id order by event_time) is null
                or {{ dbt.datediff('lag(event_time) over (partition by user_id order by event_time)', 'event_time', 'second') }}
                > {{ gap_seconds }}
                then 1
            else 0
        end as starts_session
    from sessionless
),

sessionless_numbered as (
    select
        *,
        sum(starts_session) over (
            partition by user_id order by event_time rows between unbounded preceding and current row
        ) as session_number
    from sessionless_starts
),

sessionless_named as (
    select
        user_id,
        event_time,
        stored_session_id,
        first_value(
            coalesce(
                stored_session_id,
                'nosession-' || cast(user_id as varchar) || '-' || strftime(event_time, '%Y%m%d%H%M%S')
            )
        ) over (partition by user_id, session_number order by event_time) as session_id
    from sessionless_numbered
),

sessionless_ids as (
    select distinct
        user_id,
        event_time,
        session_id
    from sessionless_named
    where stored_session_id is null
)

select
    clean.event_time,
    cast(clean.event_time as date) as event_date,
    clean.event_type,
    clean.product_id,
    clean.category_id,
    clean.category_code,
    {{ dbt.split_part('clean.category_code', "'.'", 1) }} as top_category,
    clean.brand,
    clean.price,
    clean.user_id,
    clean.user_session,
    coalesce(clean.user_session, sessionless_ids.session_id) as session_id,
    clean.source_file,
    {{ loaded_at() }} as loaded_at
from clean
left join sessionless_ids
    on clean.user_session is null
    and clean.user_id = sessionless_ids.user_id
    and clean.event_time = sessionless_ids.event_time
