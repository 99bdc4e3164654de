{#-
    RFM scores and segments per buyer at every stored customer feature snapshot
    (intermediate.int_customer_feature_snapshots): no new scan of the events. A buyer is a user with
    at least one purchase on or before the as-of date.

    recency_days = days from the last purchase to the as-of date, frequency = orders (purchasing
    sessions, not purchase events: a basket of five items is one order), monetary = revenue up to
    the as-of date. Each dimension is scored 1-5 within the snapshot by rfm_quintile_score (quintile
    of the share of other buyers strictly worse; ties share a score; recency reversed, so the most
    recent buyers score highest). The segment comes from the (r_score, f_score) grid of the seed
    rfm_segment_rules.
-#}

with buyers as (
    select
        as_of_date,
        user_id,
        days_since_last_purchase as recency_days,
        purchasing_sessions_all as frequency,
        purchases_all as purchases,
        revenue_all as monetary,
        days_since_first_purchase
    from {{ ref('int_customer_feature_snapshots') }}
    where purchases_all > 0
),

scored as (
    select
        *,
        {%- for score, expr, order in rfm_dimensions() %}
        {{ rfm_quintile_score(expr, order, 'as_of_date') }} as {{ score }}_score,
        {%- endfor %}
        count(*) over (partition by as_of_date) as buyers_in_snapshot
    from buyers
),

latest_snapshot as (
    -- The last stored snapshot, with or without buyers.
    select max(as_of_date) as as_of_date
    from {{ ref('int_customer_feature_snapshots') }}
)

select
    scored.as_of_date,
    scored.as_of_date = latest_snapshot.as_of_date as is_latest_snapshot,
    scored.user_id,
    scored.recency_days,
    scored.frequency,
    scored.purchases,
    scored.monetary,
    scored.days_since_first_purchase,
    {%- for score, expr, order in rfm_dimensions() %}
    scored.{{ score }}_score,
    {%- endfor %}
    {{ dbt.concat(["cast(scored.r_score as " ~ dbt.type_string() ~ ")", "cast(scored.f_score as " ~ dbt.type_string() ~ ")", "cast(scored.m_score as " ~ dbt.type_string() ~ ")"]) }} as rfm_score,
    rules.rfm_segment,
    rules.segment_order,
    cast(scored.buyers_in_snapshot as {{ dbt.type_bigint() }}) as buyers_in_snapshot
from scored
cross join latest_snapshot
-- A left join: a grid cell without a rule leaves rfm_segment null, which the contract refuses.
left join {{ ref('rfm_segment_rules') }} as rules
    on scored.r_score between rules.r_score_min and rules.r_score_max
    and scored.f_score between rules.f_score_min and rules.f_score_max
