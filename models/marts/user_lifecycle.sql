{#-
    Weekly lifecycle of the user base (the "lifecycle" chart of product-analytics tools), once
    for any activity ('active': any event) and once for purchasing ('purchasing'). Each week a
    user active in it is new (first active week ever), returning (active the week before too) or
    resurrecting (active before, but not the week before); a user active the week before but not
    in this week is dormant in this week. Rolled up from int_user_days.

    Every week with data gets all four states (0 when nobody is in one). The first week of data
    counts everyone as new (no history before it), and the last week may be incomplete, so its
    dormant users may still show up: both are flagged.
-#}
{%- set states = ['new', 'returning', 'resurrecting', 'dormant'] %}
{%- set activities = {'active': 'events > 0', 'purchasing': 'purchases > 0'} %}

with user_weeks as (
    {{ active_user_periods(activities, 'week', 'activity', 'week_start') }}
),

weeks as (
    select
        {{ period_start('event_date', 'week') }} as week_start,
        max(event_date) as last_event_date
    from {{ ref('int_user_days') }}
    group by {{ period_start('event_date', 'week') }}
),

data_range as (
    select
        min(week_start) as first_week,
        max(week_start) as last_week,
        max(last_event_date) as last_event_date
    from weeks
),

sequenced as (
    select
        activity,
        user_id,
        week_start,
        lag(week_start) over (partition by activity, user_id order by week_start) as previous_week,
        lead(week_start) over (partition by activity, user_id order by week_start) as next_week
    from user_weeks
),

user_states as (
    select
        activity,
        week_start,
        case
            when previous_week is null then 'new'
            when {{ dbt.datediff('previous_week', 'week_start', 'day') }} = 7 then 'returning'
            else 'resurrecting'
        end as lifecycle_state
    from sequenced
    union all
    -- Active this week and not the next: dormant in the next week, when the data reaches it.
    select
        sequenced.activity,
        cast({{ dbt.dateadd('day', 7, 'sequenced.week_start') }} as date) as week_start,
        'dormant' as lifecycle_state
    from sequenced
    cross join data_range
    where (sequenced.next_week is null or {{ dbt.datediff('sequenced.week_start', 'sequenced.next_week', 'day') }} > 7)
        and sequenced.week_start < data_range.last_week
),

counts as (
    select
        activity,
        week_start,
        lifecycle_state,
        count(*) as users
    from user_states
    group by activity, week_start, lifecycle_state
),

-- Weeks with an event, and the weeks after them (where dormant users are counted).
grid as (
    select
        activities.activity,
        weeks.week_start,
        states.lifecycle_state,
        states.state_order
    from (
        select distinct week_start from weeks
        union
        select distinct week_start from user_states
    ) as weeks
    cross join (
        {%- for activity in activities %}
        select '{{ activity }}' as activity{{ ' union all' if not loop.last }}
        {%- endfor %}
    ) as activities
    cross join (
        {%- for state in states %}
        select '{{ state }}' as lifecycle_state, {{ loop.index }} as state_order{{ ' union all' if not loop.last }}
        {%- endfor %}
    ) as states
)

select
    grid.activity,
    grid.week_start,
    grid.lifecycle_state,
    grid.state_order,
    cast(coalesce(counts.users, 0) as {{ dbt.type_bigint() }}) as users,
    grid.week_start = data_range.first_week as is_first_data_week,
    {{ period_last_day('grid.week_start', 'week') }} <= data_range.last_event_date as is_week_complete
from grid
cross join data_range
left join counts
    on grid.activity = counts.activity
    and grid.week_start = counts.week_start
    and grid.lifecycle_state = counts.lifecycle_state
