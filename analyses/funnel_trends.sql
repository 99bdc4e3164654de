-- Is the funnel getting better? Weekly ordered funnel (view -> cart -> purchase within
-- funnel_conversion_window_days of the first view) by entry week, observable users only:
-- censored users (window still open at the end of the data) are shown apart, not as lost.
-- Run: dbt compile --select funnel_trends (or paste with the refs replaced by marts.<name>).
select
    entry_week,
    users_entered,
    users_observable,
    users_censored,
    reached_cart,
    reached_purchase,
    round(100 * view_to_cart_rate, 2) as pct_view_to_cart,
    round(100 * cart_to_purchase_rate, 1) as pct_cart_to_purchase,
    round(100 * view_to_purchase_rate, 2) as pct_view_to_purchase,
    is_week_fully_observable
from {{ ref('funnel_trends') }}
order by entry_week
