{#-
    The churn-risk segment of every buyer at the prediction date D (docs/prediction.md, "Risk
    segments"). With the models (ml.churn_predictions and ml.customer_lifetime_value both filled):
      high value          the top core_tier_share (0.5) of buyers by CLV;
      at_risk_high_value  among high-value buyers with churn_probability >= churn_risk_band_high
                          (0.8), the risk_segment_share (0.1) of all buyers most likely to churn;
      at_risk             the other buyers with churn_probability >= churn_risk_band_high;
      not_at_risk         the rest.
    ml/segments.py applies the same rules at each backtest cutoff (ml.churn_segment_backtest).
    Without them (a run skipped: the ML tables are empty) the fallback is the rule of
    marts.customer_segments: at_risk_high_value where is_at_risk_high_value, else not_at_risk,
    for every buyer, as of the last event date. rule_at_risk_high_value carries the rule's flag
    in both cases, for comparison.
-#}
{%- set band = var('churn_risk_band_high', 0.8) | float %}
{%- set share = var('risk_segment_share', 0.1) | float %}
{%- set high_value_share = var('core_tier_share', 0.5) | float %}

with scored as (
    select
        predictions.user_id,
        predictions.as_of_date,
        predictions.churn_probability,
        predictions.churn_risk_band,
        lifetime.clv,
        lifetime.expected_revenue,
        lifetime.probability_alive
    from {{ ref('churn_predictions') }} as predictions
    inner join {{ ref('customer_lifetime_value') }} as lifetime
        on predictions.user_id = lifetime.user_id
        and predictions.as_of_date = lifetime.as_of_date
),

valued as (
    select
        *,
        row_number() over (order by clv desc, user_id asc) as clv_rank,
        count(*) over () as buyers
    from scored
),

flagged as (
    select
        *,
        clv_rank <= {{ value_tier_cutoff(high_value_share, 'buyers') }} as is_high_value,
        churn_probability >= {{ band }} as is_high_risk
    from valued
),

ranked as (
    select
        *,
        row_number() over (
            partition by is_high_value and is_high_risk
            order by churn_probability desc, user_id asc
        ) as risk_rank
    from flagged
),

model_segments as (
    select
        user_id,
        as_of_date,
        churn_probability,
        churn_risk_band,
        clv,
        expected_revenue,
        probability_alive,
        churn_probability * clv as clv_at_risk,
        is_high_value,
        case
            when is_high_value and is_high_risk and risk_rank <= {{ value_tier_cutoff(share, 'buyers') }}
                then 'at_risk_high_value'
            when is_high_risk then 'at_risk'
            else 'not_at_risk'
        end as risk_segment,
        'model' as segment_source
    from ranked
),

rule_segments as (
    -- The fallback: every buyer of customer_segments, as of the last event date.
    select
        segments.user_id,
        (select max(event_date) from {{ ref('int_user_days') }}) as as_of_date,
        cast(null as double) as churn_probability,
        cast(null as {{ dbt.type_string() }}) as churn_risk_band,
        cast(null as double) as clv,
        cast(null as double) as expected_revenue,
        cast(null as double) as probability_alive,
        cast(null as double) as clv_at_risk,
        segments.value_tier in ('power', 'core') as is_high_value,
        case when segments.is_at_risk_high_value then 'at_risk_high_value' else 'not_at_risk' end as risk_segment,
        'rule' as segment_source
    from {{ ref('customer_segments') }} as segments
    where segments.purchases > 0 and not exists (select 1 from model_segments)
),

combined as (
    select * from model_segments
    union all
    select * from rule_segments
)

select
    combined.user_id,
    cast(combined.as_of_date as date) as as_of_date,
    cast(coalesce(customer_value.value_tier, 'unknown') as {{ dbt.type_string() }}) as value_tier,
    cast(combined.risk_segment as {{ dbt.type_string() }}) as risk_segment,
    cast(combined.segment_source as {{ dbt.type_string() }}) as segment_source,
    cast(combined.churn_probability as double) as churn_probability,
    cast(combined.churn_risk_band as {{ dbt.type_string() }}) as churn_risk_band,
    cast(combined.clv as double) as clv,
    cast(combined.expected_revenue as double) as expected_revenue,
    cast(combined.probability_alive as double) as probability_alive,
    cast(combined.clv_at_risk as double) as clv_at_risk,
    combined.is_high_value,
    coalesce(customer_segments.is_at_risk_high_value, false) as rule_at_risk_high_value
from combined
left join {{ ref('customer_value') }} as customer_value
    on combined.user_id = customer_value.user_id
left join {{ ref('customer_segments') }} as customer_segments
    on combined.user_id = customer_segments.user_id
