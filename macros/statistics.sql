{#-
    Statistics helpers (conversion_drivers): the 2x2 odds ratio with its Woolf (log) interval and a
    two-sided p-value from the normal distribution. Portable SQL only (exp, ln, sqrt, abs, case),
    so the same expressions run on DuckDB, Postgres or Snowflake; arguments are SQL expressions and
    are inlined, so pass column names, not subqueries.

    A 2x2 table per property value: a = converted with the value, b = not converted with the value,
    c = converted with another value, d = not converted with another value.
-#}

{% macro stat_z_95() -%}
    {#- The 0.975 quantile of the standard normal: a 95% two-sided interval is estimate +- this x SE. -#}
    1.959963984540054
{%- endmacro %}


{% macro stat_erfc_abs(x) -%}
    {#-
        erfc(|x|) = 1 - erf(|x|) by Abramowitz & Stegun 7.1.26:
            erf(x) ~ 1 - (a1 t + a2 t^2 + a3 t^3 + a4 t^4 + a5 t^5) exp(-x^2),  t = 1 / (1 + p x),  x >= 0
        with absolute error below 1.5e-7. erfc itself is computed (no 1 - erf), so small tails keep
        their relative precision instead of cancelling to 0. Horner form; t is inlined.
    -#}
    {%- set t = '(1.0 / (1.0 + 0.3275911 * abs(' ~ x ~ ')))' -%}
    ({{ t }} * (0.254829592 + {{ t }} * (-0.284496736 + {{ t }} * (1.421413741
        + {{ t }} * (-1.453152027 + {{ t }} * 1.061405429))))
    * exp(-({{ x }}) * ({{ x }})))
{%- endmacro %}


{% macro stat_normal_cdf(x) -%}
    {#- Standard normal CDF: Phi(x) = 1 - erfc(x / sqrt 2) / 2 for x >= 0, erfc(-x / sqrt 2) / 2 below 0. -#}
    {%- set half_tail = '(0.5 * ' ~ stat_erfc_abs('(' ~ x ~ ') / 1.4142135623730951') ~ ')' -%}
    (case when ({{ x }}) >= 0 then 1.0 - {{ half_tail }} else {{ half_tail }} end)
{%- endmacro %}


{% macro stat_two_sided_p_value(z) -%}
    {#- Two-sided p-value of a standard normal statistic: 2 (1 - Phi(|z|)) = erfc(|z| / sqrt 2). Null for a null z. -#}
    {{ stat_erfc_abs('(' ~ z ~ ') / 1.4142135623730951') }}
{%- endmacro %}


{% macro stat_haldane_correction(a, b, c, d) -%}
    {#- Haldane-Anscombe correction: 0.5 added to every cell when any cell of the 2x2 table is 0, else 0. -#}
    (case when ({{ a }}) = 0 or ({{ b }}) = 0 or ({{ c }}) = 0 or ({{ d }}) = 0 then 0.5 else 0.0 end)
{%- endmacro %}


{% macro stat_log_odds_ratio(a, b, c, d, k) -%}
    {#- ln((a+k)(d+k) / ((b+k)(c+k))) as a sum of logs (no overflow on large counts); k from stat_haldane_correction. -#}
    (ln(({{ a }}) + {{ k }}) + ln(({{ d }}) + {{ k }}) - ln(({{ b }}) + {{ k }}) - ln(({{ c }}) + {{ k }}))
{%- endmacro %}


{% macro stat_log_odds_ratio_se(a, b, c, d, k) -%}
    {#- Woolf's standard error of the log odds ratio: sqrt(1/(a+k) + 1/(b+k) + 1/(c+k) + 1/(d+k)). -#}
    sqrt(1.0 / (({{ a }}) + {{ k }}) + 1.0 / (({{ b }}) + {{ k }}) + 1.0 / (({{ c }}) + {{ k }}) + 1.0 / (({{ d }}) + {{ k }}))
{%- endmacro %}


{% macro stat_round(expr) -%}
    {#- Rounds a statistic to var driver_statistics_digits decimals; a negative value (the default) keeps full precision.
        Unit tests set it to compare with hand/scipy values within a tolerance. -#}
    {%- set digits = var('driver_statistics_digits', -1) | int -%}
    {%- if digits >= 0 -%}
        round({{ expr }}, {{ digits }})
    {%- else -%}
        {{ expr }}
    {%- endif -%}
{%- endmacro %}


{% macro driver_iso_weekday_label(timestamp_expr) -%}
    {#- ISO weekday of a timestamp as '1-mon' .. '7-sun' (sorts Monday first). -#}
    case cast({{ iso_weekday(timestamp_expr) }} as integer)
        {%- for day in ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] %}
        when {{ loop.index }} then '{{ loop.index }}-{{ day }}'
        {%- endfor %}
    end
{%- endmacro %}


{% macro driver_bucket_label(value_expr, var_name, default) -%}
    {#-
        Bucket label of a non-negative integer from ascending inclusive upper bounds (list var
        var_name): bounds [0, 1, 3] give '0', '1', '2-3' and '4+'.
    -#}
    {%- set bounds = funnel_list_var(var_name, default) -%}
    {%- set ns = namespace(lower=0) -%}
    case
        {%- for upper in bounds %}
        when {{ value_expr }} <= {{ upper }} then '{{ upper if upper == ns.lower else ns.lower ~ "-" ~ upper }}'
        {%- set ns.lower = upper + 1 %}
        {%- endfor %}
        else '{{ ns.lower }}+'
    end
{%- endmacro %}
