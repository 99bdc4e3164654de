{#-
    One row per user, day and item (a product at a price, with its category and brand): the
    event-level detail that distinct-product/category/brand counts, price levels and category mix
    need, at a grain that every feature snapshot and value mart can aggregate instead of the events.
    Incremental by event date (see macros/incremental.sql).
-#}
{{ config(materialized='incremental', on_schema_change='fail', **date_keyed_storage_config('event_date')) }}
{%- set window_start = event_window_start() %}

select
    user_id,
    event_date,
    product_id,
    category_id,
    top_category,
    brand,
    price,
    count(*) as events,
    {{ count_events_by_type() }},
    {{ loaded_at() }} as loaded_at
from {{ ref('stg_events') }}
where {{ event_window_filter('event_date', window_start) }}
group by user_id, event_date, product_id, category_id, top_category, brand, price
