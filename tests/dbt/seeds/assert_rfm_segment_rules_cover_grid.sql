{#-
    Every (r_score, f_score) cell of the 5 x 5 RFM grid maps to exactly one segment of the seed
    rfm_segment_rules (and no rule has min > max, which would cover nothing). A row names a cell
    covered by no rule or by several, or a rule with an empty range.
-#}
with scores as (
    {%- for s in range(1, 6) %}
    select {{ s }} as score{{ ' union all' if not loop.last }}
    {%- endfor %}
),

cells as (
    select
        r.score as r_score,
        f.score as f_score
    from scores as r
    cross join scores as f
),

matches as (
    select
        cells.r_score,
        cells.f_score,
        count(rules.rfm_segment) as segments
    from cells
    left join {{ ref('rfm_segment_rules') }} as rules
        on cells.r_score between rules.r_score_min and rules.r_score_max
        and cells.f_score between rules.f_score_min and rules.f_score_max
    group by cells.r_score, cells.f_score
)

select
    'cell not covered exactly once' as problem,
    null as rfm_segment,
    r_score,
    f_score,
    segments
from matches
where segments <> 1
union all
select
    'rule with an empty range' as problem,
    rfm_segment,
    null as r_score,
    null as f_score,
    0 as segments
from {{ ref('rfm_segment_rules') }}
where r_score_min > r_score_max or f_score_min > f_score_max
