{#-
    Labels and baseline inputs per (user_id, as_of_date) for every snapshot date of
    int_customer_feature_snapshots (whatever dates it holds): one row per user with an event on or
    before the as-of date T. Taking the dates from the feature table keeps labels and features
    aligned whatever vars chose them. History columns use days on or before T; label columns use days in (T, T + H]
    only, and are null when that window is not fully observed (T + H after the last event date).
    Built from int_user_days (one row per user and day), never the raw events.

    Incremental by as-of date (snapshot_label_dates_to_build): a stored date stays while its labels
    are final (window observed, same horizon and big-spender share) and no newly loaded event falls
    on or before T + H; a new day recomputes D and the grid dates whose window is still open.
    last_event_date is capped at T + H, so a final row reads the same whenever it was computed.
-#}
-- depends_on: {{ ref('stg_events') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ snapshot_label_delete_stale() }}"
) }}
{%- set horizon = var('churn_horizon_days', 28) | int -%}
{%- set share = var('big_spender_share', 0.2) | float -%}
{%- set before = 'd.event_date <= snapshots.as_of_date' -%}

with snapshots as (
    select distinct as_of_date
    from {{ ref('int_customer_feature_snapshots') }}
    {%- if is_incremental() %}
    where {{ in_list("cast(as_of_date as varchar)", snapshot_label_dates_to_build()) }}
    {%- endif %}
),

last_event as (
    select max(event_date) as last_event_date
    from {{ ref('int_user_days') }}
),

user_snapshots as (
    select
        snapshots.as_of_date,
        d.user_id,
        min(case when {{ before }} then d.event_date end) as first_event_date,
        min(case when {{ before }} and d.purchases > 0 then d.event_date end) as first_purchase_date,
        max(case when {{ before }} and d.purchases > 0 then d.event_date end) as last_purchase_date,
        count(case when {{ before }} and d.purchases > 0 then 1 end) as purchase_days,
        coalesce(sum(case when {{ before }} then d.revenue end), 0) as past_revenue,
        coalesce(sum(case
            when {{ before }} and d.event_date > {{ dbt.dateadd('day', -horizon, 'snapshots.as_of_date') }} then d.revenue
        end), 0) as recent_revenue,
        cast(coalesce(sum(case when d.event_date > snapshots.as_of_date then d.purchases end), 0) as {{ dbt.type_bigint() }}) as future_purchases,
        coalesce(sum(case when d.event_date > snapshots.as_of_date then d.revenue end), 0) as future_revenue
    from {{ ref('int_user_days') }} as d
    inner join snapshots
        on d.event_date <= {{ dbt.dateadd('day', horizon, 'snapshots.as_of_date') }}
    group by snapshots.as_of_date, d.user_id
),

observed as (
    select
        user_snapshots.*,
        cast({{ dbt.dateadd('day', horizon, 'user_snapshots.as_of_date') }} as date) as label_window_end,
        -- Capped at the window end: what the labels saw, the same in every later build once final.
        case
            when {{ dbt.dateadd('day', horizon, 'user_snapshots.as_of_date') }} < last_event.last_event_date
                then cast({{ dbt.dateadd('day', horizon, 'user_snapshots.as_of_date') }} as date)
            else last_event.last_event_date
        end as last_event_date,
        {{ dbt.dateadd('day', horizon, 'user_snapshots.as_of_date') }} <= last_event.last_event_date as label_window_observed
    from user_snapshots
    cross join last_event
    -- The populations: users seen on or before T (a user first seen after T is not scored at T).
    where user_snapshots.first_event_date is not null
),

purchase_gaps as (
    -- Days between consecutive purchase days of a user (the rule of marts.customer_segments).
    select
        user_id,
        event_date,
        {{ dbt.datediff('lag(event_date) over (partition by user_id order by event_date)', 'event_date', 'day') }} as gap_days
    from {{ ref('int_user_days') }}
    where purchases > 0
),

median_gaps as (
    -- The median gap between purchase days on or before T.
    select
        snapshots.as_of_date,
        purchase_gaps.user_id,
        {{ value_median("purchase_gaps.gap_days") }} as median_purchase_gap_days
    from purchase_gaps
    inner join snapshots on purchase_gaps.event_date <= snapshots.as_of_date
    where purchase_gaps.gap_days is not null
    group by snapshots.as_of_date, purchase_gaps.user_id
),

thresholds as (
    -- The big-spender line: the (1 - big_spender_share) quantile of positive future revenues.
    select
        as_of_date,
        percentile_cont({{ 1 - share }}) within group (order by future_revenue) as big_spender_threshold
    from observed
    where label_window_observed and future_revenue > 0
    group by as_of_date
)

select
    observed.user_id,
    observed.as_of_date,
    cast({{ horizon }} as integer) as horizon_days,
    cast({{ share }} as double) as big_spender_share,
    observed.label_window_end,
    observed.last_event_date,
    observed.label_window_observed,
    observed.first_purchase_date is not null as in_churn_population,
    true as in_big_spender_population,
    observed.first_event_date,
    observed.first_purchase_date,
    observed.last_purchase_date,
    observed.purchase_days,
    observed.past_revenue,
    observed.recent_revenue,
    {{ bigint_on_spark(dbt.datediff('observed.last_purchase_date', 'observed.as_of_date', 'day')) }} as days_since_last_purchase,
    case when observed.purchase_days > 0 then observed.purchase_days - 1 end as bgnbd_frequency,
    {{ bigint_on_spark(dbt.datediff('observed.first_purchase_date', 'observed.last_purchase_date', 'day')) }} as bgnbd_recency_days,
    {{ bigint_on_spark(dbt.datediff('observed.first_purchase_date', 'observed.as_of_date', 'day')) }} + 1 as bgnbd_age_days,
    cast(median_gaps.median_purchase_gap_days as double) as median_purchase_gap_days,
    case when observed.label_window_observed then observed.future_purchases end as future_purchases,
    case when observed.label_window_observed then observed.future_revenue end as future_revenue,
    thresholds.big_spender_threshold,
    case
        when observed.label_window_observed and observed.first_purchase_date is not null
            then observed.future_purchases = 0
    end as churned,
    case
        when observed.label_window_observed
            then coalesce(observed.future_revenue > 0 and observed.future_revenue >= thresholds.big_spender_threshold, false)
    end as is_big_spender,
    {{ loaded_at() }} as loaded_at
from observed
left join thresholds on observed.as_of_date = thresholds.as_of_date
left join median_gaps
    on observed.as_of_date = median_gaps.as_of_date
    and observed.user_id = median_gaps.user_id
