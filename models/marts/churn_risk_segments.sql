{#-
    One row per churn-risk segment at D: its size, the value it carries and stands to lose, and
    how precise it was in the rolling backtest (ml.churn_segment_backtest: the share of its buyers
    with no purchase in the next H days, beside the base rate, averaged over the cutoffs). The
    active segments (source 'model', or 'rule' when the models were skipped) partition the buyers;
    the rule's at_risk_high_value is also listed beside the model's (is_active false) so the two
    can be compared on the same buyers.
-#}
with buyers as (
    select * from {{ ref('customer_churn_risk') }}
),

active as (
    select
        as_of_date,
        risk_segment as segment,
        segment_source as source,
        true as is_active,
        count(*) as users,
        sum(clv) as clv,
        sum(clv_at_risk) as clv_at_risk,
        avg(churn_probability) as churn_probability_mean
    from buyers
    group by as_of_date, risk_segment, segment_source
),

rule_beside_model as (
    select
        as_of_date,
        'at_risk_high_value' as segment,
        'rule' as source,
        false as is_active,
        count(*) as users,
        sum(clv) as clv,
        sum(clv_at_risk) as clv_at_risk,
        avg(churn_probability) as churn_probability_mean
    from buyers
    where segment_source = 'model' and rule_at_risk_high_value
    group by as_of_date
),

segments as (
    select * from active
    union all
    select * from rule_beside_model
),

totals as (
    select count(*) as buyers
    from buyers
),

backtest as (
    select
        segment,
        source,
        avg(precision) as precision_mean,
        avg(base_rate) as base_rate_mean,
        avg(lift) as lift_mean,
        avg(user_share) as user_share_mean,
        count(*) as cutoffs
    from {{ ref('churn_segment_backtest') }}
    group by segment, source
)

select
    segments.as_of_date,
    cast(segments.segment as {{ dbt.type_string() }}) as segment,
    cast(segments.source as {{ dbt.type_string() }}) as source,
    segments.is_active,
    segments.segment in ('at_risk_high_value', 'at_risk') as is_risky,
    cast(segments.users as {{ dbt.type_bigint() }}) as users,
    cast(segments.users / nullif(totals.buyers, 0) as double) as user_share,
    cast(segments.clv as double) as clv,
    cast(segments.clv_at_risk as double) as clv_at_risk,
    cast(segments.churn_probability_mean as double) as churn_probability_mean,
    cast(backtest.precision_mean as double) as backtest_precision,
    cast(backtest.base_rate_mean as double) as backtest_base_rate,
    cast(backtest.lift_mean as double) as backtest_lift,
    cast(backtest.user_share_mean as double) as backtest_user_share,
    cast(coalesce(backtest.cutoffs, 0) as {{ dbt.type_bigint() }}) as backtest_cutoffs
from segments
cross join totals
left join backtest
    on segments.segment = backtest.segment
    and segments.source = backtest.source
