-- Do high engagement ratios mean higher revenue? Per ratio: the Spearman correlation with revenue
-- per user over all of the ratio's users and over buyers only, beside the revenue per user of the
-- lowest and highest deciles and the top decile's share of revenue.
with correlations as (
    select
        ratio,
        max(case when population = 'ratio_population' then users end) as users,
        max(case when population = 'ratio_population' then spearman_correlation end) as spearman_all,
        max(case when population = 'buyers_only' then users end) as buyers,
        max(case when population = 'buyers_only' then spearman_correlation end) as spearman_buyers
    from {{ ref('engagement_revenue_correlation') }}
    group by ratio
),

decile_extremes as (
    select
        ratio,
        max(case when decile = 1 then revenue_per_user_mean end) as bottom_decile_revenue_per_user,
        max(case when decile = 10 then revenue_per_user_mean end) as top_decile_revenue_per_user,
        max(case when decile = 10 then revenue_share end) as top_decile_revenue_share
    from {{ ref('engagement_deciles') }}
    group by ratio
)

select
    correlations.ratio,
    correlations.users,
    round(correlations.spearman_all, 3) as spearman_all,
    correlations.buyers,
    round(correlations.spearman_buyers, 3) as spearman_buyers,
    round(decile_extremes.bottom_decile_revenue_per_user, 2) as bottom_decile_revenue_per_user,
    round(decile_extremes.top_decile_revenue_per_user, 2) as top_decile_revenue_per_user,
    round(decile_extremes.top_decile_revenue_share, 3) as top_decile_revenue_share
from correlations
inner join decile_extremes
    on correlations.ratio = decile_extremes.ratio
order by correlations.ratio
