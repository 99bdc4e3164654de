{#-
    Category mix per value tier: one row per tier and top-level category (first segment of
    category_code; 'unknown' when the event has none), with the category's share of the tier's
    events and revenue. Known categories are ranked within the tier by revenue, then events.
-#}
with item_tiers as (
    select
        customer_value.value_tier,
        items.user_id,
        coalesce(items.top_category, 'unknown') as top_category,
        items.events,
        items.views,
        items.purchases,
        items.purchases * items.price as revenue
    from {{ ref('int_value_user_day_items') }} as items
    inner join {{ ref('customer_value') }} as customer_value on items.user_id = customer_value.user_id
),

mix as (
    select
        value_tier,
        top_category,
        count(distinct user_id) as users,
        sum(events) as events,
        sum(views) as views,
        sum(purchases) as purchases,
        sum(revenue) as revenue
    from item_tiers
    group by value_tier, top_category
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
