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

    The entities are counted per date in int_conversion_driver_days (an entity counts on one date,
    so the sums are exact) and a new day recomputes only the dates it touches; this model sums them.
-#}
{%- set min_entities = var('driver_min_entities', 30) -%}
{%- set top_n = var('driver_top_n', 5) -%}
{%- set max_p = var('driver_max_p_value', 0.05) -%}

with by_value as (
    -- The entity counts per property value: the sums of the stored per-date counts.
    select
        funnel_step,
        property,
        property_value,
        entity_grain,
        sum(entities) as entities,
        sum(converted) as converted
    from {{ ref('int_conversion_driver_days') }}
    group by funnel_step, property, property_value, entity_grain
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
