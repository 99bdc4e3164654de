-- Where do users drop off? The user and session funnels in time order: how many reach each
-- stage after the previous one, the conversion from that stage and the share lost on the way.
-- Run: dbt compile --select funnel_drop_off (or paste with the refs replaced by marts.<name>).
select
    level,
    stage,
    entities_reached,
    entities_ordered,
    round(100 * ordered_conversion_from_previous, 1) as pct_converted_from_previous,
    round(100 * ordered_conversion_from_view, 1) as pct_converted_from_view,
    round(100 * drop_off_share, 1) as pct_dropped_off,
    entities_reached_out_of_order
from {{ ref('funnel_summary') }}
order by level desc, stage_order asc
