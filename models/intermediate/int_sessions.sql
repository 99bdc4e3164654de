{#- One row per session: the per-event work every session-, user- and funnel-level mart shares. -#}
select
    session_id,
    min(user_id) as user_id,
    min(event_time) as session_start,
    max(event_time) as session_end,
    {{ dbt.datediff('min(event_time)', 'max(event_time)', 'second') }} as duration_seconds,
    cast(min(event_time) as date) as session_date,
    count(*) as events,
    {{ count_events_by_type() }},
    coalesce(sum(case when event_type = 'purchase' then price end), 0) as revenue,
    count(distinct product_id) as distinct_products,
    count(distinct category_id) as distinct_categories,
    count(distinct brand) as distinct_brands,
    min(case when event_type = 'view' then event_time end) as first_view_at,
    min(case when event_type = 'cart' then event_time end) as first_cart_at,
    min(case when event_type = 'purchase' then event_time end) as first_purchase_at
from {{ ref('stg_events') }}
group by session_id
