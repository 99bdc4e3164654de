{#- One row per target and backtest cutoff: used ('ok') or skipped with the reason, the training snapshots and the row counts. -#}
{%- set types = ml_attribute_types() -%}
{%- for target in ml_targets() %}
select
    cast('{{ target }}' as {{ dbt.type_string() }}) as target,
    cast(as_of_date as date) as cutoff_date,
    {%- for name, kind in ml_cutoff_attributes().items() %}
    {%- set column = 'text' if kind in ('text', 'date') else 'value' %}
    cast(max(case when name = '{{ name }}' then {{ column }} end) as {{ types[kind] }}) as {{ name }},
    {%- endfor %}
    cast({{ dbt.dateadd('day', var('churn_horizon_days', 28) | int, 'cast(as_of_date as date)') }} as date) as label_window_end
from ({{ ml_records(target, 'cutoff') }}) as {{ target }}_cutoffs
group by as_of_date
{{ 'union all' if not loop.last }}
{%- endfor %}
