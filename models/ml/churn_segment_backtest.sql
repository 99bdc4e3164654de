{#- How precise the churn-risk segments were at each backtest cutoff (ml/segments.py): one row per cutoff, segment and source ('model' or 'rule'). -#}
select
    cast(as_of_date as date) as cutoff_date,
    cast(model as {{ dbt.type_string() }}) as segment,
    cast(evaluation as {{ dbt.type_string() }}) as source,
    cast(max(case when name = 'users' then value end) as {{ dbt.type_bigint() }}) as users,
    cast(max(case when name = 'user_share' then value end) as double) as user_share,
    cast(max(case when name = 'churned_users' then value end) as {{ dbt.type_bigint() }}) as churned_users,
    cast(max(case when name = 'precision' then value end) as double) as precision,
    cast(max(case when name = 'base_rate' then value end) as double) as base_rate,
    cast(max(case when name = 'lift' then value end) as double) as lift,
    cast(max(case when name = 'clv_at_risk' then value end) as double) as clv_at_risk
from ({{ ml_records('churn', 'segment') }}) as segments
group by as_of_date, model, evaluation
