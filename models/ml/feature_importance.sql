{#- Permutation importance (drop in backtest ROC AUC) of every feature, per target and model. -#}
{%- for target in ml_classification_targets() %}
select
    cast('{{ target }}' as {{ dbt.type_string() }}) as target,
    cast(model as {{ dbt.type_string() }}) as model,
    cast(name as {{ dbt.type_string() }}) as feature,
    cast(value as double) as importance,
    cast(value_std as double) as importance_std
from ({{ ml_records(target, 'importance') }}) as {{ target }}_importance
{{ 'union all' if not loop.last }}
{%- endfor %}
