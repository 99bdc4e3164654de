{#-
    How buyers move between RFM segments from one stored feature snapshot to the next: one row per
    (from_as_of_date, to_as_of_date, from_segment, to_segment) with at least one buyer. Consecutive
    snapshots are the consecutive as-of dates of intermediate.int_customer_feature_snapshots (with
    or without buyers). A buyer of the later snapshot who was no buyer at the earlier one comes from
    'new_buyer' (rfm_new_buyer_segment); a buyer of the earlier one missing from the later one
    would go to 'not_a_buyer', which cannot happen (purchases only accumulate) but keeps the counts
    reconciled: per from-snapshot and from_segment, users add up to the segment's buyers and
    share_of_from_segment to 1.
-#}

with snapshot_dates as (
    select distinct as_of_date
    from {{ ref('int_customer_feature_snapshots') }}
),

consecutive as (
    select
        as_of_date as from_as_of_date,
        lead(as_of_date) over (order by as_of_date) as to_as_of_date
    from snapshot_dates
),

pairs as (
    select
        from_as_of_date,
        to_as_of_date,
        to_as_of_date = max(to_as_of_date) over () as is_latest_transition
    from consecutive
    where to_as_of_date is not null
),

from_side as (
    select
        pairs.from_as_of_date,
        segments.user_id,
        segments.rfm_segment
    from pairs
    inner join {{ ref('rfm_segments') }} as segments
        on pairs.from_as_of_date = segments.as_of_date
),

to_side as (
    select
        pairs.from_as_of_date,
        segments.user_id,
        segments.rfm_segment
    from pairs
    inner join {{ ref('rfm_segments') }} as segments
        on pairs.to_as_of_date = segments.as_of_date
),

moves as (
    select
        coalesce(from_side.from_as_of_date, to_side.from_as_of_date) as from_as_of_date,
        coalesce(from_side.rfm_segment, '{{ rfm_new_buyer_segment() }}') as from_segment,
        coalesce(to_side.rfm_segment, '{{ rfm_not_a_buyer_segment() }}') as to_segment
    from from_side
    full outer join to_side
        on from_side.from_as_of_date = to_side.from_as_of_date
        and from_side.user_id = to_side.user_id
),

counted as (
    select
        from_as_of_date,
        from_segment,
        to_segment,
        count(*) as users
    from moves
    group by from_as_of_date, from_segment, to_segment
)

select
    pairs.from_as_of_date,
    pairs.to_as_of_date,
    pairs.is_latest_transition,
    counted.from_segment,
    counted.to_segment,
    counted.from_segment = counted.to_segment as is_same_segment,
    cast(counted.users as {{ dbt.type_bigint() }}) as users,
    cast(sum(counted.users) over (partition by pairs.from_as_of_date, counted.from_segment) as {{ dbt.type_bigint() }})
        as from_segment_users,
    cast(counted.users as double) / sum(counted.users) over (partition by pairs.from_as_of_date, counted.from_segment)
        as share_of_from_segment
from counted
inner join pairs on counted.from_as_of_date = pairs.from_as_of_date
