{#-
    One row per user: activity totals over all their sessions, revenue, and the three engagement
    ratios. A ratio whose denominator is 0 is null (the user is outside that ratio's population).
    Revenue is rounded to cents: float sums in another order must not break ties between users.
-#}
with sessions as (
    select * from {{ ref('int_sessions') }}
),

users as (
    select
        user_id,
        cast(sum(views) as {{ dbt.type_bigint() }}) as views,
        cast(sum(carts) as {{ dbt.type_bigint() }}) as carts,
        cast(sum(purchases) as {{ dbt.type_bigint() }}) as purchases,
        count(*) as sessions,
        count(case when purchases > 0 then 1 end) as purchasing_sessions,
        round(sum(revenue), 2) as revenue
    from sessions
    group by user_id
)

select
    user_id,
    views,
    carts,
    purchases,
    sessions,
    purchasing_sessions,
    revenue,
    purchases > 0 as is_buyer,
    {{ funnel_ratio('carts', 'views') }} as cart_view_ratio,
    {{ funnel_ratio('purchases', 'carts') }} as purchase_cart_ratio,
    {{ funnel_ratio('purchasing_sessions', 'sessions') }} as purchasing_session_ratio
from users
