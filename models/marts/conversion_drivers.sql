{#-
    What goes with converting: one row per funnel step (view_to_cart, cart_to_purchase), property
    and property value, comparing the entities with the value to the entities with any other value
    of the property at the same step (2x2 table, odds ratio, Woolf 95% interval, two-sided p-value;
    macros/statistics.sql).

    Entities (no new scan of stg_events: every source is an intermediate table):
      - session properties (hour_of_day, weekday, session_depth, new_vs_returning): one row per
        session of int_sessions;
      - product properties (top_category, brand, price_band):
          view_to_cart: a user, UTC day and product with a view (int_value_user_day_items: the only
            materialized table that keeps viewed-only products; int_session_products keeps just the
            items past a view), converted when the product was carted that day;
          cart_to_purchase: a carted session-product of int_session_products, converted when it was
            purchased in the session at or after its first cart.
-#}
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
{%- endfor -%}
{%- set min_entities = var('driver_min_entities', 30) -%}
{%- set top_n = var('driver_top_n', 5) -%}
{%- set max_p = var('driver_max_p_value', 0.05) -%}

with sessions as (
    select
        user_id,
        session_key,
        session_start,
        views,
        first_view_at,
        first_cart_at,
        first_purchase_at,
        row_number() over (partition by user_id order by session_start, session_key) as session_number
    from {{ ref('int_sessions') }}
),

session_view_to_cart as (
    -- Sessions with a view; converted: a cart at or after the first view.
    select
        *,
        coalesce(first_cart_at >= first_view_at, false) as is_converted
    from sessions
    where first_view_at is not null
),

session_cart_to_purchase as (
    -- Sessions with a cart; converted: a purchase at or after the first cart.
    select
        *,
        coalesce(first_purchase_at >= first_cart_at, false) as is_converted
    from sessions
    where first_cart_at is not null
),

product_view_to_cart as (
    -- A user's viewed product on a UTC day (the day's rows at several prices merged; the highest
    -- price, as in int_session_products); converted: carted that day.
    select
        day_items.user_id,
        day_items.event_date,
        day_items.product_id,
        min(day_items.top_category) as top_category,
        min(day_items.brand) as brand,
        max(day_items.price) as price,
        sum(day_items.carts) > 0 as is_converted
    from {{ ref('int_value_user_day_items') }} as day_items
    group by day_items.user_id, day_items.event_date, day_items.product_id
    having sum(day_items.views) > 0
),

product_cart_to_purchase as (
    -- Carted session-products; converted: purchased in the session at or after the first cart.
    select
        *,
        coalesce(first_purchase_at >= first_cart_at, false) as is_converted
    from {{ ref('int_session_products') }}
    where first_cart_at is not null
),

by_value as (
    {%- for step, source, grain, properties in parts %}
    {%- set outer_loop = loop %}
    {%- for property, value_expr in properties.items() %}
    select
        '{{ step }}' as funnel_step,
        '{{ property }}' as property,
        {{ value_expr }} as property_value,
        '{{ grain }}' as entity_grain,
        count(*) as entities,
        sum(case when is_converted then 1 else 0 end) as converted
    from {{ source }} as entity
    {%- if property == 'price_band' %}
    left join {{ ref('int_event_price_bands') }} as price_band_lookup
        on entity.price = price_band_lookup.price
    {%- endif %}
    group by {{ value_expr }}
    {{ 'union all' if not (loop.last and outer_loop.last) }}
    {%- endfor %}
    {%- endfor %}
),

with_rest as (
    select
        funnel_step,
        property,
        property_value,
        entity_grain,
        cast(entities as {{ dbt.type_bigint() }}) as entities,
        cast(converted as {{ dbt.type_bigint() }}) as converted,
        cast(sum(entities) over (partition by funnel_step, property) - entities as {{ dbt.type_bigint() }}) as rest_entities,
        cast(sum(converted) over (partition by funnel_step, property) - converted as {{ dbt.type_bigint() }}) as rest_converted
    from by_value
),

cells as (
    -- The 2x2 table: a, b = converted / not with the value, c, d = converted / not with another
    -- value. The odds ratio is defined when there is another value (c + d > 0) and the step has
    -- both outcomes (a + c > 0 and b + d > 0): with a zero margin every ratio is 0/0.
    select
        *,
        cast(converted as {{ funnel_type_double() }}) as cell_a,
        cast(entities - converted as {{ funnel_type_double() }}) as cell_b,
        cast(rest_converted as {{ funnel_type_double() }}) as cell_c,
        cast(rest_entities - rest_converted as {{ funnel_type_double() }}) as cell_d,
        rest_entities > 0
        and converted + rest_converted > 0
        and (entities - converted) + (rest_entities - rest_converted) > 0 as is_defined
    from with_rest
),

corrected as (
    select
        *,
        case when is_defined then {{ stat_haldane_correction('cell_a', 'cell_b', 'cell_c', 'cell_d') }} end as correction
    from cells
),

log_odds as (
    select
        *,
        {{ stat_log_odds_ratio('cell_a', 'cell_b', 'cell_c', 'cell_d', 'correction') }} as log_odds_ratio,
        {{ stat_log_odds_ratio_se('cell_a', 'cell_b', 'cell_c', 'cell_d', 'correction') }} as log_odds_ratio_se
    from corrected
),

stats as (
    select
        funnel_step,
        property,
        property_value,
        entity_grain,
        entities,
        converted,
        {{ funnel_ratio('converted', 'entities') }} as conversion_rate,
        rest_entities,
        rest_converted,
        {{ funnel_ratio('rest_converted', 'rest_entities') }} as rest_conversion_rate,
        correction > 0 as haldane_corrected,
        {{ stat_round('exp(log_odds_ratio)') }} as odds_ratio,
        {{ stat_round('exp(log_odds_ratio - ' ~ stat_z_95() ~ ' * log_odds_ratio_se)') }} as odds_ratio_ci_low,
        {{ stat_round('exp(log_odds_ratio + ' ~ stat_z_95() ~ ' * log_odds_ratio_se)') }} as odds_ratio_ci_high,
        {{ stat_round('log_odds_ratio / log_odds_ratio_se') }} as z_score,
        {{ stat_round(stat_two_sided_p_value('log_odds_ratio / log_odds_ratio_se')) }} as p_value,
        entities >= {{ min_entities }} and rest_entities >= {{ min_entities }} as is_reliable
    from log_odds
),

ranked as (
    select
        *,
        is_reliable and p_value < {{ max_p }} and odds_ratio > 1 as is_positive_candidate,
        is_reliable and p_value < {{ max_p }} and odds_ratio < 1 as is_negative_candidate
    from stats
),

flagged as (
    select
        *,
        case when is_positive_candidate then row_number() over (
            partition by funnel_step, is_positive_candidate
            order by odds_ratio desc, p_value asc, property asc, property_value asc
        ) end as positive_rank,
        case when is_negative_candidate then row_number() over (
            partition by funnel_step, is_negative_candidate
            order by odds_ratio, p_value, property, property_value
        ) end as negative_rank
    from ranked
)

select
    funnel_step,
    property,
    property_value,
    entity_grain,
    entities,
    converted,
    conversion_rate,
    rest_entities,
    rest_converted,
    rest_conversion_rate,
    odds_ratio,
    odds_ratio_ci_low,
    odds_ratio_ci_high,
    haldane_corrected,
    z_score,
    p_value,
    is_reliable,
    case
        when positive_rank <= {{ top_n }} then 'top_positive'
        when negative_rank <= {{ top_n }} then 'top_negative'
    end as driver_flag
from flagged
