{#-
    Incremental loading. New raw files are appended to stg_raw_events; every per-event model
    below it then recomputes only the event dates from the earliest date the load touched
    ("the reprocess window") and leaves older dates alone.

    Each incremental table carries loaded_at, the start time of the dbt run that (re)computed the
    row. A model's window is found from its input: the earliest date among input rows loaded after
    the model's own latest loaded_at. A model that was skipped in an earlier run therefore catches
    up on the next one, and a run with no new files does no work.
-#}

{% macro loaded_at() -%}
    {#- One value per dbt run: every row (re)computed by this run carries it. -#}
    {%- if execute -%}
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
        {#- Parse time (and lint): the value is never used. -#}
        cast(null as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}


{% macro event_window_start(date_column='event_date') -%}
    {#- The first event date to recompute in an incremental run of a model downstream of
        stg_events, as a 'YYYY-MM-DD' string: the earliest date among events loaded since this
        model's last run (none on a full build, or when nothing is new; a filter on loaded_at
        skips the row groups loaded before). date_column: this model's column whose latest date
        is the latest loaded date, for the lateness check (check_lateness). -#}
    {% if not is_incremental() or not execute %}{{ return(none) }}{% endif %}
    {% set query %}
        select cast(min(event_date) as {{ text_type() }})
        from {{ ref('stg_events') }}
        where loaded_at > (
            select coalesce(max(loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }}
        )
    {% endset %}
    {% set window_start = run_query(query).rows[0][0] %}
    {% if window_start is not none %}
        {% set latest = run_query("select cast(cast(max(" ~ date_column ~ ") as date) as " ~ text_type() ~ ") from " ~ this).rows[0][0] %}
        {{ check_lateness(window_start, latest) }}
    {% endif %}
    {{ return(window_start) }}
{%- endmacro %}


{% macro event_window_filter(date_column, window_start) -%}
    {#- The batch filter of a model downstream of stg_events: all rows on a full build, the rows
        on or after the window start on an incremental one, none when nothing is new. -#}
    {%- if not is_incremental() -%}
        true
    {%- elif window_start is none -%}
        false
    {%- else -%}
        {{ date_column }} >= cast('{{ window_start }}' as date)
    {%- endif -%}
{%- endmacro %}


{% macro delete_sessions_in_event_window(session_time_column) -%}
    {#- Pre-hook of the session-grained models. delete+insert on session_id replaces every session
        the window touches; this also drops sessions whose id the window retired (a late
        session-less event can merge two gap sessions). Such sessions start inside the window. -#}
    {%- if is_incremental() -%}
        {%- set window_start = event_window_start(session_time_column) -%}
        {%- if window_start is not none -%}
            delete from {{ this }} where {{ session_time_column }} >= cast('{{ window_start }}' as {{ dbt.type_timestamp() }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro touched_sessions_filter(window_start) -%}
    {#- Sessions with an event in the window: recomputed whole, including their earlier events. -#}
    {%- if not is_incremental() -%}
        true
    {%- elif window_start is none -%}
        false
    {%- else -%}
        session_id in (
            select session_id from {{ ref('stg_events') }}
            where event_date >= cast('{{ window_start }}' as date)
        )
    {%- endif -%}
{%- endmacro %}


{% macro in_list(column, values) -%}
    {#- `column in ('a', 'b')`, or false for an empty list (SQL has no empty in-list). -#}
    {%- if values -%}
        {{ column }} in ({% for v in values %}'{{ v | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor %})
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}


{% macro loaded_raw_event_files(relation) -%}
    {#- The raw files loaded into relation (stg_raw_events); files with no data rows never appear. -#}
    {% if not execute %}{{ return([]) }}{% endif %}
    {{ return(run_query("select distinct source_file from " ~ relation ~ " order by 1").columns[0].values() | list) }}
{%- endmacro %}


{% macro check_lateness(window_start, latest) -%}
    {#- Late events (dated before days already loaded) are merged into their days, at the cost of
        recomputing every day since. Beyond lookback_days that would approach a full rebuild, so
        the build stops and says how to proceed instead of silently doing one. Every incremental
        model checks before it writes, so nothing after stg_raw_events changes. -#}
    {% if window_start is none or latest is none %}{{ return('') }}{% endif %}
    {% set lookback = var('lookback_days') | int %}
    {% set earliest_allowed = (modules.datetime.date.fromisoformat(latest) - modules.datetime.timedelta(days=lookback)) | string %}
    {% if window_start < earliest_allowed %}
        {{ exceptions.raise_compiler_error(
            "New raw files hold events dated " ~ window_start ~ ", more than lookback_days=" ~ lookback
            ~ " days before the latest loaded date " ~ latest ~ ". Load them with a larger window, "
            ~ "e.g. --vars '{lookback_days: " ~ ((modules.datetime.date.fromisoformat(latest) - modules.datetime.date.fromisoformat(window_start)).days) ~ "}', "
            ~ "or rebuild everything with `dbt build --full-refresh`. Nothing after stg_raw_events was changed.") }}
    {% endif %}
    {{ return('') }}
{%- endmacro %}


{% macro loaded_since_this_model() -%}
    {#- Filter on an input with loaded_at: its rows (re)computed since this model last loaded.
        All rows on a full build. -#}
    {%- if not is_incremental() -%}
        true
    {%- else -%}
        {%- set latest = run_query("select cast(max(loaded_at) as " ~ text_type() ~ ") from " ~ this).rows[0][0] if execute else none -%}
        {%- if latest is none -%}
            true
        {%- else -%}
            loaded_at > cast('{{ latest }}' as {{ dbt.type_timestamp() }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro raw_rows_storage_config() -%}
    {#- How stg_raw_events stores its rows (model config): appended per source file on DuckDB
        (the multi-line post-hook deletes and re-inserts one file's rows); on Spark, partitioned
        by source_file and written with insert_overwrite, which for new files appends and lets the
        post-hook replace one file's partition (Parquet tables have no delete). -#}
    {{ return(adapter.dispatch('raw_rows_storage_config')()) }}
{%- endmacro %}
{% macro default__raw_rows_storage_config() -%}
    {{ return({'incremental_strategy': 'append'}) }}
{%- endmacro %}
{% macro spark__raw_rows_storage_config() -%}
    {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': ['source_file']}) }}
{%- endmacro %}


{% macro date_keyed_storage_config(key) -%}
    {#- How a model keyed by date (and group) stores its rows (model config). DuckDB: delete+insert
        on the key, so a batch replaces the dates it holds (plus a pre-hook delete where a date's
        groups can vanish). Spark (Parquet has no delete, merge needs Delta): the table is
        partitioned by the key and written with insert_overwrite, dynamic, so every partition of
        the batch replaces the stored one whole and the others stay (no pre-hook delete needed). -#}
    {{ return(adapter.dispatch('date_keyed_storage_config')(key)) }}
{%- endmacro %}
{% macro default__date_keyed_storage_config(key) -%}
    {{ return({'incremental_strategy': 'delete+insert', 'unique_key': key}) }}
{%- endmacro %}
{% macro spark__date_keyed_storage_config(key) -%}
    {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': [key] if key is string else key}) }}
{%- endmacro %}
