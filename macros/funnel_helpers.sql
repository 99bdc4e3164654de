{#-
    Helpers shared by the funnel, time-to-action, cart and engagement models.
    Engine-specific syntax (list aggregates and lambdas) is dispatched here (default__: DuckDB, spark__:
    Apache Spark); everything else is portable.
-#}

{% macro funnel_stages() -%}
    {#- The funnel in order. Each stage is reached by an event of the same name. -#}
    {{ return(['view', 'cart', 'purchase']) }}
{%- endmacro %}


{% macro funnel_list_var(name, default) -%}
    {#- A list-valued var; the default when it is not a list (sqlfluff renders var() as a placeholder string). -#}
    {% set value = var(name, default) %}
    {{ return(default if value is string else value) }}
{%- endmacro %}


{% macro funnel_dimensions() -%}
    {#- Dimensions of funnel_by_dimension besides 'overall'; a var so unit tests can narrow it. -#}
    {{ return(funnel_list_var('funnel_dimensions', ['top_category', 'brand', 'price_band', 'event_date', 'hour_of_day'])) }}
{%- endmacro %}


{% macro funnel_missing_label() -%}
    {#- dimension_value for events whose dimension is null (no category code, no brand). -#}
    '(missing)'
{%- endmacro %}


{% macro funnel_ratio(numerator, denominator) -%}
    {#- A share or ratio as double; null (not 0, not an error) when the denominator is 0 or null. -#}
    cast({{ numerator }} as {{ funnel_type_double() }}) / nullif({{ denominator }}, 0)
{%- endmacro %}


{% macro funnel_percentile(fraction, expr) -%}
    {#- Interpolated percentile (pandas' default); ordered-set syntax runs on DuckDB, Postgres, Snowflake. -#}
    percentile_cont({{ fraction }}) within group (order by {{ expr }})
{%- endmacro %}


{% macro funnel_times_list(time_expr, condition) -%}
    {#- Aggregate the times of the rows matching condition into a list (null when none). -#}
    {{ return(adapter.dispatch('funnel_times_list')(time_expr, condition)) }}
{%- endmacro %}
{% macro default__funnel_times_list(time_expr, condition) -%}
    list({{ time_expr }}) filter (where {{ condition }})
{%- endmacro %}
{% macro spark__funnel_times_list(time_expr, condition) -%}
    {#- collect_list gives [] for no row (DuckDB's list gives null) and skips nulls (times are never null). -#}
    case when count({{ time_expr }}) filter (where {{ condition }}) > 0
        then collect_list({{ time_expr }}) filter (where {{ condition }}) end
{%- endmacro %}


{% macro funnel_first_at_or_after(times_list, threshold) -%}
    {#- Earliest time in times_list that is >= threshold; null when there is none. -#}
    {{ return(adapter.dispatch('funnel_first_at_or_after')(times_list, threshold)) }}
{%- endmacro %}
{% macro default__funnel_first_at_or_after(times_list, threshold) -%}
    list_min(list_filter({{ times_list }}, lambda t: t >= {{ threshold }}))
{%- endmacro %}
{% macro spark__funnel_first_at_or_after(times_list, threshold) -%}
    array_min(filter({{ times_list }}, t -> t >= {{ threshold }}))
{%- endmacro %}


{% macro funnel_month_label(date_expr) -%}
    {#- 'YYYY-MM' of a date or timestamp. -#}
    substring(cast({{ dbt.date_trunc('month', date_expr) }} as {{ dbt.type_string() }}), 1, 7)
{%- endmacro %}


{% macro funnel_delay_buckets() -%}
    {#-
        Buckets for cart -> later-session purchase delays, from the var conversion_delay_bucket_hours
        (ascending upper bounds in hours). Returns dicts: bucket_order, label, lower_hours,
        upper_hours (none for the open-ended last bucket). Labels: <1h, 1-6h, 6-24h, 1-3d, 3-7d, 7d+.
    -#}
    {% set edges = funnel_list_var('conversion_delay_bucket_hours', [1, 6, 24, 72, 168]) %}
    {% set buckets = [] %}
    {% set ns = namespace(lower=0) %}
    {% for upper in edges + [none] %}
        {% set lower = ns.lower %}
        {% if upper is none %}
            {% set label = (lower // 24 ~ 'd+') if lower >= 24 and lower % 24 == 0 else (lower ~ 'h+') %}
        {% elif upper > 24 and upper % 24 == 0 and lower % 24 == 0 %}
            {% set label = (lower // 24 ~ '-' ~ upper // 24 ~ 'd') if lower > 0 else ('<' ~ upper // 24 ~ 'd') %}
        {% else %}
            {% set label = (lower ~ '-' ~ upper ~ 'h') if lower > 0 else ('<' ~ upper ~ 'h') %}
        {% endif %}
        {% do buckets.append({'bucket_order': loop.index, 'label': label, 'lower_hours': lower, 'upper_hours': upper}) %}
        {% set ns.lower = upper %}
    {% endfor %}
    {{ return(buckets) }}
{%- endmacro %}


{% macro funnel_engagement_ratios() -%}
    {#- The per-user engagement ratios of int_user_engagement, each with its population. -#}
    {{ return(['cart_view_ratio', 'purchase_cart_ratio', 'purchasing_session_ratio']) }}
{%- endmacro %}


{% macro funnel_type_double() -%}
    {#- 8-byte float: dbt.type_float() is 'float', which DuckDB reads as a 4-byte REAL. -#}
    double
{%- endmacro %}


{% macro funnel_merge_lists(list_expr) -%}
    {#- Concatenate the lists of the group's rows into one list (nulls are skipped; null when all are). -#}
    {{ return(adapter.dispatch('funnel_merge_lists')(list_expr)) }}
{%- endmacro %}
{% macro default__funnel_merge_lists(list_expr) -%}
    flatten(list({{ list_expr }}) filter (where {{ list_expr }} is not null))
{%- endmacro %}
{% macro spark__funnel_merge_lists(list_expr) -%}
    case when count({{ list_expr }}) > 0 then flatten(collect_list({{ list_expr }})) end
{%- endmacro %}


{% macro funnel_list_length(list_expr) -%}
    {#- Number of elements, 0 for a null list. -#}
    {{ return(adapter.dispatch('funnel_list_length')(list_expr)) }}
{%- endmacro %}
{% macro default__funnel_list_length(list_expr) -%}
    coalesce(len({{ list_expr }}), 0)
{%- endmacro %}
{% macro spark__funnel_list_length(list_expr) -%}
    {#- size(null) is -1 with ANSI mode off. -#}
    case when {{ list_expr }} is null then 0 else size({{ list_expr }}) end
{%- endmacro %}


{% macro funnel_list_min(list_expr) -%}
    {#- Smallest element, null for a null or empty list. -#}
    {{ return(adapter.dispatch('funnel_list_min')(list_expr)) }}
{%- endmacro %}
{% macro default__funnel_list_min(list_expr) -%}
    list_min({{ list_expr }})
{%- endmacro %}
{% macro spark__funnel_list_min(list_expr) -%}
    array_min({{ list_expr }})
{%- endmacro %}


{% macro funnel_list_max(list_expr) -%}
    {#- Largest element, null for a null or empty list. -#}
    {{ return(adapter.dispatch('funnel_list_max')(list_expr)) }}
{%- endmacro %}
{% macro default__funnel_list_max(list_expr) -%}
    list_max({{ list_expr }})
{%- endmacro %}
{% macro spark__funnel_list_max(list_expr) -%}
    array_max({{ list_expr }})
{%- endmacro %}
