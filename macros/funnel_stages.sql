{#-
    Funnel stage states: when each entity (session, user) first reached each funnel stage, per
    dimension value, stored so that a new day recomputes only the entities it touches.

    int_funnel_session_stages holds one row per session, dimension and value; int_funnel_user_stages
    rolls those rows up per user (a user's events with a value are the union of its sessions'
    events with that value, so first times are minima and time lists concatenate). Both compute one
    dimension per statement: the model's own SQL computes 'overall' for the batch (the sessions /
    users to recompute), and a post-hook inserts every other dimension for the same batch, found as
    the entities whose 'overall' row this run wrote. One hash table of entities is held at a time:
    all dimensions in one statement ran them side by side and spilled at 10 M events.
-#}

{% macro funnel_stage_dimensions() -%}
    {{ return(['overall'] + funnel_dimensions()) }}
{%- endmacro %}


{% macro funnel_hourly_dimension(dimension) -%}
    {#- The value of a time dimension on an int_session_hours row; none for product dimensions. -#}
    {%- set hourly = {
        'overall': "'all'",
        'event_date': 'cast(hours.event_date as ' ~ dbt.type_string() ~ ')',
        'hour_of_day': "lpad(cast(hours.event_hour as " ~ dbt.type_string() ~ "), 2, '0')",
    } -%}
    {{ return(hourly.get(dimension)) }}
{%- endmacro %}


{% macro funnel_event_dimension(dimension) -%}
    {#- A product dimension: (expression grouped on, typed: cheaper than text; its label). -#}
    {%- set missing = 'coalesce(dim_value, ' ~ funnel_missing_label() ~ ')' -%}
    {%- set by_event = {
        'top_category': ('events.top_category', missing),
        'brand': ('events.brand', missing),
        'price_band': ('price_band_lookup.band_label', "coalesce(dim_value, '(unbanded)')"),
    } -%}
    {%- if dimension not in by_event -%}
        {{ exceptions.raise_compiler_error("funnel_dimensions: unknown dimension '" ~ dimension ~ "'") }}
    {%- endif -%}
    {{ return(by_event[dimension]) }}
{%- endmacro %}


{% macro funnel_ordered_stage_columns() -%}
    {#- Over a row with views, first_view_at, cart_times, purchase_times: the stage columns.
        Carts and purchases are few, so their counts and first times come from the time lists. -#}
    views,
    {{ funnel_list_length('cart_times') }} as carts,
    {{ funnel_list_length('purchase_times') }} as purchases,
    first_view_at,
    {{ funnel_list_min('cart_times') }} as first_cart_at,
    {{ funnel_list_min('purchase_times') }} as first_purchase_at,
    {#- Ordered: the first cart at or after the first view, then the first purchase at or after it. #}
    {{ funnel_first_at_or_after('cart_times', 'first_view_at') }} as ordered_cart_at,
    {{ funnel_first_at_or_after('purchase_times', funnel_first_at_or_after('cart_times', 'first_view_at')) }} as ordered_purchase_at
{%- endmacro %}


{% macro funnel_entity_filter(columns, entities) -%}
    {#- columns (SQL expressions) in the entities subquery; true when entities is none (all). -#}
    {%- if entities is none -%}
        true
    {%- else -%}
        ({{ columns | join(', ') }}) in ({{ entities }})
    {%- endif -%}
{%- endmacro %}


{% macro funnel_session_stage_rows(dimension, entities, since_date=none) -%}
    {#- One dimension of int_funnel_session_stages for the sessions in entities (a subquery of
        user_id, session_key; none: every session). since_date: the first day of those sessions,
        when known; the filter on it prunes the scan of older events. -#}
    {%- set since = 'true' if since_date is none else "event_date >= cast('" ~ since_date ~ "' as date)" -%}
    {%- set hourly = funnel_hourly_dimension(dimension) %}
with per_session as (
    {%- if hourly is not none %}
    select
        hours.user_id,
        hours.session_key,
        {{ hourly }} as dimension_value,
        cast(sum(hours.views) as {{ dbt.type_bigint() }}) as views,
        min(hours.first_view_at) as first_view_at,
        max(hours.last_event_at) as last_event_at,
        {{ funnel_merge_lists('hours.cart_times') }} as cart_times,
        {{ funnel_merge_lists('hours.purchase_times') }} as purchase_times
    from {{ ref('int_session_hours') }} as hours
    where {{ since | replace('event_date', 'hours.event_date') }}
        and {{ funnel_entity_filter(['hours.user_id', 'hours.session_key'], entities) }}
    group by hours.user_id, hours.session_key{% if dimension != 'overall' %}, {{ hourly }}{% endif %}
    {%- else %}
    {%- set group_expr, label = funnel_event_dimension(dimension) %}
    select
        events.user_id,
        {{ session_key('events.session_id') }} as session_key,
        {{ label | replace('dim_value', group_expr) }} as dimension_value,
        count(case when events.event_type = 'view' then 1 end) as views,
        min(case when events.event_type = 'view' then events.event_time end) as first_view_at,
        max(events.event_time) as last_event_at,
        {{ funnel_times_list('events.event_time', "events.event_type = 'cart'") }} as cart_times,
        {{ funnel_times_list('events.event_time', "events.event_type = 'purchase'") }} as purchase_times
    from {{ ref('stg_events') }} as events
    {%- if dimension == 'price_band' %}
    left join {{ ref('int_event_price_bands') }} as price_band_lookup
        on events.price = price_band_lookup.price
    {%- endif %}
    where {{ since | replace('event_date', 'events.event_date') }}
        and {{ funnel_entity_filter(['events.user_id', session_key('events.session_id')], entities) }}
    group by events.user_id, {{ session_key('events.session_id') }}, {{ group_expr }}
    {%- endif %}
)

select
    user_id,
    session_key,
    '{{ dimension }}' as dimension,
    dimension_value,
    {{ funnel_ordered_stage_columns() }},
    cart_times,
    purchase_times,
    last_event_at,
    {{ loaded_at() }} as loaded_at
from per_session
{%- endmacro %}


{% macro funnel_user_stage_rows(dimension, entities) -%}
    {#- One dimension of int_funnel_user_stages for the users in entities (a subquery of user_id;
        none: every user), rolled up from their sessions' rows. -#}
with per_user as (
    select
        sessions.user_id,
        sessions.dimension_value,
        cast(sum(sessions.views) as {{ dbt.type_bigint() }}) as views,
        min(sessions.first_view_at) as first_view_at,
        {{ funnel_merge_lists('sessions.cart_times') }} as cart_times,
        {{ funnel_merge_lists('sessions.purchase_times') }} as purchase_times
    from {{ ref('int_funnel_session_stages') }} as sessions
    where sessions.dimension = '{{ dimension }}'
        and {{ funnel_entity_filter(['sessions.user_id'], entities) }}
    group by sessions.user_id, sessions.dimension_value
)

select
    user_id,
    '{{ dimension }}' as dimension,
    dimension_value,
    {{ funnel_ordered_stage_columns() }},
    {{ loaded_at() }} as loaded_at
from per_user
{%- endmacro %}


{% macro funnel_stages_this_run(key_columns) -%}
    {#- In a post-hook: the entities whose 'overall' row this run wrote, as a subquery; none on a
        full build (every row is this run's), which saves a semi-join over every event. -#}
    {%- set others = run_query("select count(*) from " ~ this ~ " where loaded_at <> " ~ loaded_at()).columns[0].values()[0] if execute else 0 -%}
    {%- if others == 0 -%}{{ return(none) }}{%- endif -%}
    {%- set subquery -%}
        select {{ key_columns | join(', ') }} from {{ this }}
        where dimension = 'overall' and loaded_at = {{ loaded_at() }}
    {%- endset -%}
    {{ return(subquery) }}
{%- endmacro %}


{% macro funnel_session_stages_other_dimensions() -%}
    {#- Post-hook of int_funnel_session_stages. -#}
    {%- set entities = funnel_stages_this_run(['user_id', 'session_key']) -%}
    {%- set since_date = none -%}
    {%- if entities is not none -%}
        {%- set since_date = run_query(
            "select cast(min(event_date) as varchar) from " ~ ref('int_session_hours')
            ~ " where (user_id, session_key) in (" ~ entities ~ ")").columns[0].values()[0] -%}
        {#- No session in this run's batch: nothing to insert. -#}
        {%- if since_date is none %}{{ return('') }}{% endif -%}
    {%- endif -%}
    {%- for dimension in funnel_stage_dimensions()[1:] %}
    insert into {{ this }} by name
    {{ funnel_session_stage_rows(dimension, entities, since_date) }};
    {%- endfor %}
{%- endmacro %}


{% macro funnel_user_stages_other_dimensions() -%}
    {#- Post-hook of int_funnel_user_stages. -#}
    {%- set entities = funnel_stages_this_run(['user_id']) -%}
    {%- for dimension in funnel_stage_dimensions()[1:] %}
    insert into {{ this }} by name
    {{ funnel_user_stage_rows(dimension, entities) }};
    {%- endfor %}
{%- endmacro %}
