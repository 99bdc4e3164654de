{#-
    One row per user, funnel dimension and dimension value: int_funnel_session_stages rolled up
    over the user's sessions (views summed, first view the earliest, cart and purchase times
    merged, so the ordered stages are those of the user's events with that value). The SQL is
    macros/funnel_stages.sql: this statement computes the 'overall' rows, the post-hook the other
    dimensions for the same users.
    Incremental: users with a session recomputed since this model's last run are recomputed from
    all their sessions; the others keep their rows.
-#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    incremental_strategy='delete+insert',
    unique_key='user_id',
    post_hook="{{ funnel_user_stages_other_dimensions() }}"
) }}
{%- set touched_users -%}
    select user_id from {{ ref('int_funnel_session_stages') }} where {{ loaded_since_this_model() }}
{%- endset %}

{{ funnel_user_stage_rows('overall', touched_users if is_incremental() else none) }}
