{#-
    The Pareto curve: for buyer percentile p = 1..100, the revenue share of the top p% of buyers
    (ceil(p/100 x buyers) buyers, in customer_value's buyer_rank order, the same rounding as the tiers).
-#}
with buyers as (
    select
        buyer_rank,
        revenue,
        sum(revenue) over (order by buyer_rank rows between unbounded preceding and current row) as cumulative_revenue
    from {{ ref('customer_value') }}
    where buyer_rank is not null
),

totals as (
    select
        count(*) as buyers,
        coalesce(sum(revenue), 0) as total_revenue
    from buyers
),

percentiles as (
    select
        cast(series.generated_number as bigint) as buyer_percentile,
        cast({{ value_tier_cutoff('series.generated_number / 100.0', 'totals.buyers') }} as bigint) as buyers_included,
        totals.buyers,
        totals.total_revenue
    from ({{ dbt.generate_series(100) }}) as series
    cross join totals
),

curve as (
    select
        percentiles.buyer_percentile,
        percentiles.buyers_included,
        percentiles.buyers,
        cast(coalesce(buyers.cumulative_revenue, 0) as double) as cumulative_revenue,
        {{ value_ratio('coalesce(buyers.cumulative_revenue, 0)', 'percentiles.total_revenue') }} as cumulative_revenue_share
    from percentiles
    left join buyers on percentiles.buyers_included = buyers.buyer_rank
)

select
    buyer_percentile,
    buyers_included,
    buyers,
    cumulative_revenue,
    cumulative_revenue_share,
    cumulative_revenue_share
    - coalesce(lag(cumulative_revenue_share) over (order by buyer_percentile), 0) as percentile_revenue_share
from curve
