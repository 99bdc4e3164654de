{#- The reliability table of every model and baseline on each backtest cutoff (and of the champion's calibrated scores), one row per probability bin. -#}
{%- set figures = {'bin_low': 'double', 'bin_high': 'double', 'users': dbt.type_bigint(), 'mean_predicted': 'double', 'observed_rate': 'double'} -%}
{%- for target in ml_classification_targets() %}
select
    cast('{{ target }}' as {{ dbt.type_string() }}) as target,
    cast(model as {{ dbt.type_string() }}) as model,
    cast(is_baseline as boolean) as is_baseline,
    cast(evaluation as {{ dbt.type_string() }}) as evaluation,
    cast(as_of_date as date) as cutoff_date,
    cast(text as {{ dbt.type_bigint() }}) as bin,
    {%- for name, type in figures.items() %}
    cast(max(case when name = '{{ name }}' then value end) as {{ type }}) as {{ name }},
    {%- endfor %}
    cast(
        max(case when name = 'observed_rate' then value end)
        - max(case when name = 'mean_predicted' then value end) as double
    ) as calibration_gap
from ({{ ml_records(target, 'calibration') }}) as {{ target }}_calibration
group by model, is_baseline, evaluation, as_of_date, text
{{ 'union all' if not loop.last }}
{%- endfor %}
