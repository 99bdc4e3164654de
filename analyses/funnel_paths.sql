-- What do shoppers do next? The top paths (var funnel_paths_top_n) after each funnel stage:
-- the session's next event (type, and same product / same category / other category) or the
-- exit, and, after an item was viewed but not carted or carted but not bought, what the user
-- did in later sessions.
-- Run: dbt compile --select funnel_paths (or paste with the refs replaced by marts.<name>).
select
    path_kind,
    stage,
    path_rank,
    path,
    occurrences,
    stage_total,
    round(100 * share, 1) as pct_of_stage
from {{ ref('funnel_paths') }}
where is_top_n
order by path_kind desc, stage_order asc, path_rank asc
