{{ config(materialized='view') }}
{#-
    One row per (level, entity, dimension, dimension value): the stored stage states of sessions
    (int_funnel_session_stages) and users (int_funnel_user_stages) in one shape, with the
    funnel-tool "within window" flags, which depend on vars and so are not stored:
      cart_within_window:     ordered_cart_at is at most view_to_cart_window_days after first_view_at
      purchase_within_window: that, and ordered_purchase_at at most cart_to_purchase_window_days
                              after ordered_cart_at
    A view: funnel_by_dimension aggregates it, funnel_trends reads the users' 'overall' rows.
-#}
{%- set stage_columns = ['dimension', 'dimension_value', 'views', 'carts', 'purchases', 'first_view_at', 'first_cart_at', 'first_purchase_at', 'ordered_cart_at', 'ordered_purchase_at'] %}

with entities as (
    {%- for level, entity_id, model in [
        ('session', 'session_key', 'int_funnel_session_stages'),
        ('user', 'user_id', 'int_funnel_user_stages'),
    ] %}
    select
        '{{ level }}' as level,
        cast({{ entity_id }} as {{ dbt.type_string() }}) as entity_id,
        {%- for column in stage_columns %}
        {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref(model) }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select
    *,
    {#- The null checks come first: the window arithmetic then runs only for the few ordered rows. #}
    ordered_cart_at is not null
    and ordered_cart_at <= {{ dbt.dateadd('day', var('view_to_cart_window_days', 7), 'first_view_at') }} as cart_within_window,
    ordered_purchase_at is not null
    and ordered_cart_at <= {{ dbt.dateadd('day', var('view_to_cart_window_days', 7), 'first_view_at') }}
    and ordered_purchase_at <= {{ dbt.dateadd('day', var('cart_to_purchase_window_days', 7), 'ordered_cart_at') }}
    as purchase_within_window
from entities
