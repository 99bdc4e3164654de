{#-
    The view -> cart -> purchase funnel per level (user, session), dimension and dimension value,
    one row per stage. Dimension 'overall' (value 'all') is the whole funnel: funnel_summary.
-#}
{{ config(post_hook="{{ funnel_by_dimension_other_parts() }}") }}
{#- The SQL is macros/funnel_by_dimension.sql: the first (level, dimension) here, the others by
    the post-hook, one statement each, so one hash table of entities is held at a time. -#}
{%- set level, dimension = funnel_by_dimension_parts()[0] %}

{{ funnel_by_dimension_part(level, dimension) }}
