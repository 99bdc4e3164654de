{#-
    One row per session: the per-event work every session-, user- and funnel-level mart shares.
    Rolled up from int_session_hours (one row per session, day and hour), so the events are
    aggregated once for both tables. Incremental like int_session_hours (see macros/incremental.sql).
-#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    incremental_strategy='delete+insert',
    unique_key=['user_id', 'session_key'],
    pre_hook="{{ delete_sessions_in_event_window('session_end') }}"
) }}
-- depends_on: {{ ref('stg_events') }}

with session_hours as (
    -- int_session_hours re-inserts every session it touches whole, so its newly loaded rows are
    -- exactly the sessions to recompute here.
    select * from {{ ref('int_session_hours') }}
    where {{ loaded_since_this_model() }}
)

select
    user_id,
    session_key,
    min(first_event_at) as session_start,
    max(last_event_at) as session_end,
    {{ dbt.datediff('min(first_event_at)', 'max(last_event_at)', 'second') }} as duration_seconds,
    cast(min(first_event_at) as date) as session_date,
    {%- for column in ['events', 'views', 'carts', 'remove_from_carts', 'purchases'] %}
    cast(sum({{ column }}) as {{ dbt.type_bigint() }}) as {{ column }},
    {%- endfor %}
    sum(revenue) as revenue,
    min(first_view_at) as first_view_at,
    min({{ funnel_list_min('cart_times') }}) as first_cart_at,
    min({{ funnel_list_min('purchase_times') }}) as first_purchase_at,
    {{ loaded_at() }} as loaded_at
from session_hours
group by user_id, session_key
