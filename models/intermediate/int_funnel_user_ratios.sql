{#-
    int_user_engagement's ratios in long form: one row per ratio and user in the ratio's population
    (users whose ratio is not null, i.e. whose denominator is not 0).
-#}
with users as (
    select * from {{ ref('int_user_engagement') }}
)

{% for ratio in funnel_engagement_ratios() -%}
select
    '{{ ratio }}' as ratio,
    user_id,
    {{ ratio }} as ratio_value,
    revenue,
    is_buyer
from users
where {{ ratio }} is not null
{{ 'union all' if not loop.last }}
{% endfor %}
