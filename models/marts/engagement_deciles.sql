{#-
    Revenue per user along each engagement ratio: the ratio's population split into 10 equal-size
    deciles by ratio value (ties broken by user_id so the split is reproducible).
-#}
with user_ratios as (
    select
        ratio,
        user_id,
        ratio_value,
        revenue,
        is_buyer,
        ntile(10) over (partition by ratio order by ratio_value, user_id) as decile
    from {{ ref('int_funnel_user_ratios') }}
),

deciles as (
    select
        ratio,
        decile,
        count(*) as users,
        count(case when is_buyer then 1 end) as buyers,
        min(ratio_value) as ratio_min,
        max(ratio_value) as ratio_max,
        avg(revenue) as revenue_per_user_mean,
        {{ funnel_percentile(0.5, 'revenue') }} as revenue_per_user_median,
        sum(revenue) as revenue
    from user_ratios
    group by ratio, decile
)

select
    ratio,
    cast(decile as integer) as decile,
    users,
    buyers,
    ratio_min,
    ratio_max,
    revenue_per_user_mean,
    cast(revenue_per_user_median as {{ funnel_type_double() }}) as revenue_per_user_median,
    revenue,
    {{ funnel_ratio('revenue', 'sum(revenue) over (partition by ratio)') }} as revenue_share
from deciles
