{#-
    One row per session, funnel dimension and dimension value: the session's views, carts and
    purchases among its events with that value, when it first reached each stage and when it
    reached cart and purchase in order, plus the cart and purchase times (int_funnel_user_stages
    rolls these up per user). The SQL is macros/funnel_stages.sql: this statement computes the
    'overall' rows, the post-hook the other dimensions for the same sessions.
    Incremental: sessions with an event in the reprocess window are recomputed whole
    (see macros/incremental.sql); the others keep their rows.
-#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    incremental_strategy='delete+insert',
    unique_key=['user_id', 'session_key'],
    pre_hook="{{ delete_sessions_in_event_window('last_event_at') }}",
    post_hook="{{ funnel_session_stages_other_dimensions() }}"
) }}
{#- int_session_hours recomputes a touched session whole, so its rows loaded since this model's
    last run are exactly the sessions to recompute. #}
{%- set touched_sessions -%}
    select user_id, session_key from {{ ref('int_session_hours') }} where {{ loaded_since_this_model() }}
{%- endset %}

{{ funnel_session_stage_rows('overall', touched_sessions if is_incremental() else none) }}
