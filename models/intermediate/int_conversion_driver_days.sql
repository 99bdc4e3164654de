{#-
    conversion_drivers' entity counts per date: one row per entity grain, date, funnel step,
    property and property value with the entities that reached the step's earlier stage and those
    that converted (the entities, properties and rules are in conversion_drivers and its YAML).
    An entity counts on one date: a session on its start date (session_date), a viewed
    user-day-product on its day, a carted session-product on the date of its first cart.
    conversion_drivers sums the dates.
    Incremental by date, per entity grain (macros/mart_states.sql): the dates from the earliest
    date among the grain's input rows loaded since this model's last run are recomputed, older
    dates keep their counts. new_vs_returning reads the user's earlier sessions: a session turns
    from new to returning only when an earlier session of the user appears, which is then on a
    recomputed date, and so is every later session of that user it can affect.
    Stored dates keep the session depth buckets (var driver_depth_bucket_views) and price bands
    (seed price_bands) they were computed with: after changing either, --full-refresh this model.
-#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    pre_hook="{{ delete_state_windows('activity_date', conversion_driver_windows(), 'entity_grain') }}",
    **date_keyed_storage_config(['entity_grain', 'activity_date'])
) }}
{%- set windows = conversion_driver_windows() %}
{%- set missing = funnel_missing_label() -%}
{%- set steps = ['view_to_cart', 'cart_to_purchase'] -%}
{#- Per grain: its properties (name -> value expression over the entity CTE's columns). -#}
{%- set session_properties = {
    'hour_of_day': "lpad(cast(cast(extract(hour from session_start) as integer) as " ~ dbt.type_string() ~ "), 2, '0')",
    'weekday': driver_iso_weekday_label('session_start'),
    'session_depth': driver_bucket_label('views', 'driver_depth_bucket_views', [0, 1, 3, 7, 15]),
    'new_vs_returning': "case when session_number = 1 then 'new' else 'returning' end",
} -%}
{%- set product_properties = {
    'top_category': 'coalesce(top_category, ' ~ missing ~ ')',
    'brand': 'coalesce(brand, ' ~ missing ~ ')',
    'price_band': "coalesce(band_label, '(unbanded)')",
} -%}
{#- (step, entity CTE, entity_grain, properties) in output order. -#}
{%- set parts = [] -%}
{%- for step in steps -%}
    {%- do parts.append((step, 'product_' ~ step, 'user_day_product' if step == 'view_to_cart' else 'session_product', product_properties)) -%}
    {%- do parts.append((step, 'session_' ~ step, 'session', session_properties)) -%}
{%- endfor %}

with window_sessions as (
    select
        user_id,
        session_key,
        session_start,
        session_date,
        views,
        first_view_at,
        first_cart_at,
        first_purchase_at
    from {{ ref('int_sessions') }}
    where {{ event_window_filter('session_date', windows['session']) }}
),

sessions as (
    -- The window's sessions, numbered among all sessions of their users.
    select *
    from (
        select
            user_id,
            session_key,
            session_start,
            session_date,
            views,
            first_view_at,
            first_cart_at,
            first_purchase_at,
            row_number() over (partition by user_id order by session_start, session_key) as session_number
        from {{ ref('int_sessions') }}
        {%- if is_incremental() %}
        where user_id in (select user_id from window_sessions)
        {%- endif %}
    ) as numbered
    where {{ event_window_filter('session_date', windows['session']) }}
),

session_view_to_cart as (
    -- Sessions with a view; converted: a cart at or after the first view.
    select
        *,
        session_date as activity_date,
        coalesce(first_cart_at >= first_view_at, false) as is_converted
    from sessions
    where first_view_at is not null
),

session_cart_to_purchase as (
    -- Sessions with a cart; converted: a purchase at or after the first cart.
    select
        *,
        session_date as activity_date,
        coalesce(first_purchase_at >= first_cart_at, false) as is_converted
    from sessions
    where first_cart_at is not null
),

product_view_to_cart as (
    -- A user's viewed product on a UTC day (the day's rows at several prices merged; the highest
    -- price, as in int_session_products); converted: carted that day.
    select
        day_items.user_id,
        day_items.event_date as activity_date,
        day_items.product_id,
        min(day_items.top_category) as top_category,
        min(day_items.brand) as brand,
        max(day_items.price) as price,
        sum(day_items.carts) > 0 as is_converted
    from {{ ref('int_value_user_day_items') }} as day_items
    where {{ event_window_filter('day_items.event_date', windows['user_day_product']) }}
    group by day_items.user_id, day_items.event_date, day_items.product_id
    having sum(day_items.views) > 0
),

product_cart_to_purchase as (
    -- Carted session-products; converted: purchased in the session at or after the first cart.
    select
        *,
        cast(first_cart_at as date) as activity_date,
        coalesce(first_purchase_at >= first_cart_at, false) as is_converted
    from {{ ref('int_session_products') }}
    where first_cart_at is not null
        and {{ event_window_filter('first_cart_at', windows['session_product']) }}
),

by_value as (
    {%- for step, source, grain, properties in parts %}
    {%- set outer_loop = loop %}
    {%- for property, value_expr in properties.items() %}
    select
        '{{ grain }}' as entity_grain,
        activity_date,
        '{{ step }}' as funnel_step,
        '{{ property }}' as property,
        {{ value_expr }} as property_value,
        count(*) as entities,
        sum(case when is_converted then 1 else 0 end) as converted
    from {{ source }} as entity
    {%- if property == 'price_band' %}
    left join {{ ref('int_event_price_bands') }} as price_band_lookup
        on entity.price = price_band_lookup.price
    {%- endif %}
    group by activity_date, {{ value_expr }}
    {{ 'union all' if not (loop.last and outer_loop.last) }}
    {%- endfor %}
    {%- endfor %}
)

select
    cast(entity_grain as {{ dbt.type_string() }}) as entity_grain,
    cast(activity_date as date) as activity_date,
    cast(funnel_step as {{ dbt.type_string() }}) as funnel_step,
    cast(property as {{ dbt.type_string() }}) as property,
    cast(property_value as {{ dbt.type_string() }}) as property_value,
    cast(entities as {{ dbt.type_bigint() }}) as entities,
    cast(converted as {{ dbt.type_bigint() }}) as converted,
    {{ loaded_at() }} as loaded_at
from by_value
