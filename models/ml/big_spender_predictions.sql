{#- Big-spender probability of every user at the prediction date D, ranked (1 = most likely). -#}
select
    cast(user_id as {{ dbt.type_bigint() }}) as user_id,
    cast(as_of_date as date) as as_of_date,
    cast(value as double) as big_spender_probability,
    cast(row_number() over (partition by as_of_date order by value desc, user_id asc) as {{ dbt.type_bigint() }}) as rank
from ({{ ml_records('big_spender', 'prediction') }}) as predictions
