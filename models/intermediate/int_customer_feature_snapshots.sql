{#-
    The customer feature table at every snapshot date of feature_snapshot_dates() (prediction date D,
    D - H, D - 2H, ... and features_as_of): one row per (user_id, as_of_date) for users with an event
    on or before the as-of date, built only from data on or before it. Every feature comes from
    feature_definitions() (macros/feature_catalog.sql); marts.customer_features is this table at
    features_as_of.

    Each source is joined to the snapshot dates once (event_date <= as_of_date) and aggregated per
    (as_of_date, user_id), every window in the same pass: the sources are the small per-user-day,
    per-session-day and per-user-day-item tables, never the raw events.
-#}
{%- set families = feature_definitions() -%}
{%- set aggregated = feature_families() | selectattr(1) | list -%}

with snapshots as (
    {{ feature_snapshots_sql(feature_snapshot_dates()) }}
),

user_days as (
    select
        snapshots.as_of_date,
        d.user_id,
        {{ dbt.datediff('d.event_date', 'snapshots.as_of_date', 'day') }} as days_ago,
        d.events,
        {%- for t in event_types() %}
        d.{{ event_type_plural(t) }},
        {%- endfor %}
        d.revenue
    from {{ ref('int_user_days') }} as d
    inner join snapshots on d.event_date <= snapshots.as_of_date
),

snapshot_sessions as (
    -- Each session as it stood at the end of the as-of date: its last session-day on or before it.
    select
        snapshots.as_of_date,
        s.user_id,
        {{ dbt.datediff('cast(s.session_start as date)', 'snapshots.as_of_date', 'day') }} as days_ago,
        {{ dbt.datediff('s.session_start', 's.last_event_at', 'second') }} as duration_seconds,
        s.events,
        s.carts,
        s.purchases,
        s.revenue
    from {{ ref('int_value_session_days') }} as s
    inner join snapshots
        on s.event_date <= snapshots.as_of_date
        and (s.next_event_date is null or s.next_event_date > snapshots.as_of_date)
),

items as (
    select
        snapshots.as_of_date,
        i.user_id,
        {{ dbt.datediff('i.event_date', 'snapshots.as_of_date', 'day') }} as days_ago,
        i.product_id,
        i.category_id,
        i.top_category,
        i.brand,
        i.price,
        i.events,
        i.views,
        i.purchases
    from {{ ref('int_value_user_day_items') }} as i
    inner join snapshots on i.event_date <= snapshots.as_of_date
),

{% for family, key in [('product', 'product_id'), ('category', 'category_id'), ('brand', 'brand')] %}
{{ family }}_touches as (
    -- One row per {{ family }} the user touched, days_ago of the last touch: distinct counts per window are plain counts.
    select
        as_of_date,
        user_id,
        {{ key }},
        min(days_ago) as days_ago
    from items
    where {{ key }} is not null
    group by as_of_date, user_id, {{ key }}
),

{% endfor %}
category_prices as (
    -- Reference price level of a category as of the date: mean price per view event, all users.
    select
        as_of_date,
        category_id,
        sum(views * price) / nullif(sum(views), 0) as category_view_price
    from items
    where category_id is not null
    group by as_of_date, category_id
),

snapshot_items as (
    select
        items.*,
        category_prices.category_view_price
    from items
    left join category_prices
        on items.as_of_date = category_prices.as_of_date
        and items.category_id = category_prices.category_id
),

user_categories as (
    select
        as_of_date,
        user_id,
        top_category,
        sum(events) as events,
        sum(purchases * price) as revenue
    from items
    where top_category is not null
    group by as_of_date, user_id, top_category
),

ranked_categories as (
    select
        *,
        row_number() over (partition by as_of_date, user_id order by events desc, top_category asc) as event_rank,
        row_number() over (partition by as_of_date, user_id order by revenue desc, top_category asc) as revenue_rank
    from user_categories
),

snapshot_purchases as (
    select
        snapshots.as_of_date,
        p.user_id,
        p.purchase_date,
        p.gap_days
    from {{ ref('int_value_purchase_days') }} as p
    inner join snapshots on p.purchase_date <= snapshots.as_of_date
),

{% for family, source in aggregated %}
{{ family }}_features as (
    select
        as_of_date,
        user_id,
        {%- for f in families[family] %}
        {{ f.sql }} as {{ f.name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ source }}
    group by as_of_date, user_id
),

{% endfor %}
base_features as (
    -- The population: users with at least one event on or before the as-of date.
    select
        activity_features.as_of_date,
        activity_features.user_id,
        {%- for family, source in aggregated %}
        {%- set outer_loop = loop %}
        {%- for f in families[family] %}
        {%- set col = family ~ '_features.' ~ f.name %}
        cast({{ 'coalesce(' ~ col ~ ', ' ~ f.fill ~ ')' if f.fill is not none else col }} as {{ f.data_type }}) as {{ f.name }}{{ ',' if not (outer_loop.last and loop.last) }}
        {%- endfor %}
        {%- endfor %}
    from activity_features
    {%- for family, source in aggregated[1:] %}
    left join {{ family }}_features
        on activity_features.as_of_date = {{ family }}_features.as_of_date
        and activity_features.user_id = {{ family }}_features.user_id
    {%- endfor %}
)

select
    *,
    {%- for f in families['derived'] %}
    cast({{ f.sql }} as {{ f.data_type }}) as {{ f.name }}{{ ',' if not loop.last }}
    {%- endfor %}
from base_features
