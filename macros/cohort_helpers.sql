{#- Calendar periods for cohort and lifecycle marts (portable: dbt's cross-database macros). -#}

{% macro cohort_grain() -%}
    {#- var cohort_grain: 'week' (ISO weeks, Monday first) or 'month'. -#}
    {%- set grain = value_var('cohort_grain', 'week') | string | trim | lower -%}
    {%- if grain not in ['week', 'month'] -%}
        {{ exceptions.raise_compiler_error("var cohort_grain must be 'week' or 'month', got '" ~ grain ~ "'.") }}
    {%- endif -%}
    {{ return(grain) }}
{%- endmacro %}


{% macro period_start(date_expr, grain) -%}
    cast({{ dbt.date_trunc(grain, date_expr) }} as date)
{%- endmacro %}


{% macro periods_between(start_expr, end_expr, grain) -%}
    {#- Whole periods from one period start to another (both already truncated to the grain). -#}
    {%- if grain == 'week' -%}
        cast({{ dbt.datediff(start_expr, end_expr, 'day') }} / 7 as {{ dbt.type_bigint() }})
    {%- else -%}
        cast({{ dbt.datediff(start_expr, end_expr, 'month') }} as {{ dbt.type_bigint() }})
    {%- endif -%}
{%- endmacro %}


{% macro period_last_day(start_expr, grain) -%}
    cast({{ dbt.dateadd('day', -1, dbt.dateadd(grain, 1, start_expr)) }} as date)
{%- endmacro %}


{% macro active_user_periods(activities, grain, label_column, period_column) -%}
    {#- One row per activity, user and period in which the user was active, from int_user_days.
        activities: {label: condition on int_user_days' counts}, e.g. {'active': 'events > 0'}. -#}
    {%- for label, condition in activities.items() %}
    select
        '{{ label }}' as {{ label_column }},
        user_id,
        {{ period_start('event_date', grain) }} as {{ period_column }}
    from {{ ref('int_user_days') }}
    where {{ condition }}
    group by user_id, {{ period_start('event_date', grain) }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
