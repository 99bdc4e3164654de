{#- One row per target: did the run complete (status, reason), on which cutoffs and snapshots, with how many rows, and which candidate won. -#}
{%- set types = ml_attribute_types() -%}
{%- for target in ml_targets() %}
select
    cast('{{ target }}' as {{ dbt.type_string() }}) as target,
    {%- for name, kind in ml_run_attributes().items() %}
    {%- set column = 'text' if kind in ('text', 'date') else 'value' %}
    cast(max(case when name = '{{ name }}' then {{ column }} end) as {{ types[kind] }}) as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
from ({{ ml_records(target, 'run') }}) as {{ target }}_run
{{ 'union all' if not loop.last }}
{%- endfor %}
