{#- One way to count events by type: `count_events_by_type()` expands to one column per type. -#}
{% macro event_types() -%}
    {{ return(['view', 'cart', 'remove_from_cart', 'purchase']) }}
{%- endmacro %}

{% macro event_type_plural(event_type) -%}
    {{ return({'view': 'views', 'cart': 'carts', 'remove_from_cart': 'remove_from_carts', 'purchase': 'purchases'}[event_type]) }}
{%- endmacro %}

{% macro count_events_by_type(type_column='event_type') -%}
    {%- for t in event_types() %}
    count(case when {{ type_column }} = '{{ t }}' then 1 end) as {{ event_type_plural(t) }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro count_distinct(expr) -%}
    {#- count(distinct expr). DuckDB's count(distinct) keeps a hash set per group and is several
        times slower than collecting the group's values and counting the unique ones (same result:
        nulls are not counted). -#}
    cast(list_unique(list({{ expr }})) as {{ dbt.type_bigint() }})
{%- endmacro %}
