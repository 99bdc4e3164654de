{#-
    As-of dates of the customer feature snapshots.

    D = var prediction_date, or the last clean event date (max stg_events.event_date) when empty.
    H = var churn_horizon_days. The snapshots are D and the latest feature_snapshot_count - 1
    (default 6 - 1) dates of a fixed calendar grid (every feature_snapshot_step_days days, default
    half of H) whose label window ends by D, plus features_as_of (default D): the prediction
    snapshot and the labelled snapshots of the rolling backtest's cutoffs and training sets (the
    ML code reads whichever dates the table holds, ml/plan.py). Grid dates do not move with D:
    each is computed once, when it enters the list, and kept (int_customer_feature_snapshots is
    incremental); a new day recomputes D only.
-#}

{% macro feature_parse_date(value, var_name) -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
        {{ exceptions.raise_compiler_error("var " ~ var_name ~ " must be a date 'YYYY-MM-DD' or empty, got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(modules.datetime.datetime.strptime(text, '%Y-%m-%d').date()) }}
{%- endmacro %}


{% macro feature_last_event_date() -%}
    {#- The last clean event date, read from the warehouse at execute time (none before, or without events). -#}
    {%- set events = ref('stg_events') -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set result = run_query('select max(event_date) from ' ~ events) -%}
    {%- set last = result.columns[0].values()[0] if result.rows | length > 0 else none -%}
    {#- dbt-spark's thrift method returns a date as its 'YYYY-MM-DD' text. -#}
    {%- if last is string -%}{%- set last = modules.datetime.date.fromisoformat(last) -%}{%- endif -%}
    {{ return(last) }}
{%- endmacro %}


{% macro feature_prediction_date() -%}
    {#- D: var prediction_date, else the last clean event date. none when neither is known. -#}
    {%- set configured = value_var('prediction_date', '') | string | trim -%}
    {%- if configured -%}{{ return(feature_parse_date(configured, 'prediction_date')) }}{%- endif -%}
    {{ return(feature_last_event_date()) }}
{%- endmacro %}


{% macro feature_as_of_date() -%}
    {#- The as-of date of marts.customer_features: var features_as_of, else D. -#}
    {%- set configured = value_var('features_as_of', '') | string | trim -%}
    {%- if configured -%}{{ return(feature_parse_date(configured, 'features_as_of')) }}{%- endif -%}
    {{ return(feature_prediction_date()) }}
{%- endmacro %}


{% macro feature_snapshot_grid_dates(d, horizon, step, count) -%}
    {#- The `count` latest dates of the calendar grid (every `step` days from 2000-01-02, a Sunday)
        whose label window (g, g + horizon] ends by d. Fixed dates: a grid snapshot, once its
        events are loaded, never changes, so it is computed once and stored. -#}
    {%- set anchor = modules.datetime.date(2000, 1, 2) -%}
    {%- set latest = d - modules.datetime.timedelta(days=horizon) -%}
    {%- set offset = (latest - anchor).days % step -%}
    {%- set dates = [] -%}
    {%- for k in range(count) -%}
        {%- do dates.append(latest - modules.datetime.timedelta(days=offset + k * step)) -%}
    {%- endfor -%}
    {{ return(dates) }}
{%- endmacro %}


{% macro feature_snapshot_dates() -%}
    {#- Sorted 'YYYY-MM-DD' strings; empty when no date is known (no events and no vars):
        D, the feature_snapshot_count - 1 latest grid dates (every feature_snapshot_step_days,
        default half of H, on a fixed calendar) whose label window is observed by E (see below),
        and features_as_of. -#}
    {%- set d = feature_prediction_date() -%}
    {%- set horizon = value_var('churn_horizon_days', 28) | int -%}
    {%- set count = value_var('feature_snapshot_count', 6) | int -%}
    {%- set step = value_var('feature_snapshot_step_days', 0) | int or ((horizon + 1) // 2) -%}
    {%- if horizon < 1 or count < 1 or step < 1 -%}
        {{ exceptions.raise_compiler_error("churn_horizon_days, feature_snapshot_count and feature_snapshot_step_days must be positive integers") }}
    {%- endif -%}
    {#- The grid dates are those labelled by E, the ML's retraining date (the latest date of the
        weekly grid of ml_retrain_every_days on or before D, ml/plan.py training_date): the list
        then changes only when E moves, so the stored models stay valid between (ml/store.py). -#}
    {%- set every = value_var('ml_retrain_every_days', 7) | int -%}
    {%- set dates = [] -%}
    {%- if d is not none -%}
        {%- set e = d - modules.datetime.timedelta(days=(d - modules.datetime.date(2000, 1, 2)).days % every) -%}
        {%- for g in [d] + feature_snapshot_grid_dates(e, horizon, step, count - 1) -%}
            {%- if g.strftime('%Y-%m-%d') not in dates -%}{%- do dates.append(g.strftime('%Y-%m-%d')) -%}{%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set as_of = feature_as_of_date() -%}
    {%- if as_of is not none and as_of.strftime('%Y-%m-%d') not in dates -%}
        {%- do dates.append(as_of.strftime('%Y-%m-%d')) -%}
    {%- endif -%}
    {{ return(dates | sort) }}
{%- endmacro %}


{% macro feature_stored_snapshot_dates(older_than_this_run=false) -%}
    {#- The as-of dates stored in int_customer_feature_snapshots ('YYYY-MM-DD'), at execute time;
        older_than_this_run: only those whose rows an earlier run wrote. -#}
    {%- if not execute or not is_incremental() -%}{{ return([]) }}{%- endif -%}
    {%- set query -%}
        select distinct cast(as_of_date as {{ text_type() }}) from {{ this }}
        {%- if older_than_this_run %} where loaded_at < {{ loaded_at() }}{% endif %}
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{%- endmacro %}


{% macro feature_snapshot_dates_to_build() -%}
    {#- Before this run writes: the wanted dates that are not stored, or that events loaded since
        the last run can change (on or after the earliest of their dates: a snapshot reads only
        events on or before its date). Every wanted date on a full build. -#}
    {%- set wanted = feature_snapshot_dates() -%}
    {%- if not is_incremental() -%}{{ return(wanted) }}{%- endif -%}
    {%- set stored = feature_stored_snapshot_dates() -%}
    {%- set window_start = event_window_start('as_of_date') -%}
    {%- set changed = stored | select('in', wanted) | select('ge', window_start or '9999-12-31') | list -%}
    {{ return((wanted | reject('in', stored) | list + changed) | sort) }}
{%- endmacro %}


{% macro feature_snapshot_dates_built_this_run() -%}
    {#- After this run's first statement (post-hook): the wanted dates with no row of an earlier
        run left, which the pre-hook deleted or never stored: the same list as before the run. -#}
    {%- set kept = feature_stored_snapshot_dates(older_than_this_run=true) -%}
    {{ return(feature_snapshot_dates() | reject('in', kept) | list) }}
{%- endmacro %}


{% macro feature_snapshot_delete_stale() -%}
    {#- Pre-hook: drop the dates no longer wanted and those about to be rebuilt. -#}
    {%- if not is_incremental() -%}{{ return('') }}{%- endif -%}
    {%- set keep = feature_snapshot_dates() | reject('in', feature_snapshot_dates_to_build()) | list -%}
    {{ delete_as_of_dates_except(keep) }}
{%- endmacro %}


{% macro feature_snapshots_sql(dates) -%}
    {#- One row per as-of date, numbered 1, 2, ... in the list's order (no row when the list is empty). -#}
    {%- for d in dates %}
    select cast('{{ d }}' as date) as as_of_date, {{ loop.index }} as snapshot_number{{ ' union all' if not loop.last }}
    {%- else %}
    select cast(null as date) as as_of_date, 0 as snapshot_number where false
    {%- endfor %}
{%- endmacro %}


{% macro feature_pick(dates, column) -%}
    {#- Value of column_n for the row's snapshot n (a snapshots row joined in); null without dates. -#}
    {%- if dates | length == 0 %}null{% else -%}
    case snapshots.snapshot_number
        {%- for d in dates %} when {{ loop.index }} then {{ column }}_{{ loop.index }}{% endfor %} end
    {%- endif -%}
{%- endmacro %}


{% macro feature_user_partitions(snapshot_count) -%}
    {#- How many user groups int_customer_feature_snapshots computes one after the other: var
        feature_user_partitions, or (0, the default) one group per feature_rows_per_partition rows
        of the snapshot table, estimated as user-days x snapshot dates (each user-day is joined to
        the dates on or after it). One group until the data is known. -#}
    {%- set configured = value_var('feature_user_partitions', 0) | int -%}
    {%- if configured > 0 -%}{{ return(configured) }}{%- endif -%}
    {%- set user_days = ref('int_user_days') -%}
    {#- Unit tests read fixtures (CTEs named __dbt__cte__...), never large. -#}
    {%- if not execute or snapshot_count == 0 or (user_days | string).startswith('__dbt__cte__') -%}{{ return(1) }}{%- endif -%}
    {%- set rows = run_query('select count(*) from ' ~ user_days).columns[0].values()[0] -%}
    {%- set per_partition = value_var('feature_rows_per_partition', 4000000) | int -%}
    {{ return([1, ((rows * snapshot_count) / per_partition) | round(0, 'ceil') | int] | max) }}
{%- endmacro %}


{% macro snapshot_label_dates_to_build() -%}
    {#- ml_snapshot_labels, incremental by as-of date: before this run writes, the wanted dates
        (those of the feature table) that are not stored, whose stored labels are not final (their
        window was not fully observed), were computed with another churn_horizon_days or
        big_spender_share, or whose label window (T, T + H] reaches the events loaded since the last
        run (history and labels both read days up to T + H). Every wanted date on a full build. -#}
    {%- set wanted = feature_snapshot_dates() -%}
    {%- if not execute or not is_incremental() -%}{{ return(wanted) }}{%- endif -%}
    {%- set horizon = value_var('churn_horizon_days', 28) | int -%}
    {%- set share = value_var('big_spender_share', 0.2) | float -%}
    {%- set query -%}
        select
            cast(as_of_date as {{ text_type() }}) as as_of_date,
            min(case
                when label_window_observed and horizon_days = {{ horizon }} and big_spender_share = {{ share }}
                    then 1 else 0
            end) as final
        from {{ this }}
        group by as_of_date
    {%- endset -%}
    {%- set stored = {} -%}
    {%- for row in run_query(query).rows -%}{%- do stored.update({row[0]: row[1] == 1}) -%}{%- endfor -%}
    {%- set window_start = event_window_start('as_of_date') -%}
    {%- set build = [] -%}
    {%- for d in wanted -%}
        {%- set window_end = (modules.datetime.date.fromisoformat(d) + modules.datetime.timedelta(days=horizon)) | string -%}
        {%- if d not in stored or not stored[d] or (window_start is not none and window_start <= window_end) -%}
            {%- do build.append(d) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(build) }}
{%- endmacro %}


{% macro snapshot_label_delete_stale() -%}
    {#- Pre-hook of ml_snapshot_labels: drop the dates no longer wanted and those about to be rebuilt. -#}
    {%- if not is_incremental() -%}{{ return('') }}{%- endif -%}
    {%- set keep = feature_snapshot_dates() | reject('in', snapshot_label_dates_to_build()) | list -%}
    {{ delete_as_of_dates_except(keep) }}
{%- endmacro %}


{% macro delete_as_of_dates_except(keep) -%}
    {#- Pre-hook statement of a table keyed by as_of_date: remove every stored date not in `keep`
        ('YYYY-MM-DD'). DuckDB deletes the rows; Spark (Parquet has no delete) drops the dates'
        partitions (as_of_date_storage_config). -#}
    {{ return(adapter.dispatch('delete_as_of_dates_except')(keep)) }}
{%- endmacro %}
{% macro default__delete_as_of_dates_except(keep) -%}
    delete from {{ this }} where not {{ in_list("cast(as_of_date as " ~ text_type() ~ ")", keep) }}
{%- endmacro %}
{% macro spark__delete_as_of_dates_except(keep) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set stored = run_query("select distinct cast(as_of_date as string) from " ~ this).columns[0].values() -%}
    {%- set dropped = stored | reject('in', keep) | list -%}
    {%- if dropped -%}
    alter table {{ this }} drop if exists
        {%- for d in dropped %} partition (as_of_date = '{{ d }}'){{ ',' if not loop.last }}{% endfor %}
    {%- endif -%}
{%- endmacro %}


{% macro as_of_date_storage_config() -%}
    {#- Model config of a table kept by as-of date and written in several appends (user groups):
        Spark partitions it by as_of_date, so that delete_as_of_dates_except can drop dates. -#}
    {{ return(adapter.dispatch('as_of_date_storage_config')()) }}
{%- endmacro %}
{% macro default__as_of_date_storage_config() -%}
    {{ return({}) }}
{%- endmacro %}
{% macro spark__as_of_date_storage_config() -%}
    {{ return({'partition_by': ['as_of_date']}) }}
{%- endmacro %}
