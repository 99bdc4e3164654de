{#-
    Expected revenue at risk at the prediction date D, by value tier x churn risk band: the buyers
    of ml.churn_predictions joined to their value tier (marts.customer_value), their revenue as of
    D (ml_snapshot_labels) and their lifetime value (ml.customer_lifetime_value). A user's
    expected revenue at risk = revenue in the last H days up to D x churn probability: the
    run-rate a churner stops bringing in the next H days, weighted by how likely that is; CLV at
    risk = CLV x churn probability: the lifetime value at stake. The churn probabilities are the
    calibrated ones. Empty when the churn model was skipped (see ml.model_runs).
-#}
with scored as (
    select
        predictions.as_of_date,
        coalesce(customer_value.value_tier, 'unknown') as value_tier,
        predictions.churn_risk_band,
        predictions.churn_probability,
        history.past_revenue,
        history.recent_revenue,
        history.recent_revenue * predictions.churn_probability as expected_revenue_at_risk,
        lifetime.clv,
        lifetime.clv * predictions.churn_probability as clv_at_risk
    from {{ ref('churn_predictions') }} as predictions
    inner join {{ ref('ml_snapshot_labels') }} as history
        on predictions.user_id = history.user_id
        and predictions.as_of_date = history.as_of_date
    left join {{ ref('customer_lifetime_value') }} as lifetime
        on predictions.user_id = lifetime.user_id
        and predictions.as_of_date = lifetime.as_of_date
    left join {{ ref('customer_value') }} as customer_value
        on predictions.user_id = customer_value.user_id
),

grouped as (
    select
        as_of_date,
        value_tier,
        churn_risk_band,
        count(*) as users,
        sum(past_revenue) as past_revenue,
        sum(recent_revenue) as recent_revenue,
        avg(churn_probability) as churn_probability_mean,
        sum(expected_revenue_at_risk) as expected_revenue_at_risk,
        sum(clv) as clv,
        sum(clv_at_risk) as clv_at_risk
    from scored
    group by as_of_date, value_tier, churn_risk_band
)

select
    as_of_date,
    cast(value_tier as {{ dbt.type_string() }}) as value_tier,
    cast(churn_risk_band as {{ dbt.type_string() }}) as churn_risk_band,
    cast(users as {{ dbt.type_bigint() }}) as users,
    cast(past_revenue as double) as past_revenue,
    cast(recent_revenue as double) as recent_revenue,
    cast(churn_probability_mean as double) as churn_probability_mean,
    cast(expected_revenue_at_risk as double) as expected_revenue_at_risk,
    cast(
        expected_revenue_at_risk / nullif(sum(expected_revenue_at_risk) over (partition by as_of_date), 0) as double
    ) as share_of_expected_revenue_at_risk,
    cast(clv as double) as clv,
    cast(clv_at_risk as double) as clv_at_risk
from grouped
