{#-
    funnel_paths' next-event counts per event date: one row per UTC date of the event, stage (the
    event's type), next event type and product relation, counting the events of
    int_session_event_steps. funnel_paths sums the dates.
    Incremental by date (macros/mart_states.sql): int_session_event_steps rewrites every session a
    load touches, so the dates from the earliest event of its rows loaded since this model's last
    run are recomputed (a session's earlier events get a new next step too) and older dates keep
    their counts.
-#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    pre_hook="{{ delete_state_windows('event_date', {'all': funnel_path_step_window()}) }}",
    **date_keyed_storage_config('event_date')
) }}
{%- set window_start = funnel_path_step_window() %}

with classified as (
    select
        cast(event_time as date) as event_date,
        event_type as stage,
        next_event_type,
        case
            when next_event_type is null then null
            when next_product_id = product_id then 'same_product'
            when next_category_id = category_id then 'same_category'
            else 'other_category'
        end as product_relation
    from {{ ref('int_session_event_steps') }}
    where {{ event_window_filter('event_time', window_start) }}
)

select
    event_date,
    stage,
    next_event_type,
    product_relation,
    cast(count(*) as {{ dbt.type_bigint() }}) as occurrences,
    {{ loaded_at() }} as loaded_at
from classified
group by event_date, stage, next_event_type, product_relation
