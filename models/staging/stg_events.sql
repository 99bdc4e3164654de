{#-
    One row per clean, de-duplicated event. session_id is the shop's user_session; where that is
    missing, a session starts after session_gap_minutes of the user's inactivity (among the user's
    session-less events) and is named after the user and its start time, so it stays stable when
    later data arrives.
-#}
with clean as (
    select *
    from {{ ref('stg_raw_events') }}
    where reason is null
),

sessionless as (
    select
        user_id,
        event_time,
        case
            when lag(event_time) over (partition by user_id order by event_time) is null
                or {{ dbt.datediff('lag(event_time) over (partition by user_id order by event_time)', 'event_time', 'second') }}
                > {{ var('session_gap_minutes') }} * 60
                then 1
            else 0
        end as starts_session
    from clean
    where user_session is null
),

sessionless_numbered as (
    select
        user_id,
        event_time,
        sum(starts_session) over (
            partition by user_id order by event_time rows between unbounded preceding and current row
        ) as session_number
    from sessionless
),

sessionless_ids as (
    select distinct
        user_id,
        event_time,
        'nosession-' || cast(user_id as varchar) || '-'
        || strftime(min(event_time) over (partition by user_id, session_number), '%Y%m%d%H%M%S') as session_id
    from sessionless_numbered
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
    clean.source_file
from clean
left join sessionless_ids
    on clean.user_session is null
    and clean.user_id = sessionless_ids.user_id
    and clean.event_time = sessionless_ids.event_time
