{{ config(materialized='view') }}
{#-
    One row per (level, entity, dimension, dimension value): when the entity first reached each
    funnel stage and when it reached cart and purchase in order, counting only the entity's events
    with that dimension value. Levels: session, user. Dimension 'overall' (value 'all') takes every
    event.

    One aggregation per level and dimension: the time dimensions (overall, event_date,
    hour_of_day) roll up int_session_hours (a few rows per session), the product ones
    (top_category, brand, price_band) group stg_events. Each aggregation streams into one UNION
    ALL: none of them is read twice, so none is materialized, and DuckDB runs them one or two at a
    time (grouping sets, or user rows rolled up from session rows, would hold several large hash
    tables at once). A view on purpose: only funnel_by_dimension reads it, aggregated.

    Ordered stages, within the entity's events of the dimension value:
      ordered_cart_at     = first cart at or after the first view
      ordered_purchase_at = first purchase at or after ordered_cart_at
    "Within window" (funnel-tool style, anchored on those times): ordered_cart_at is at most
    view_to_cart_window_days after first_view_at, and ordered_purchase_at at most
    cart_to_purchase_window_days after ordered_cart_at.
-#}
{%- set dims = ['overall'] + funnel_dimensions() -%}
{#- Session-level source of each dimension: int_session_hours rows (time dimensions) or events. -#}
{%- set hourly = {
    'overall': "'all'",
    'event_date': 'cast(hours.event_date as ' ~ dbt.type_string() ~ ')',
    'hour_of_day': "lpad(cast(hours.event_hour as " ~ dbt.type_string() ~ "), 2, '0')",
} -%}
{#- Product dimensions: the value grouped on (typed: cheaper than text) and its label from dim_value. -#}
{%- set by_event = {
    'top_category': ('events.top_category', 'coalesce(dim_value, ' ~ funnel_missing_label() ~ ')'),
    'brand': ('events.brand', 'coalesce(dim_value, ' ~ funnel_missing_label() ~ ')'),
    'price_band': ('price_band_lookup.band_label', "coalesce(dim_value, '(unbanded)')"),
} -%}
{%- set first_times = ['first_view_at', 'first_cart_at', 'first_purchase_at'] -%}

with
{#- Sessions are grouped by (user_id, session_key); their entity_id is the key as text. -#}
{%- for level in ['session', 'user'] %}
{%- for d in dims %}

{{ level }}_{{ d }} as (
    select
        {%- if d in hourly %}
        hours.user_id,
        {%- if level == 'session' %}
        hours.session_key,
        {%- endif %}
        {{ hourly[d] }} as dimension_value,
        cast(sum(hours.views) as {{ dbt.type_bigint() }}) as views,
        min(hours.first_view_at) as first_view_at,
        {{ funnel_merge_lists('hours.cart_times') }} as cart_times,
        {{ funnel_merge_lists('hours.purchase_times') }} as purchase_times
    from {{ ref('int_session_hours') }} as hours
    group by hours.user_id{% if level == 'session' %}, hours.session_key{% endif %}{% if d != 'overall' %}, {{ hourly[d] }}{% endif %}
        {%- else %}
        {%- set group_expr, label = by_event[d] %}
        events.user_id,
        {%- if level == 'session' %}
        {{ session_key('events.session_id') }} as session_key,
        {%- endif %}
        {{ label | replace('dim_value', group_expr) }} as dimension_value,
        count(case when events.event_type = 'view' then 1 end) as views,
        min(case when events.event_type = 'view' then events.event_time end) as first_view_at,
        {{ funnel_times_list('events.event_time', "events.event_type = 'cart'") }} as cart_times,
        {{ funnel_times_list('events.event_time', "events.event_type = 'purchase'") }} as purchase_times
    from {{ ref('stg_events') }} as events
    {%- if d == 'price_band' %}
    left join {{ ref('int_event_price_bands') }} as price_band_lookup
        on events.price = price_band_lookup.price
    {%- endif %}
    group by events.user_id{% if level == 'session' %}, {{ session_key('events.session_id') }}{% endif %}, {{ group_expr }}
        {%- endif %}
),
{%- endfor %}
{%- endfor %}

{#- Carts and purchases are few: their counts and first times come from the time lists. #}
first_times as (
    {%- for d in dims %}
    {%- set outer_loop = loop %}
    {%- for level, entity_id in [('session', 'cast(session_key as ' ~ dbt.type_string() ~ ')'), ('user', 'cast(user_id as ' ~ dbt.type_string() ~ ')')] %}
    select
        '{{ level }}' as level,
        {{ entity_id }} as entity_id,
        '{{ d }}' as dimension,
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
