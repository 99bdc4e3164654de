{#- Customer lifetime value of every buyer at the prediction date D (ml_clv_training: BG/NBD x Gamma-Gamma). -#}
select
    cast(user_id as {{ dbt.type_bigint() }}) as user_id,
    cast(as_of_date as date) as as_of_date,
    cast(max(case when name = 'expected_purchases' then value end) as double) as expected_purchases,
    cast(max(case when name = 'probability_alive' then value end) as double) as probability_alive,
    cast(max(case when name = 'expected_revenue' then value end) as double) as expected_revenue,
    cast(max(case when name = 'clv' then value end) as double) as clv
from ({{ ml_records('clv', 'prediction') }}) as predictions
group by user_id, as_of_date
