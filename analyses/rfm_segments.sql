-- Where did each RFM segment go between the last two feature snapshots? Per segment at the earlier
-- snapshot (new_buyer = not a buyer yet): buyers, the share that stayed, how many slid into at_risk
-- (how many champions became at risk?) and how many ended in a lapsing segment (at_risk,
-- cannot_lose_them, hibernating, lost; those already there included). A move nobody made has no
-- row in the mart: it counts 0 here.
-- Run: dbt compile --select rfm_segments (or paste with the refs replaced by marts.<name>).
with latest as (
    select *
    from {{ ref('rfm_segment_transitions') }}
    where is_latest_transition
)

select
    latest.from_as_of_date,
    latest.to_as_of_date,
    latest.from_segment,
    max(latest.from_segment_users) as buyers,
    round(100.0 * sum(case when latest.is_same_segment then latest.users else 0 end) / max(latest.from_segment_users), 1)
        as pct_stayed,
    sum(case when latest.to_segment = 'at_risk' then latest.users else 0 end) as became_at_risk,
    sum(case when latest.to_segment in ('at_risk', 'cannot_lose_them', 'hibernating', 'lost') then latest.users else 0 end)
        as ended_lapsing,
    round(
        100.0 * sum(case when latest.to_segment in ('at_risk', 'cannot_lose_them', 'hibernating', 'lost') then latest.users else 0 end)
        / max(latest.from_segment_users), 1
    ) as pct_ended_lapsing
from latest
left join {{ ref('rfm_segment_rules') }} as rules on latest.from_segment = rules.rfm_segment
group by latest.from_as_of_date, latest.to_as_of_date, latest.from_segment
order by coalesce(min(rules.segment_order), 0)
