-- Is the active user base growing or leaking? Per complete week: new, returning, resurrecting
-- and dormant users (dormant shown negative, as lifecycle charts do), and the net change.
-- Run: dbt compile --select user_lifecycle (or paste with the refs replaced by marts.<name>).
select
    activity,
    week_start,
    sum(case when lifecycle_state = 'new' then users else 0 end) as new_users,
    sum(case when lifecycle_state = 'returning' then users else 0 end) as returning_users,
    sum(case when lifecycle_state = 'resurrecting' then users else 0 end) as resurrecting_users,
    -sum(case when lifecycle_state = 'dormant' then users else 0 end) as dormant_users,
    sum(case when lifecycle_state in ('new', 'resurrecting') then users when lifecycle_state = 'dormant' then -users else 0 end)
        as net_change
from {{ ref('user_lifecycle') }}
where is_week_complete and not is_first_data_week
group by activity, week_start
order by activity, week_start
