{#-
    One row per session: the per-event work every session-, user- and funnel-level mart shares.
    Rolled up from int_session_products (one row per session and product) rather than from the
    events: the events are aggregated once for both tables, and distinct products come for free.
    Category and brand are product attributes, so counting them over the session's products gives
    the same distinct counts as over its events.
    Incremental like int_session_products (see macros/incremental.sql).
-#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    incremental_strategy='delete+insert',
    unique_key='session_id',
    pre_hook="{{ delete_sessions_in_event_window('session_end') }}"
) }}
-- depends_on: {{ ref('stg_events') }}

with session_products as (
    -- int_session_products re-inserts every session it touches whole, so its newly loaded rows
    -- are exactly the sessions to recompute here.
    select * from {{ ref('int_session_products') }}
    where {{ loaded_since_this_model() }}
)

select
    session_id,
    min(user_id) as user_id,
    min(first_event_at) as session_start,
    max(last_event_at) as session_end,
    {{ dbt.datediff('min(first_event_at)', 'max(last_event_at)', 'second') }} as duration_seconds,
    cast(min(first_event_at) as date) as session_date,
    cast(sum(views + carts + remove_from_carts + purchases) as {{ dbt.type_bigint() }}) as events,
    {%- for column in ['views', 'carts', 'remove_from_carts', 'purchases'] %}
    cast(sum({{ column }}) as {{ dbt.type_bigint() }}) as {{ column }},
    {%- endfor %}
    sum(revenue) as revenue,
    count(*) as distinct_products,
    count(distinct category_id) as distinct_categories,
    count(distinct brand) as distinct_brands,
    min(first_view_at) as first_view_at,
    min(first_cart_at) as first_cart_at,
    min(first_purchase_at) as first_purchase_at,
    {{ loaded_at() }} as loaded_at
from session_products
group by session_id
