{#-
    Stored partial aggregates of marts (funnel_paths, conversion_drivers): incremental tables of
    counts keyed so that a new day recomputes only the keys it touches, and the mart sums them.

    Date-keyed states (one row per date and group): a date's counts depend only on the input rows
    of that date. The dates to recompute start at the earliest date among the input's rows
    (re)computed since the state's last run (loaded_window_start). The inputs are the
    session-grained incremental tables, which rewrite a touched session whole and delete without
    replacing only a session retired by a merge; that session's events then belong to a rewritten
    session that starts no later, so no date before the window start lost or changed a row.

    User-keyed states (one row per user and group): for counts that depend on a user's later
    sessions; the users to recompute are those with a row (re)computed since the state's last run
    in any of its inputs.
-#}

{% macro loaded_window_start(relation, date_expr) -%}
    {#- The earliest date_expr among relation's rows loaded after this model's latest loaded_at, as
        'YYYY-MM-DD'; none on a full build or when nothing is new. -#}
    {% if not is_incremental() or not execute %}{{ return(none) }}{% endif %}
    {% set query %}
        select cast(min(cast({{ date_expr }} as date)) as {{ dbt.type_string() }})
        from {{ relation }}
        where loaded_at > (
            select coalesce(max(loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }}
        )
    {% endset %}
    {{ return(run_query(query).rows[0][0]) }}
{%- endmacro %}


{% macro delete_state_windows(date_column, windows, part_column=none) -%}
    {#- Pre-hook of a date-keyed state: delete the dates from each window start on, so that a date
        whose groups vanished loses its old rows too. windows: {part: window start} with
        part_column, else {anything: window start} for the whole table; none = nothing new. -#}
    {{ return(adapter.dispatch('delete_state_windows')(date_column, windows, part_column)) }}
{%- endmacro %}
{% macro spark__delete_state_windows(date_column, windows, part_column=none) -%}
    {#- Nothing: on Spark the state is partitioned by its key and written with insert_overwrite
        (date_keyed_storage_config), which replaces each recomputed (group and) date whole. -#}
    {{ return('') }}
{%- endmacro %}
{% macro default__delete_state_windows(date_column, windows, part_column=none) -%}
    {%- set conditions = [] -%}
    {%- for part, start in windows.items() if start is not none -%}
        {%- set on_date = date_column ~ " >= cast('" ~ start ~ "' as date)" -%}
        {%- do conditions.append(on_date if part_column is none else '(' ~ part_column ~ " = '" ~ part ~ "' and " ~ on_date ~ ')') -%}
    {%- endfor -%}
    {%- if is_incremental() and conditions -%}
        delete from {{ this }} where {{ conditions | join(' or ') }}
    {%- endif -%}
{%- endmacro %}


{% macro state_users_to_recompute(relations) -%}
    {#- A user-keyed state's batch: a subquery of the user_ids with a row in any of relations
        loaded since this model's last run; none on a full build (every user). -#}
    {%- if not is_incremental() -%}{{ return(none) }}{%- endif -%}
    {%- set since = loaded_since_this_model() -%}
    {%- set parts = [] -%}
    {%- for relation in relations -%}
        {%- do parts.append('select user_id from ' ~ relation ~ ' where ' ~ since) -%}
    {%- endfor -%}
    {{ return(parts | join(' union ')) }}
{%- endmacro %}


{% macro state_user_filter(column, users) -%}
    {#- column in the users subquery; true when users is none (full build). -#}
    {%- if users is none -%}
        true
    {%- else -%}
        {{ column }} in ({{ users }})
    {%- endif -%}
{%- endmacro %}


{% macro delete_state_users(users) -%}
    {#- Pre-hook of a user-keyed state: delete the users to recompute, including those left with no
        row (delete+insert replaces only the keys the batch writes). -#}
    {%- if users is not none -%}
        delete from {{ this }} where user_id in ({{ users }})
    {%- endif -%}
{%- endmacro %}


{% macro funnel_path_step_window() -%}
    {{ return(loaded_window_start(ref('int_session_event_steps'), 'event_time')) }}
{%- endmacro %}


{% macro funnel_path_drop_off_users() -%}
    {#- Everything a user's drop-off outcomes read: sessions, carted or bought items, viewed items. -#}
    {{ return(state_users_to_recompute([ref('int_sessions'), ref('int_session_products'), ref('int_session_event_steps')])) }}
{%- endmacro %}


{% macro conversion_driver_windows() -%}
    {#- Per entity grain of int_conversion_driver_days: (input, its date of the entity). -#}
    {{ return({
        'session': loaded_window_start(ref('int_sessions'), 'session_date'),
        'user_day_product': loaded_window_start(ref('int_value_user_day_items'), 'event_date'),
        'session_product': loaded_window_start(ref('int_session_products'), 'first_cart_at'),
    }) }}
{%- endmacro %}
