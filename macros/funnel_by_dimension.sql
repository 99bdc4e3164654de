{#-
    funnel_by_dimension, one (level, dimension) at a time. Each part aggregates one branch of
    int_funnel_entity_stages (one hash table of entities); computing every part in one statement
    ran all of them side by side and spilled to disk at 42 M events. The model computes the first
    part and a post-hook inserts the others, one statement each.
-#}

{% macro funnel_by_dimension_parts() -%}
    {%- set parts = [] -%}
    {%- for level in ['session', 'user'] -%}
        {%- for dimension in ['overall'] + funnel_dimensions() -%}
            {%- do parts.append((level, dimension)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(parts) }}
{%- endmacro %}


{% macro funnel_by_dimension_part(level, dimension) -%}
{%- set stages = funnel_stages() -%}

with entity_stages as (
    -- One branch of the view's UNION ALL: the filter prunes the others.
    select * from {{ ref('int_funnel_entity_stages') }}
    where level = '{{ level }}' and dimension = '{{ dimension }}'
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
    dense_rank() over (
        partition by stages.level, stages.dimension
        order by price_bands.sort_order, stages.dimension_value
    ) as value_order,
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
{%- endmacro %}


{% macro funnel_by_dimension_other_parts() -%}
    {#- Post-hook of funnel_by_dimension: insert every part after the first. -#}
    {%- for level, dimension in funnel_by_dimension_parts()[1:] %}
    insert into {{ this }} by name
    {{ funnel_by_dimension_part(level, dimension) }};
    {%- endfor %}
{%- endmacro %}
