{#- Churn probability of every buyer at the prediction date D (ml_churn_training: the backtest champion). -#}
select
    cast(user_id as {{ dbt.type_bigint() }}) as user_id,
    cast(as_of_date as date) as as_of_date,
    cast(value as double) as churn_probability,
    cast({{ ml_risk_band('value') }} as {{ dbt.type_string() }}) as churn_risk_band
from ({{ ml_records('churn', 'prediction') }}) as predictions
