{#-
    Backtest metrics of every model, challenger and baseline: one row per (target, model,
    evaluation, metric) and cutoff (statistic 'cutoff'), plus their mean and sample standard
    deviation over the cutoffs (statistic 'mean' / 'std', cutoff_date null).
-#}
with per_cutoff as (
    {%- for target in ml_targets() %}
    select
        cast('{{ target }}' as {{ dbt.type_string() }}) as target,
        cast(model as {{ dbt.type_string() }}) as model,
        cast(is_baseline as boolean) as is_baseline,
        cast(evaluation as {{ dbt.type_string() }}) as evaluation,
        cast(name as {{ dbt.type_string() }}) as metric,
        cast(value as double) as value,
        cast(as_of_date as date) as cutoff_date
    from ({{ ml_records(target, 'metric') }}) as {{ target }}_metrics
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

summaries as (
    select
        target,
        model,
        is_baseline,
        evaluation,
        metric,
        avg(value) as mean_value,
        stddev_samp(value) as std_value,
        count(*) as cutoffs
    from per_cutoff
    group by target, model, is_baseline, evaluation, metric
)

select
    target,
    model,
    is_baseline,
    evaluation,
    metric,
    value,
    cutoff_date,
    cast('cutoff' as {{ dbt.type_string() }}) as statistic,
    cast(1 as {{ dbt.type_bigint() }}) as cutoffs
from per_cutoff
{%- for statistic in ['mean', 'std'] %}
union all
select
    target,
    model,
    is_baseline,
    evaluation,
    metric,
    {{ statistic }}_value as value,
    cast(null as date) as cutoff_date,
    cast('{{ statistic }}' as {{ dbt.type_string() }}) as statistic,
    cast(cutoffs as {{ dbt.type_bigint() }}) as cutoffs
from summaries
{%- endfor %}
