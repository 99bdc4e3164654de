{#- Backtest metrics of every model and baseline, one row per (target, model, metric). -#}
{%- for target in ml_targets() %}
select
    cast('{{ target }}' as {{ dbt.type_string() }}) as target,
    cast(model as {{ dbt.type_string() }}) as model,
    cast(is_baseline as boolean) as is_baseline,
    cast(evaluation as {{ dbt.type_string() }}) as evaluation,
    cast(name as {{ dbt.type_string() }}) as metric,
    cast(value as double) as value
from ({{ ml_records(target, 'metric') }}) as {{ target }}_metrics
{{ 'union all' if not loop.last }}
{%- endfor %}
