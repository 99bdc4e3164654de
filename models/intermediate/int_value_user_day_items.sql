{#-
    One row per user, day and item (a product at a price, with its category and brand): the
    event-level detail that distinct-product/category/brand counts, price levels and category mix
    need, at a grain that every feature snapshot and value mart can aggregate instead of the events.
-#}
select
    user_id,
    event_date,
    product_id,
    category_id,
    top_category,
    brand,
    price,
    count(*) as events,
    {{ count_events_by_type() }}
from {{ ref('stg_events') }}
group by user_id, event_date, product_id, category_id, top_category, brand, price
