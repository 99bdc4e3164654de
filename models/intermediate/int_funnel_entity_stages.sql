{{ config(materialized='view') }}
{#-
    One row per (level, entity, dimension, dimension value): when the entity first reached each
    funnel stage and when it reached cart and purchase in order, counting only the entity's events
    with that dimension value. Levels: session, user. Dimension 'overall' (value 'all') takes every
    event.

    One aggregation of stg_events per (level, dimension), streamed into a single UNION ALL. Not
    GROUPING SETS: that keeps the hash tables of every set alive at once (8 GB and spilling at
    10 M events), while separate aggregations run one or two at a time (1.9 GB at 10 M) for the
    same hashing work; reading the clean columnar table again per branch is cheap. A view on
    purpose: it has several rows per event-grain entity and is only aggregated (by
    funnel_by_dimension), so it is never stored.

    Ordered stages, within the entity's events of the dimension value:
      ordered_cart_at     = first cart at or after the first view
      ordered_purchase_at = first purchase at or after ordered_cart_at
    "Within window" (funnel-tool style, anchored on those times): ordered_cart_at is at most
    view_to_cart_window_days after first_view_at, and ordered_purchase_at at most
    cart_to_purchase_window_days after ordered_cart_at.
-#}
{%- set dims = ['overall'] + funnel_dimensions() -%}
{#- Per dimension: the value grouped on (typed: cheaper than text) and its label from dim_value. -#}
{%- set dimension_groups = {
    'overall': "'all'",
    'top_category': 'events.top_category',
    'brand': 'events.brand',
    'price_band': 'price_band_lookup.band_label',
    'event_date': 'events.event_date',
    'hour_of_day': 'extract(hour from events.event_time)',
} -%}
{%- set dimension_labels = {
    'overall': "'all'",
    'top_category': 'coalesce(dim_value, ' ~ funnel_missing_label() ~ ')',
    'brand': 'coalesce(dim_value, ' ~ funnel_missing_label() ~ ')',
    'price_band': "coalesce(dim_value, '(unbanded)')",
    'event_date': 'cast(dim_value as ' ~ dbt.type_string() ~ ')',
    'hour_of_day': "lpad(cast(dim_value as " ~ dbt.type_string() ~ "), 2, '0')",
} -%}
{%- set levels = [('session', 'session_id', 'entity_key'),
                  ('user', 'user_id', 'cast(entity_key as ' ~ dbt.type_string() ~ ')')] -%}
{%- set first_times = ['first_view_at', 'first_cart_at', 'first_purchase_at'] -%}

with price_bands as (
    select
        band_label,
        lower_bound,
        coalesce(upper_bound, cast('infinity' as {{ funnel_type_double() }})) as upper_bound
    from {{ ref('price_bands') }}
),

{#- A range join over every event is slow: look the band up once per distinct price instead. #}
price_band_lookup as (
    select
        prices.price,
        price_bands.band_label
    from (select distinct price from {{ ref('stg_events') }}) as prices
    inner join price_bands
        on prices.price >= price_bands.lower_bound
        and prices.price < price_bands.upper_bound
),

{%- for level, key, entity_id in levels %}
{%- for d in dims %}

{{ level }}_{{ d }} as (
    select
        '{{ level }}' as level,
        {{ entity_id | replace('entity_key', 'events.' ~ key) }} as entity_id,
        '{{ d }}' as dimension,
        {{ dimension_labels[d] | replace('dim_value', dimension_groups[d]) }} as dimension_value,
        count(case when events.event_type = 'view' then 1 end) as views,
        min(case when events.event_type = 'view' then events.event_time end) as first_view_at,
        {{ funnel_times_list('events.event_time', "events.event_type = 'cart'") }} as cart_times,
        {{ funnel_times_list('events.event_time', "events.event_type = 'purchase'") }} as purchase_times
    from {{ ref('stg_events') }} as events
    {%- if d == 'price_band' %}
    left join price_band_lookup
        on events.price = price_band_lookup.price
    {%- endif %}
    group by events.{{ key }}{% if d != 'overall' %}, {{ dimension_groups[d] }}{% endif %}
),
{%- endfor %}
{%- endfor %}

{#- Carts and purchases are few: their counts and first times come from the time lists. #}
first_times as (
    {%- for level, key, entity_id in levels %}
    {%- set outer_loop = loop %}
    {%- for d in dims %}
    select
        level,
        entity_id,
        dimension,
        dimension_value,
        views,
        {{ funnel_list_length('cart_times') }} as carts,
        {{ funnel_list_length('purchase_times') }} as purchases,
        first_view_at,
        {{ funnel_list_min('cart_times') }} as first_cart_at,
        {{ funnel_list_min('purchase_times') }} as first_purchase_at,
        cart_times,
        purchase_times
    from {{ level }}_{{ d }}
    {{ 'union all' if not (loop.last and outer_loop.last) }}
    {%- endfor %}
    {%- endfor %}
),

ordered_cart as (
    select
        level,
        entity_id,
        dimension,
        dimension_value,
        views,
        carts,
        purchases,
        {%- for t in first_times %}
        {{ t }},
        {%- endfor %}
        purchase_times,
        case
            when first_cart_at >= first_view_at then first_cart_at
            when first_cart_at < first_view_at then {{ funnel_first_at_or_after('cart_times', 'first_view_at') }}
        end as ordered_cart_at
    from first_times
),

ordered as (
    select
        level,
        entity_id,
        dimension,
        dimension_value,
        views,
        carts,
        purchases,
        {%- for t in first_times %}
        {{ t }},
        {%- endfor %}
        ordered_cart_at,
        case
            when first_purchase_at >= ordered_cart_at then first_purchase_at
            when first_purchase_at < ordered_cart_at then {{ funnel_first_at_or_after('purchase_times', 'ordered_cart_at') }}
        end as ordered_purchase_at
    from ordered_cart
)

select
    level,
    entity_id,
    dimension,
    dimension_value,
    views,
    carts,
    purchases,
    {%- for t in first_times %}
    {{ t }},
    {%- endfor %}
    ordered_cart_at,
    ordered_purchase_at,
    {#- The null checks come first: the window arithmetic then runs only for the few ordered rows. #}
    ordered_cart_at is not null
    and ordered_cart_at <= {{ dbt.dateadd('day', var('view_to_cart_window_days', 7), 'first_view_at') }} as cart_within_window,
    ordered_purchase_at is not null
    and ordered_cart_at <= {{ dbt.dateadd('day', var('view_to_cart_window_days', 7), 'first_view_at') }}
    and ordered_purchase_at <= {{ dbt.dateadd('day', var('cart_to_purchase_window_days', 7), 'ordered_cart_at') }}
    as purchase_within_window
from ordered
