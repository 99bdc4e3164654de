{#-
    Category mix per value tier: one row per tier and top-level category (first segment of
    category_code; 'unknown' when the event has none), with the category's share of the tier's
    events and revenue. Known categories are ranked within the tier by revenue, then events.
-#}
with user_categories as (
    -- One row per user and category first: each is one distinct user of its tier and category.
    select
        user_id,
        coalesce(top_category, 'unknown') as top_category,
        sum(events) as events,
        sum(views) as views,
        sum(purchases) as purchases,
        sum(purchases * price) as revenue
    from {{ ref('int_value_user_day_items') }}
    group by user_id, coalesce(top_category, 'unknown')
),

mix as (
    select
        customer_value.value_tier,
        user_categories.top_category,
        count(*) as users,
        sum(user_categories.events) as events,
        sum(user_categories.views) as views,
        sum(user_categories.purchases) as purchases,
        sum(user_categories.revenue) as revenue
    from user_categories
    inner join {{ ref('customer_value') }} as customer_value on user_categories.user_id = customer_value.user_id
    group by customer_value.value_tier, user_categories.top_category
)

select
    value_tier,
    top_category,
    cast(users as bigint) as users,
    cast(events as bigint) as events,
    cast(views as bigint) as views,
    cast(purchases as bigint) as purchases,
    cast(revenue as double) as revenue,
    {{ value_ratio('events', 'sum(events) over (partition by value_tier)') }} as event_share_in_tier,
    {{ value_ratio('revenue', 'sum(revenue) over (partition by value_tier)') }} as revenue_share_in_tier,
    cast(case when top_category <> 'unknown' then
        row_number() over (
            partition by value_tier, top_category = 'unknown' order by revenue desc, events desc, top_category asc
        )
    end as bigint) as category_rank_in_tier
from mix
