{#-
    Cohort retention, as product-analytics tools show it: users grouped by the period (var
    cohort_grain) of their first visit or first purchase, and for each later period the share
    still active. For first_visit cohorts "active" means any event; for first_purchase cohorts it
    means a purchase (repeat buying). Rolled up from int_user_days, never from the events.

    A period that ends after the last day of data is flagged (is_period_complete = false): its
    users may still come back, so it is not a loss. Calendar periods in which nobody at all was
    active (no event of any kind) are not listed.
-#}
{%- set grain = cohort_grain() %}
{%- set kinds = {'first_visit': 'events > 0', 'first_purchase': 'purchases > 0'} %}

with user_periods as (
    {{ active_user_periods(kinds, grain, 'cohort_kind', 'activity_period') }}
),

cohort_users as (
    select
        cohort_kind,
        user_id,
        min(activity_period) as cohort_period,
        max(activity_period) as last_active_period
    from user_periods
    group by cohort_kind, user_id
),

data_end as (
    select max(event_date) as last_event_date from {{ ref('int_user_days') }}
),

cohorts as (
    select
        cohort_kind,
        cohort_period,
        count(*) as users_in_cohort
    from cohort_users
    group by cohort_kind, cohort_period
),

-- Every (cohort, later calendar period in which anybody was active): the rows of the table.
grid as (
    select
        cohorts.cohort_kind,
        cohorts.cohort_period,
        cohorts.users_in_cohort,
        periods.activity_period
    from cohorts
    inner join (select distinct activity_period from user_periods) as periods
        on cohorts.cohort_period <= periods.activity_period
),

retained as (
    select
        cohort_users.cohort_kind,
        cohort_users.cohort_period,
        user_periods.activity_period,
        count(*) as retained_users
    from user_periods
    inner join cohort_users
        on user_periods.cohort_kind = cohort_users.cohort_kind
        and user_periods.user_id = cohort_users.user_id
    group by cohort_users.cohort_kind, cohort_users.cohort_period, user_periods.activity_period
),

last_active as (
    select
        cohort_kind,
        cohort_period,
        last_active_period,
        count(*) as users
    from cohort_users
    group by cohort_kind, cohort_period, last_active_period
),

-- Users active in the period or any later one: those whose last active period is not earlier.
rolling as (
    select
        grid.cohort_kind,
        grid.cohort_period,
        grid.activity_period,
        sum(last_active.users) as rolling_retained_users
    from grid
    inner join last_active
        on grid.cohort_kind = last_active.cohort_kind
        and grid.cohort_period = last_active.cohort_period
        and grid.activity_period <= last_active.last_active_period
    group by grid.cohort_kind, grid.cohort_period, grid.activity_period
)

select
    grid.cohort_kind,
    '{{ grain }}' as cohort_grain,
    grid.cohort_period,
    {{ periods_between('grid.cohort_period', 'grid.activity_period', grain) }} as period_number,
    grid.activity_period as period_start,
    grid.users_in_cohort,
    cast(coalesce(retained.retained_users, 0) as {{ dbt.type_bigint() }}) as retained_users,
    cast(coalesce(retained.retained_users, 0) as double) / grid.users_in_cohort as retention_rate,
    cast(coalesce(rolling.rolling_retained_users, 0) as {{ dbt.type_bigint() }}) as rolling_retained_users,
    cast(coalesce(rolling.rolling_retained_users, 0) as double) / grid.users_in_cohort as rolling_retention_rate,
    {{ period_last_day('grid.activity_period', grain) }} <= data_end.last_event_date as is_period_complete
from grid
cross join data_end
left join retained
    on grid.cohort_kind = retained.cohort_kind
    and grid.cohort_period = retained.cohort_period
    and grid.activity_period = retained.activity_period
left join rolling
    on grid.cohort_kind = rolling.cohort_kind
    and grid.cohort_period = rolling.cohort_period
    and grid.activity_period = rolling.activity_period
