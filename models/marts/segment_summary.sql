{#-
    Which segments are risky, in one query: one row per segment label (grouping = 'segment', users
    partition the population) and one per flag (grouping = 'flag', flags overlap), with size,
    revenue share and the recent trend: revenue in the last segment_trend_days (var, default 28)
    days vs the previous segment_trend_days days, "now" being the last clean event date.
    concern: churn_risk (at_risk_high_value, one_time_buyer), unprofitable (unprofitable_engagement,
    discount_dependent) or none.
-#}
{%- set flags = value_segment_flags() %}

with groups as (
    {%- for name in value_segment_names() %}
    select 'segment' as grouping, '{{ name }}' as name, '{{ flags.get(name, 'none') }}' as concern
    union all
    {%- endfor %}
    {%- for flag, concern in flags.items() %}
    select 'flag' as grouping, '{{ flag }}' as name, '{{ concern }}' as concern
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

memberships as (
    select
        'segment' as grouping,
        customer_segments.segment as name,
        customer_segments.*
    from {{ ref('customer_segments') }} as customer_segments
    {%- for flag in flags %}
    union all
    select
        'flag' as grouping,
        '{{ flag }}' as name,
        customer_segments.*
    from {{ ref('customer_segments') }} as customer_segments
    where is_{{ flag }}
    {%- endfor %}
),

sized as (
    select
        grouping,
        name,
        count(*) as users,
        sum(revenue) as revenue,
        sum(revenue_recent) as revenue_recent,
        sum(revenue_previous) as revenue_previous,
        count(case when is_active_recent then 1 end) as active_recent_users
    from memberships
    group by grouping, name
),

totals as (
    select
        count(*) as all_users,
        sum(revenue) as all_revenue
    from {{ ref('customer_segments') }}
)

select
    groups.grouping,
    groups.name,
    groups.concern,
    groups.concern <> 'none' as is_risky,
    cast(coalesce(sized.users, 0) as bigint) as users,
    {{ value_ratio('coalesce(sized.users, 0)', 'totals.all_users') }} as user_share,
    cast(coalesce(sized.revenue, 0) as double) as revenue,
    {{ value_ratio('coalesce(sized.revenue, 0)', 'totals.all_revenue') }} as revenue_share,
    {{ value_ratio('sized.revenue', 'sized.users') }} as revenue_per_user,
    cast(coalesce(sized.revenue_recent, 0) as double) as revenue_recent,
    cast(coalesce(sized.revenue_previous, 0) as double) as revenue_previous,
    {{ value_ratio('sized.revenue_recent - sized.revenue_previous', 'sized.revenue_previous') }} as revenue_trend,
    cast(coalesce(sized.active_recent_users, 0) as bigint) as active_recent_users
from groups
cross join totals
left join sized on groups.grouping = sized.grouping and groups.name = sized.name
