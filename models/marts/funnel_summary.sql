{#- The whole funnel, one row per level and stage: the 'overall' rows of funnel_by_dimension. -#}
with funnel as (
    select * from {{ ref('funnel_by_dimension') }}
)

select
    level,
    stage,
    stage_order,
    entities,
    entities_reached,
    entities_ordered,
    entities_reached_out_of_order,
    entities_ordered_within_window,
    conversion_from_previous,
    conversion_from_view,
    ordered_conversion_from_previous,
    ordered_conversion_from_view,
    within_window_conversion_from_view,
    drop_off_share,
    stage_events,
    event_conversion_from_previous
from funnel
where dimension = 'overall'
