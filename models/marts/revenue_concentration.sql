{#-
    One row of headline revenue-concentration figures, read off revenue_pareto and customer_value:
    the revenue share of the top 1%, 10% and 20% of buyers, the share of buyers that makes
    pareto_revenue_target (var, default 0.8) of revenue, and the Gini coefficient of buyer revenue.
    Without revenue (no buyer, or every purchase priced 0) these figures are undefined: null.
-#}
{%- set target = value_var('pareto_revenue_target', 0.8) | float %}

with buyers as (
    select
        buyer_rank,
        revenue,
        sum(revenue) over (order by buyer_rank rows between unbounded preceding and current row) as cumulative_revenue,
        -- Rank in ascending order of revenue, for the Gini coefficient.
        count(*) over () + 1 - buyer_rank as ascending_rank
    from {{ ref('customer_value') }}
    where buyer_rank is not null
),

totals as (
    select
        count(*) as buyers,
        coalesce(sum(revenue), 0) as total_revenue,
        coalesce(sum(ascending_rank * revenue), 0) as weighted_revenue
    from buyers
),

target_reached as (
    -- Rounded to cents so a float residue never hides the buyer who reaches the target. Without
    -- revenue no buyer makes a share of it: null, like the shares.
    select min(buyers.buyer_rank) as buyers_for_revenue_target
    from buyers
    cross join totals
    where
        totals.total_revenue > 0
        and round(buyers.cumulative_revenue, 2) >= round({{ target }} * totals.total_revenue, 2)
),

headline as (
    select
        max(case when buyer_percentile = 1 then cumulative_revenue_share end) as top_1pct_revenue_share,
        max(case when buyer_percentile = 10 then cumulative_revenue_share end) as top_10pct_revenue_share,
        max(case when buyer_percentile = 20 then cumulative_revenue_share end) as top_20pct_revenue_share
    from {{ ref('revenue_pareto') }}
)

select
    cast(totals.buyers as bigint) as buyers,
    cast(totals.total_revenue as double) as total_revenue,
    headline.top_1pct_revenue_share,
    headline.top_10pct_revenue_share,
    headline.top_20pct_revenue_share,
    cast({{ target }} as double) as revenue_target_share,
    cast(target_reached.buyers_for_revenue_target as bigint) as buyers_for_revenue_target,
    {{ value_ratio('target_reached.buyers_for_revenue_target', 'totals.buyers') }} as buyer_share_for_revenue_target,
    cast(
        {{ value_ratio('2 * totals.weighted_revenue', 'totals.buyers * totals.total_revenue') }}
        - {{ value_ratio('totals.buyers + 1', 'totals.buyers') }}
        as double
    ) as revenue_gini
from totals
cross join headline
cross join target_reached
