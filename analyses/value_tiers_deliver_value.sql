-- Which segments deliver the most value? Each value tier's share of users against its share of
-- revenue, with the headline concentration figures on every row (one query, one small table).
select
    tier_profile.value_tier,
    tier_profile.users,
    round(tier_profile.user_share, 4) as user_share,
    round(tier_profile.revenue, 2) as revenue,
    round(tier_profile.revenue_share, 4) as revenue_share,
    round(tier_profile.revenue_per_user, 2) as revenue_per_user,
    round(concentration.top_20pct_revenue_share, 4) as top_20pct_revenue_share,
    round(concentration.buyer_share_for_revenue_target, 4) as buyer_share_for_revenue_target,
    concentration.revenue_target_share,
    round(concentration.revenue_gini, 4) as revenue_gini
from {{ ref('tier_profile') }} as tier_profile
cross join {{ ref('revenue_concentration') }} as concentration
order by tier_profile.tier_order
