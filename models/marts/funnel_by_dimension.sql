{#-
    The view -> cart -> purchase funnel per level (user, session), dimension and dimension value,
    one row per stage. Dimension 'overall' (value 'all') is the whole funnel: funnel_summary.
    Counts over the stored stage states (int_funnel_entity_stages): one pass, no event is read.
-#}
{%- set stages = funnel_stages() -%}

with entity_stages as (
    select * from {{ ref('int_funnel_entity_stages') }}
),

price_bands as (
    select * from {{ ref('price_bands') }}
),

by_value as (
    select
        level,
        dimension,
        dimension_value,
        count(*) as entities,
        count(first_view_at) as reached_view,
        count(first_cart_at) as reached_cart,
        count(first_purchase_at) as reached_purchase,
        count(first_view_at) as ordered_view,
        count(ordered_cart_at) as ordered_cart,
        count(ordered_purchase_at) as ordered_purchase,
        count(first_view_at) as within_window_view,
        sum(case when cart_within_window then 1 else 0 end) as within_window_cart,
        sum(case when purchase_within_window then 1 else 0 end) as within_window_purchase,
        sum(views) as events_view,
        sum(carts) as events_cart,
        sum(purchases) as events_purchase
    from entity_stages
    group by level, dimension, dimension_value
),

stages as (
    {%- for stage in stages %}
    {%- set previous = stages[loop.index0 - 1] %}
    select
        level,
        dimension,
        dimension_value,
        '{{ stage }}' as stage,
        {{ loop.index }} as stage_order,
        entities,
        reached_{{ stage }} as entities_reached,
        ordered_{{ stage }} as entities_ordered,
        within_window_{{ stage }} as entities_ordered_within_window,
        events_{{ stage }} as stage_events,
        {%- if loop.first %}
        cast(null as {{ funnel_type_double() }}) as conversion_from_previous,
        cast(null as {{ funnel_type_double() }}) as ordered_conversion_from_previous,
        cast(null as {{ funnel_type_double() }}) as event_conversion_from_previous,
        {%- else %}
        {{ funnel_ratio('reached_' ~ stage, 'reached_' ~ previous) }} as conversion_from_previous,
        {{ funnel_ratio('ordered_' ~ stage, 'ordered_' ~ previous) }} as ordered_conversion_from_previous,
        {{ funnel_ratio('events_' ~ stage, 'events_' ~ previous) }} as event_conversion_from_previous,
        {%- endif %}
        {{ funnel_ratio('reached_' ~ stage, 'reached_view') }} as conversion_from_view,
        {{ funnel_ratio('ordered_' ~ stage, 'reached_view') }} as ordered_conversion_from_view,
        {{ funnel_ratio('within_window_' ~ stage, 'reached_view') }} as within_window_conversion_from_view
    from by_value
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select
    stages.level,
    stages.dimension,
    stages.dimension_value,
    {% call bigint_on_spark() %}dense_rank() over (
        partition by stages.level, stages.dimension
        order by price_bands.sort_order, stages.dimension_value
    ){% endcall %} as value_order,
    stages.stage,
    cast(stages.stage_order as integer) as stage_order,
    stages.entities,
    stages.entities_reached,
    stages.entities_ordered,
    stages.entities_reached - stages.entities_ordered as entities_reached_out_of_order,
    cast(stages.entities_ordered_within_window as {{ dbt.type_bigint() }}) as entities_ordered_within_window,
    stages.conversion_from_previous,
    stages.conversion_from_view,
    stages.ordered_conversion_from_previous,
    stages.ordered_conversion_from_view,
    stages.within_window_conversion_from_view,
    1 - stages.ordered_conversion_from_previous as drop_off_share,
    cast(stages.stage_events as {{ dbt.type_bigint() }}) as stage_events,
    stages.event_conversion_from_previous
from stages
left join price_bands
    on stages.dimension = 'price_band'
    and stages.dimension_value = price_bands.band_label
