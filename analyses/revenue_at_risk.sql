{#-
    Which high-value buyers are likely to stop purchasing, and how much revenue goes with them?
    A retention call list: power and core buyers in the high churn-risk band at the prediction date,
    ordered by expected revenue at risk (revenue in the last H days x churn probability), with the
    big-spender score beside it. For the totals by tier x band, read marts.revenue_at_risk.
-#}
select
    predictions.user_id,
    customer_value.value_tier,
    predictions.churn_probability,
    predictions.churn_risk_band,
    history.past_revenue,
    history.recent_revenue,
    history.days_since_last_purchase,
    history.recent_revenue * predictions.churn_probability as expected_revenue_at_risk,
    big_spenders.big_spender_probability,
    big_spenders.rank as big_spender_rank
from {{ ref('churn_predictions') }} as predictions
inner join {{ ref('customer_value') }} as customer_value
    on predictions.user_id = customer_value.user_id
inner join {{ ref('ml_snapshot_labels') }} as history
    on predictions.user_id = history.user_id
    and predictions.as_of_date = history.as_of_date
left join {{ ref('big_spender_predictions') }} as big_spenders
    on predictions.user_id = big_spenders.user_id
    and predictions.as_of_date = big_spenders.as_of_date
where customer_value.value_tier in ('power', 'core')
    and predictions.churn_risk_band = 'high'
order by expected_revenue_at_risk desc, history.past_revenue desc, predictions.user_id asc
