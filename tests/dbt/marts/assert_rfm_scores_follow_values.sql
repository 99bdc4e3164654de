{#-
    In every snapshot of rfm_segments, each score is a function of its value (buyers with equal
    values share a score) that never falls as the value gets better: fewer recency_days, more
    frequency, more monetary (compared rounded to cents, as the model does). A row names the
    snapshot, the dimension and the value whose scores break the rule.
-#}
with by_value as (
    {%- for score, expr, order in rfm_dimensions() %}
    select
        as_of_date,
        '{{ score }}' as dimension,
        -- Better values sort later: recency is negated.
        {{ '-' if order == 'desc' }}{{ expr }} as sort_value,
        min({{ score }}_score) as min_score,
        max({{ score }}_score) as max_score
    from {{ ref('rfm_segments') }}
    group by as_of_date, {{ '-' if order == 'desc' }}{{ expr }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

checked as (
    select
        *,
        lag(max_score) over (partition by as_of_date, dimension order by sort_value) as previous_max_score
    from by_value
)

select *
from checked
where min_score <> max_score or min_score < previous_max_score
