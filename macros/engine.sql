{#-
    Engine-specific SQL, one small macro per construct (adapter.dispatch): default__ renders the
    DuckDB SQL the project always used, byte for byte; spark__ the Apache Spark SQL with the same
    result. Models and the other macros call these, never an engine-only function directly.
    Spark runs with ANSI mode off (dbt-spark forces it), so a failed cast is null as with try_cast.
-#}

{% macro text_type() -%}
    {{ return(adapter.dispatch('text_type')()) }}
{%- endmacro %}
{% macro default__text_type() -%}varchar{%- endmacro %}
{% macro spark__text_type() -%}string{%- endmacro %}


{% macro sql_type(name) -%}
    {#- A type of typed_raw_event_columns() (DuckDB spelling) as the engine writes it. -#}
    {{ return(adapter.dispatch('sql_type')(name)) }}
{%- endmacro %}
{% macro default__sql_type(name) -%}{{ name }}{%- endmacro %}
{% macro spark__sql_type(name) -%}{{ {'varchar': 'string', 'integer': 'int'}.get(name, name) }}{%- endmacro %}


{% macro list_item(list_expr, index) -%}
    {#- The index-th (1-based) element of a list, null when there is none. -#}
    {{ return(adapter.dispatch('list_item')(list_expr, index)) }}
{%- endmacro %}
{% macro default__list_item(list_expr, index) -%}{{ list_expr }}[{{ index }}]{%- endmacro %}
{% macro spark__list_item(list_expr, index) -%}try_element_at({{ list_expr }}, {{ index }}){%- endmacro %}


{% macro list_length(list_expr) -%}
    {#- Number of elements; null for a null list. -#}
    {{ return(adapter.dispatch('list_length')(list_expr)) }}
{%- endmacro %}
{% macro default__list_length(list_expr) -%}len({{ list_expr }}){%- endmacro %}
{% macro spark__list_length(list_expr) -%}
    {#- size(null) is -1 with ANSI mode off. -#}
    case when {{ list_expr }} is not null then size({{ list_expr }}) end
{%- endmacro %}


{% macro split_on_commas(text_expr) -%}
    {#- The text split at every comma (empty pieces kept). -#}
    {{ return(adapter.dispatch('split_on_commas')(text_expr)) }}
{%- endmacro %}
{% macro default__split_on_commas(text_expr) -%}string_split({{ text_expr }}, ','){%- endmacro %}
{% macro spark__split_on_commas(text_expr) -%}split({{ text_expr }}, ',', -1){%- endmacro %}


{% macro repeat_rows(count_expr) -%}
    {#- A set-returning select item: the row repeated count_expr times (none for 0). -#}
    {{ return(adapter.dispatch('repeat_rows')(count_expr)) }}
{%- endmacro %}
{% macro default__repeat_rows(count_expr) -%}unnest(range({{ count_expr }})){%- endmacro %}
{% macro spark__repeat_rows(count_expr) -%}explode(array_repeat(0, cast({{ count_expr }} as int))){%- endmacro %}


{% macro row_hash(columns_csv) -%}
    {#- A 64-bit hash of one or more columns (comma-separated). The value differs between engines:
        it only groups equal values within one build. -#}
    {{ return(adapter.dispatch('row_hash')(columns_csv)) }}
{%- endmacro %}
{% macro default__row_hash(columns_csv) -%}hash({{ columns_csv }}){%- endmacro %}
{% macro spark__row_hash(columns_csv) -%}xxhash64({{ columns_csv }}){%- endmacro %}


{% macro is_finite(number_expr) -%}
    {{ return(adapter.dispatch('is_finite')(number_expr)) }}
{%- endmacro %}
{% macro default__is_finite(number_expr) -%}isfinite({{ number_expr }}){%- endmacro %}
{% macro spark__is_finite(number_expr) -%}
    not (isnan({{ number_expr }}) or abs({{ number_expr }}) = cast('Infinity' as double))
{%- endmacro %}


{% macro format_timestamp(timestamp_expr, format) -%}
    {#- A timestamp as text; format in strftime codes (%Y %m %d %H %M %S, other text literal). -#}
    {{ return(adapter.dispatch('format_timestamp')(timestamp_expr, format)) }}
{%- endmacro %}
{% macro default__format_timestamp(timestamp_expr, format) -%}strftime({{ timestamp_expr }}, '{{ format }}'){%- endmacro %}
{% macro spark__format_timestamp(timestamp_expr, format) -%}
    {%- set codes = {'Y': 'yyyy', 'm': 'MM', 'd': 'dd', 'H': 'HH', 'M': 'mm', 'S': 'ss'} -%}
    {%- set parts = [] -%}
    {%- for piece in modules.re.split('(%[YmdHMS])', format) if piece -%}
        {%- if piece.startswith('%') -%}
            {%- do parts.append(codes[piece[1]]) -%}
        {%- else -%}
            {#- Literal text is quoted in a Java date pattern; the SQL literal escapes the quote. -#}
            {%- do parts.append("\\'" ~ piece ~ "\\'") -%}
        {%- endif -%}
    {%- endfor -%}
    date_format({{ timestamp_expr }}, '{{ parts | join('') }}')
{%- endmacro %}


{% macro text_to_double(text_expr) -%}
    {#- A number written as text, null when it is not one ('nan' and 'inf' are numbers). -#}
    {{ return(adapter.dispatch('text_to_double')(text_expr)) }}
{%- endmacro %}
{% macro default__text_to_double(text_expr) -%}try_cast({{ text_expr }} as double){%- endmacro %}
{% macro spark__text_to_double(text_expr) -%}
    {#- Java also reads a d / f type suffix ('1.5d'), which DuckDB does not. -#}
    case when not {{ text_expr }} rlike '[0-9.][dDfF]\\s*$' then try_cast({{ text_expr }} as double) end
{%- endmacro %}


{% macro without_leading_minus(text_expr) -%}
    {{ return(adapter.dispatch('without_leading_minus')(text_expr)) }}
{%- endmacro %}
{% macro default__without_leading_minus(text_expr) -%}ltrim({{ text_expr }}, '-'){%- endmacro %}
{% macro spark__without_leading_minus(text_expr) -%}trim(leading '-' from {{ text_expr }}){%- endmacro %}


{% macro text_matches(text_expr, pattern) -%}
    {#- The regular expression (RE2 / Java: write it in their common subset) is found in the text. -#}
    {{ return(adapter.dispatch('text_matches')(text_expr, pattern)) }}
{%- endmacro %}
{% macro default__text_matches(text_expr, pattern) -%}regexp_matches({{ text_expr }}, '{{ pattern }}'){%- endmacro %}
{% macro spark__text_matches(text_expr, pattern) -%}
    {#- Spark string literals read backslash escapes: double them to pass the pattern through. -#}
    {{ text_expr }} rlike '{{ pattern | replace('\\', '\\\\') }}'
{%- endmacro %}


{% macro iso_weekday(timestamp_expr) -%}
    {#- ISO day of the week: 1 = Monday .. 7 = Sunday. -#}
    {{ return(adapter.dispatch('iso_weekday')(timestamp_expr)) }}
{%- endmacro %}
{% macro default__iso_weekday(timestamp_expr) -%}extract(isodow from {{ timestamp_expr }}){%- endmacro %}
{% macro spark__iso_weekday(timestamp_expr) -%}extract(dow_iso from {{ timestamp_expr }}){%- endmacro %}


{% macro offset_window(window_name, window_spec) -%}
    {#- The window of lead() / lag() over a named window that has a frame clause: DuckDB ignores the
        frame for them, Spark refuses it, so there the window is written out without the frame.
        window_spec: the named window's partition and order clauses. -#}
    {{ return(adapter.dispatch('offset_window')(window_name, window_spec)) }}
{%- endmacro %}
{% macro default__offset_window(window_name, window_spec) -%}{{ window_name }}{%- endmacro %}
{% macro spark__offset_window(window_name, window_spec) -%}({{ window_spec }}){%- endmacro %}


{% macro bigint_on_spark(expr=none) -%}
    {#- An integer expression as bigint. DuckDB's ranking window functions (row_number, rank,
        dense_rank) and dbt.datediff already are; Spark's are int, which the bigint columns of
        the enforced contracts refuse. The expression is the argument or, in a
        {% call bigint_on_spark() %} block, the block. -#}
    {{ return(adapter.dispatch('bigint_on_spark')(expr if expr is not none else caller())) }}
{%- endmacro %}
{% macro default__bigint_on_spark(expr) -%}{{ expr }}{%- endmacro %}
{% macro spark__bigint_on_spark(expr) -%}cast({{ expr }} as bigint){%- endmacro %}


{% macro unnest_comma_dates(text_expr) -%}
    {#- A set-returning select item: one row per comma-separated date of the text, trimmed and
        cast to date. Spark refuses a generator nested in an expression, so the cast goes inside. -#}
    {{ return(adapter.dispatch('unnest_comma_dates')(text_expr)) }}
{%- endmacro %}
{% macro default__unnest_comma_dates(text_expr) -%}cast(trim(unnest(string_split({{ text_expr }}, ','))) as date){%- endmacro %}
{% macro spark__unnest_comma_dates(text_expr) -%}explode(transform(split({{ text_expr }}, ',', -1), d -> cast(trim(d) as date))){%- endmacro %}
