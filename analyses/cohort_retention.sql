-- Do users come back? Weekly (var cohort_grain) retention of first-visit and first-purchase
-- cohorts, averaged over the cohorts that fully observed each period, weighted by cohort size.
-- Run: dbt compile --select cohort_retention (or paste with the refs replaced by marts.<name>).
select
    cohort_kind,
    period_number,
    count(*) as cohorts,
    sum(users_in_cohort) as users,
    round(100.0 * sum(retained_users) / sum(users_in_cohort), 1) as pct_retained,
    round(100.0 * sum(rolling_retained_users) / sum(users_in_cohort), 1) as pct_retained_or_later
from {{ ref('cohort_retention') }}
where is_period_complete
group by cohort_kind, period_number
order by cohort_kind, period_number
