-- Which segments are risky or unprofitable? Every flag and segment with a concern, its size,
-- revenue share and recent revenue trend (last segment_trend_days days vs the ones before),
-- biggest revenue exposure first.
select
    grouping,
    name,
    concern,
    users,
    round(user_share, 4) as user_share,
    round(revenue, 2) as revenue,
    round(revenue_share, 4) as revenue_share,
    round(revenue_recent, 2) as revenue_recent,
    round(revenue_previous, 2) as revenue_previous,
    round(revenue_trend, 4) as revenue_trend,
    active_recent_users
from {{ ref('segment_summary') }}
where is_risky
order by grouping desc, revenue_share desc
