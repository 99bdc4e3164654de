{#-
    rfm_segment_transitions reconciles with rfm_segments: for every transition, the users leaving
    each from_segment add up to that segment's buyers at from_as_of_date (new_buyer: the buyers at
    to_as_of_date who were no buyers at from_as_of_date), the users arriving in each to_segment
    add up to that segment's buyers at to_as_of_date, and share_of_from_segment adds up to 1. A row
    names the snapshot, the segment, the side and both counts.
-#}
with transitions as (
    select * from {{ ref('rfm_segment_transitions') }}
),

segments as (
    select * from {{ ref('rfm_segments') }}
),

pairs as (
    select distinct from_as_of_date, to_as_of_date from transitions
),

expected_from as (
    select
        pairs.from_as_of_date,
        pairs.to_as_of_date,
        segments.rfm_segment as segment,
        count(*) as users
    from pairs
    inner join segments on pairs.from_as_of_date = segments.as_of_date
    group by pairs.from_as_of_date, pairs.to_as_of_date, segments.rfm_segment
    union all
    select
        pairs.from_as_of_date,
        pairs.to_as_of_date,
        '{{ rfm_new_buyer_segment() }}' as segment,
        count(*) as users
    from pairs
    inner join segments as later on pairs.to_as_of_date = later.as_of_date
    left join segments as earlier
        on pairs.from_as_of_date = earlier.as_of_date
        and later.user_id = earlier.user_id
    where earlier.user_id is null
    group by pairs.from_as_of_date, pairs.to_as_of_date
),

expected_to as (
    select
        pairs.from_as_of_date,
        pairs.to_as_of_date,
        segments.rfm_segment as segment,
        count(*) as users
    from pairs
    inner join segments on pairs.to_as_of_date = segments.as_of_date
    group by pairs.from_as_of_date, pairs.to_as_of_date, segments.rfm_segment
),

actual_from as (
    select
        from_as_of_date,
        to_as_of_date,
        from_segment as segment,
        sum(users) as users,
        max(from_segment_users) as from_segment_users,
        sum(share_of_from_segment) as share_sum
    from transitions
    group by from_as_of_date, to_as_of_date, from_segment
),

actual_to as (
    select
        from_as_of_date,
        to_as_of_date,
        to_segment as segment,
        sum(users) as users
    from transitions
    group by from_as_of_date, to_as_of_date, to_segment
)

select
    'from' as side,
    coalesce(e.from_as_of_date, a.from_as_of_date) as from_as_of_date,
    coalesce(e.segment, a.segment) as segment,
    e.users as expected_users,
    a.users as actual_users
from expected_from as e
full outer join actual_from as a
    on e.from_as_of_date = a.from_as_of_date
    and e.to_as_of_date = a.to_as_of_date
    and e.segment = a.segment
where e.users is null
    or a.users is null
    or e.users <> a.users
    or a.from_segment_users <> a.users
    or abs(a.share_sum - 1) > 1e-9
union all
select
    'to' as side,
    coalesce(e.from_as_of_date, a.from_as_of_date) as from_as_of_date,
    coalesce(e.segment, a.segment) as segment,
    e.users as expected_users,
    a.users as actual_users
from expected_to as e
full outer join actual_to as a
    on e.from_as_of_date = a.from_as_of_date
    and e.to_as_of_date = a.to_as_of_date
    and e.segment = a.segment
where e.users is null or a.users is null or e.users <> a.users
