{#-
    Small helpers for the customer value marts and features. Engine-specific aggregates live here,
    dispatched (default__: DuckDB, spark__: Apache Spark), so the models stay portable.
-#}

{% macro value_median(expr) -%}
    {{ return(adapter.dispatch('value_median')(expr)) }}
{%- endmacro %}
{% macro default__value_median(expr) -%}
    quantile_cont({{ expr }}, 0.5)
{%- endmacro %}
{% macro spark__value_median(expr) -%}
    {#- percentile interpolates linearly between the closest ranks, as quantile_cont. -#}
    percentile({{ expr }}, 0.5)
{%- endmacro %}


{% macro value_quantile(expr, q) -%}
    {{ return(adapter.dispatch('value_quantile')(expr, q)) }}
{%- endmacro %}
{% macro default__value_quantile(expr, q) -%}
    quantile_cont({{ expr }}, {{ q }})
{%- endmacro %}
{% macro spark__value_quantile(expr, q) -%}
    percentile({{ expr }}, {{ q }})
{%- endmacro %}


{% macro value_arg_max(expr, order_expr) -%}
    {#- The value of expr on the row with the largest order_expr. -#}
    {{ return(adapter.dispatch('value_arg_max')(expr, order_expr)) }}
{%- endmacro %}
{% macro default__value_arg_max(expr, order_expr) -%}
    arg_max({{ expr }}, {{ order_expr }})
{%- endmacro %}
{% macro spark__value_arg_max(expr, order_expr) -%}
    max_by({{ expr }}, {{ order_expr }})
{%- endmacro %}


{% macro value_top_n_sum(expr, n) -%}
    {#- Sum of the n largest values of expr in the group (all of them when fewer). -#}
    {{ return(adapter.dispatch('value_top_n_sum')(expr, n)) }}
{%- endmacro %}
{% macro default__value_top_n_sum(expr, n) -%}
    {#- DuckDB: max(x, n) lists them. -#}
    list_sum(max({{ expr }}, {{ n }}))
{%- endmacro %}
{% macro spark__value_top_n_sum(expr, n) -%}
    {#- The values sorted descending, the first n summed (null when the group has no value). -#}
    aggregate(slice(sort_array(collect_list({{ expr }}), false), 1, {{ n }}), cast(null as double),
        (acc, x) -> coalesce(acc, 0) + x)
{%- endmacro %}


{% macro value_ratio(numerator, denominator) -%}
    {#- Float ratio, null when the denominator is 0 or null. -#}
    cast({{ numerator }} as double) / nullif({{ denominator }}, 0)
{%- endmacro %}


{% macro value_tier_names() -%}
    {{ return(['power', 'core', 'light', 'browser']) }}
{%- endmacro %}


{% macro value_tier_cutoff(share, buyers) -%}
    {#- Buyers in the tiers up to this line: ceil(share x buyers). Rounding to 9 places first keeps a
        float share such as 0.28 x 25 = 7.000000000000001 from rounding up to 8. -#}
    ceil(round(cast({{ share }} as double) * {{ buyers }}, 9))
{%- endmacro %}


{% macro value_segment_flags() -%}
    {#- The flags of marts.customer_segments, and the concern each one raises in segment_summary. -#}
    {{ return({
        'at_risk_high_value': 'churn_risk',
        'unprofitable_engagement': 'unprofitable',
        'discount_dependent': 'unprofitable',
        'one_time_buyer': 'churn_risk',
        'new_user': 'none'
    }) }}
{%- endmacro %}


{% macro value_segment_precedence() -%}
    {#- var segment_precedence: the order in which flags name a user's segment (first set flag wins). -#}
    {% set order = value_var('segment_precedence', ['at_risk_high_value', 'new_user', 'unprofitable_engagement', 'discount_dependent', 'one_time_buyer']) %}
    {% set known = value_segment_flags() %}
    {% for flag in order if flag not in known %}
        {{ exceptions.raise_compiler_error("segment_precedence names an unknown flag '" ~ flag ~ "'. Known flags: " ~ known.keys() | join(', ')) }}
    {% endfor %}
    {{ return(order) }}
{%- endmacro %}


{% macro value_default_segments() -%}
    {#- Segment of a user with no flag set, by value tier. -#}
    {{ return({'power': 'active_high_value', 'core': 'active_high_value', 'light': 'repeat_buyer', 'browser': 'browser'}) }}
{%- endmacro %}


{% macro value_segment_names() -%}
    {% set names = value_segment_precedence() | list %}
    {% for s in value_default_segments().values() if s not in names %}{% do names.append(s) %}{% endfor %}
    {{ return(names) }}
{%- endmacro %}


{% macro value_var(name, default) -%}
    {#- var(name, default), except under sqlfluff's lint templater (no `execute` there), whose var()
        returns the placeholder 'item' for every var: lint then renders the documented default. -#}
    {%- if execute is not defined -%}{{ return(default) }}{%- endif -%}
    {{ return(var(name, default)) }}
{%- endmacro %}
