{#-
    One row per clean, de-duplicated event. session_id is the shop's user_session; where that is
    missing, a session starts after session_gap_minutes of the user's inactivity (among the user's
    session-less events) and is named after the user and its start time.

    A view: the typed rows are already stored in stg_raw_events, and the per-event intermediate
    models read the events once each, so storing them a second time would cost more than it
    saves. Everything here is a filter, an anti-join against the few duplicated lines and a window
    over the few session-less events; a filter on event_date or loaded_at reaches the scan of
    stg_raw_events. As a view over all loaded rows it needs no incremental logic: gap sessions and
    duplicates always come out as in a full build.
-#}
{{ config(materialized='view') }}
{%- set gap_seconds = var('session_gap_minutes') * 60 %}
{%- set columns = ['event_time', 'event_type', 'product_id', 'category_id', 'category_code', 'brand', 'price', 'user_id', 'user_session', 'source_file', 'loaded_at'] %}

{#- Inlined twice below (a CTE read twice would be materialized): the clean rows, each duplicated
    line once. Derived columns are computed right on the scan, where DuckDB evaluates them once
    per distinct value of a dictionary-compressed column (category_code), not once per row. -#}
{%- set clean_events -%}
    select
        {%- for column in columns %}
        raw.{{ column }},
        {%- endfor %}
        {{ dbt.split_part('raw.category_code', "'.'", 1) }} as top_category
    from {{ ref('stg_raw_events') }} as raw
    -- Anti-join (a left join, not NOT EXISTS: DuckDB would group every row to decorrelate that).
    left join (
        select distinct
            line_hash,
            user_id,
            event_time
        from {{ ref('stg_event_duplicates') }}
    ) as duplicates
        on raw.line_hash = duplicates.line_hash
        and raw.user_id = duplicates.user_id
        and raw.event_time = duplicates.event_time
    where raw.reason is null
        and duplicates.line_hash is null
    union all
    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        {{ dbt.split_part('category_code', "'.'", 1) }} as top_category
    from {{ ref('stg_event_duplicates') }}
    where source_file = kept_file
{%- endset %}

with sessionless as (
    select
        *,
        lag(event_time) over (partition by user_id order by event_time) as previous_event_time
    from ({{ clean_events }}) as clean
    where user_session is null
),

sessionless_numbered as (
    select
        *,
        sum(
            case
                when previous_event_time is null
                    or {{ dbt.datediff('previous_event_time', 'event_time', 'second') }} > {{ gap_seconds }}
                    then 1
                else 0
            end
        ) over (
            partition by user_id order by event_time rows between unbounded preceding and current row
        ) as session_number
    from sessionless
),

events as (
    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        top_category,
        user_session as session_id
    from ({{ clean_events }}) as clean
    where user_session is not null
    union all
    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        top_category,
        'nosession-' || cast(user_id as {{ dbt.type_string() }}) || '-'
        || {{ format_timestamp('min(event_time) over (partition by user_id, session_number)', '%Y%m%d%H%M%S') }} as session_id
    from sessionless_numbered
)

select
    event_time,
    cast(event_time as date) as event_date,
    event_type,
    product_id,
    category_id,
    category_code,
    top_category,
    brand,
    price,
    user_id,
    user_session,
    session_id,
    source_file,
    loaded_at
from events
