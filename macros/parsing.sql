{#- Strict typing helpers: try_cast alone accepts '1.5' as 2 and ' 12' as 12. -#}
{% macro strict_bigint(text_expr) -%}
    {{ return(adapter.dispatch('strict_bigint')(text_expr)) }}
{%- endmacro %}
{% macro default__strict_bigint(text_expr) -%}
    case when regexp_full_match({{ text_expr }}, '-?[0-9]{1,19}') then try_cast({{ text_expr }} as bigint) end
{%- endmacro %}
{% macro spark__strict_bigint(text_expr) -%}
    {#- \z, not $: Java's $ also matches before a final line break. -#}
    case when {{ text_expr }} rlike '^-?[0-9]{1,19}\\z' then try_cast({{ text_expr }} as bigint) end
{%- endmacro %}

{% macro rees46_timestamp(text_expr) -%}
    {#- REES46 writes UTC with a literal suffix: '2019-10-01 00:00:04 UTC'. -#}
    {{ return(adapter.dispatch('rees46_timestamp')(text_expr)) }}
{%- endmacro %}
{% macro default__rees46_timestamp(text_expr) -%}
    try_strptime({{ text_expr }}, '%Y-%m-%d %H:%M:%S UTC')
{%- endmacro %}
{% macro spark__rees46_timestamp(text_expr) -%}
    {#- The canonical form first; DuckDB's strptime also reads unpadded fields and runs of
        whitespace, which the second pattern gives Spark (only for texts the first one rejects). -#}
    coalesce(
        try_to_timestamp({{ text_expr }}, 'yyyy-MM-dd HH:mm:ss \'UTC\''),
        case
            when {{ text_expr }} rlike '^\\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}\\s+[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}\\s+UTC\\s*\\z'
                then try_to_timestamp(regexp_replace(trim({{ text_expr }}), '\\s+', ' '), 'yyyy-M-d H:m:s \'UTC\'')
        end
    )
{%- endmacro %}


{#-
    RFC 4180 fields. A line without a double quote (every plain REES46 line) is split on commas,
    the fast path; a line with one is matched field by field: a quoted field ("" escapes a quote,
    commas and line breaks allowed inside) or an unquoted one (a quote inside it is taken
    literally, as most readers do). The line parses when its fields put back together give the
    whole line; otherwise (an unclosed quote, text after a closing quote) its fields are null.
-#}
{% macro quoted_csv_fields(line) -%}
    {#- The raw fields (quotes kept) of a line that holds a double quote; the leading comma lets
        every field, even an empty first one, be matched as ",field". DuckDB regexp (RE2). -#}
    regexp_extract_all(',' || {{ line }}, ',("(?:[^"]|"")*"|[^,"][^,]*|)', 1)
{%- endmacro %}

{% macro csv_fields(line, quoted_fields) -%}
    {#- The fields of line, unquoted; null when it does not parse. quoted_fields: the column or
        expression holding quoted_csv_fields(line) for lines with a quote, null for the others. -#}
    {{ return(adapter.dispatch('csv_fields')(line, quoted_fields)) }}
{%- endmacro %}
{% macro default__csv_fields(line, quoted_fields) -%}
    case
        when {{ quoted_fields }} is null then string_split({{ line }}, ',')
        when array_to_string({{ quoted_fields }}, ',') = {{ line }}
            then list_transform(
                {{ quoted_fields }},
                lambda f: case when starts_with(f, '"') then replace(f[2:-2], '""', '"') else f end
            )
    end
{%- endmacro %}
{% macro spark__csv_fields(line, quoted_fields) -%}
    case
        when {{ quoted_fields }} is null then split({{ line }}, ',', -1)
        when array_join({{ quoted_fields }}, ',') = {{ line }}
            then transform(
                {{ quoted_fields }},
                f -> case when startswith(f, '"') then replace(substring(f, 2, length(f) - 2), '""', '"') else f end
            )
    end
{%- endmacro %}

{% macro has_open_quote(line) -%}
    {#- An odd number of double quotes: a quoted field that goes on past the end of the line. -#}
    (length({{ line }}) - length(replace({{ line }}, '"', ''))) % 2 = 1
{%- endmacro %}

{% macro csv_field_text(text_expr) -%}
    {#- A value written as one CSV field: quoted (with "" escapes) only when it must be. -#}
    case
        when {{ text_matches(text_expr, '[",\\r\\n]') }} then '"' || replace({{ text_expr }}, '"', '""') || '"'
        else {{ text_expr }}
    end
{%- endmacro %}


{#-
    The typed form of a raw row, shared by the CSV and the Parquet readers (stg_raw_events unions
    them): the row's text, its field count and each column typed, null where it does not type.
-#}
{% macro typed_raw_event_columns() -%}
    {{ return([
        ('source_file', 'varchar'), ('raw_line', 'varchar'), ('field_count', 'integer'),
        ('open_quote', 'boolean'), ('renderable', 'boolean'),
        ('event_time', 'timestamp'), ('event_type', 'varchar'), ('product_id', 'bigint'),
        ('category_id', 'bigint'), ('category_code', 'varchar'), ('brand', 'varchar'),
        ('price_text', 'varchar'), ('price', 'double'), ('user_id', 'bigint'), ('user_session', 'varchar')]) }}
{%- endmacro %}


{% macro typed_csv_event_lines(lines) -%}
    {#- The typed columns of CSV lines; lines: a relation or subquery with source_file, raw_line.
        Every expression here runs on every line of the landing scan: the quote checks are CASE
        branches, evaluated only on the few lines holding a quote. -#}
    select
        {%- for column, _ in typed_raw_event_columns() %}
        {%- if column == 'open_quote' %}
        case
            when quoted_fields is not null and fields is null then {{ has_open_quote('raw_line') }}
            else false
        end as open_quote,
        {%- elif column == 'renderable' %}
        case when quoted_fields is null then coalesce({{ raw_line_is_renderable('category_id') }}, false) else false end as renderable,
        {%- else %}
        {{ column }}{{ ',' if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from (
        select
            source_file,
            raw_line,
            fields,
            quoted_fields,
            cast(coalesce({{ list_length('fields') }}, 0) as integer) as field_count,
            {{ rees46_timestamp(list_item('fields', 1)) }} as event_time,
            {{ list_item('fields', 2) }} as event_type,
            {{ strict_bigint(list_item('fields', 3)) }} as product_id,
            {{ strict_bigint(list_item('fields', 4)) }} as category_id,
            nullif({{ list_item('fields', 5) }}, '') as category_code,
            nullif({{ list_item('fields', 6) }}, '') as brand,
            {{ list_item('fields', 7) }} as price_text,
            {{ text_to_double("nullif(" ~ list_item('fields', 7) ~ ", '')") }} as price,
            {{ strict_bigint(list_item('fields', 8)) }} as user_id,
            nullif({{ list_item('fields', 9) }}, '') as user_session
        from (
            select
                *,
                {{ csv_fields('raw_line', 'quoted_fields') }} as fields
            from (
                select
                    source_file,
                    raw_line,
                    -- Only lines holding a quote pay for the field-by-field match.
                    case when contains(raw_line, '"') then {{ quoted_csv_fields('raw_line') }} end as quoted_fields
                from {{ lines }}
            ) as quoted
        ) as split
    ) as typed
{%- endmacro %}


{% macro parquet_column_typed(column, type, file_names) -%}
    {#- One Parquet column typed as stg_raw_events wants it, from the type the file stores. -#}
    {{ return(adapter.dispatch('parquet_column_typed')(column, type, file_names)) }}
{%- endmacro %}
{% macro default__parquet_column_typed(column, type, file_names) -%}
    {%- set c = adapter.quote(column) -%}
    {%- set integer_types = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT'] -%}
    {%- set float_types = ['FLOAT', 'DOUBLE'] -%}
    {%- set numeric = type in integer_types or type in float_types or type.startswith('DECIMAL') -%}
    {%- if column == 'event_time' and type.startswith('TIMESTAMP WITH TIME ZONE') -%}
        cast(timezone('UTC', {{ c }}) as timestamp)
    {%- elif column == 'event_time' and (type.startswith('TIMESTAMP') or type == 'DATE') -%}
        cast({{ c }} as timestamp)
    {%- elif column == 'event_time' and type == 'VARCHAR' -%}
        {{ rees46_timestamp(c) }}
    {%- elif column in ['product_id', 'category_id', 'user_id'] and type in integer_types -%}
        try_cast({{ c }} as bigint)
    {%- elif column in ['product_id', 'category_id', 'user_id'] and numeric -%}
        {#- A float or decimal id (pandas writes an integer column with nulls as float): whole
            numbers only, like the text rule. -#}
        case when {{ c }} = trunc({{ c }}) then try_cast({{ c }} as bigint) end
    {%- elif column in ['product_id', 'category_id', 'user_id'] and type == 'VARCHAR' -%}
        {{ strict_bigint(c) }}
    {%- elif column == 'price' and numeric -%}
        cast({{ c }} as double)
    {%- elif column == 'price' and type == 'VARCHAR' -%}
        try_cast(nullif({{ c }}, '') as double)
    {%- elif column in ['event_type', 'category_code', 'brand', 'user_session'] and (type == 'VARCHAR' or type.startswith('ENUM')) -%}
        {%- if column == 'event_type' -%}cast({{ c }} as varchar){%- else -%}nullif(cast({{ c }} as varchar), ''){%- endif -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "Raw event file(s) " ~ file_names | join(', ') ~ ": column " ~ column ~ " is stored as " ~ type
            ~ ", which cannot be read as REES46 " ~ column ~ ". Expected: event_time as TIMESTAMP, TIMESTAMP WITH TIME ZONE or text"
            ~ " like '2019-10-01 00:00:00 UTC'; product_id, category_id, user_id as integers or text; price as a number or text;"
            ~ " the other columns as text.") }}
    {%- endif -%}
{%- endmacro %}


{% macro parquet_column_text(column, type) -%}
    {#- The column as it would be written in a REES46 CSV line ('' for null). -#}
    {{ return(adapter.dispatch('parquet_column_text')(column, type)) }}
{%- endmacro %}
{% macro default__parquet_column_text(column, type) -%}
    {%- set c = adapter.quote(column) -%}
    {%- if column == 'event_time' and type.startswith('TIMESTAMP WITH TIME ZONE') -%}
        coalesce(strftime(timezone('UTC', {{ c }}), '%Y-%m-%d %H:%M:%S UTC'), '')
    {%- elif column == 'event_time' and type != 'VARCHAR' -%}
        coalesce(strftime(cast({{ c }} as timestamp), '%Y-%m-%d %H:%M:%S UTC'), '')
    {%- else -%}
        coalesce({{ csv_field_text('cast(' ~ c ~ ' as varchar)') }}, '')
    {%- endif -%}
{%- endmacro %}


{% macro typed_parquet_columns(types, files) -%}
    {#- The select list turning rows of Parquet files (all with these column types) into the typed
        raw-row columns. raw_line is the row written as a REES46 CSV line (its text for
        quarantine and duplicate detection); it is given back from the typed columns when it
        renders the same (renderable). -#}
    {%- set texts = [] -%}
    {%- for column in raw_event_columns() -%}
        {%- do texts.append(parquet_column_text(column, types[column])) -%}
    {%- endfor -%}
    {%- set typed = {} -%}
    {%- for column in raw_event_columns() -%}
        {%- do typed.update({column: parquet_column_typed(column, types[column], files)}) -%}
    {%- endfor -%}
    filename as source_file,
    concat_ws(',', {{ texts | join(', ') }}) as raw_line,
    cast(9 as integer) as field_count,
    false as open_quote,
    false as renderable,
    {{ typed.event_time }} as event_time,
    {{ typed.event_type }} as event_type,
    {{ typed.product_id }} as product_id,
    {{ typed.category_id }} as category_id,
    {{ typed.category_code }} as category_code,
    {{ typed.brand }} as brand,
    {{ texts[6] }} as price_text,
    {{ typed.price }} as price,
    {{ typed.user_id }} as user_id,
    {{ typed.user_session }} as user_session
{%- endmacro %}


{#-
    A clean row's raw line is not stored (storing every line doubles the cost of the landing
    scan). It can be given back from the typed columns and price_text when the
    text was in the canonical REES46 form; stg_raw_events keeps raw_line for the rows where it was
    not (checked with cheap string tests on the row's fields, in `fields`).
-#}
{% macro canonical_integer_text(text_expr) -%}
    ({{ text_expr }} = '0' or left({{ without_leading_minus(text_expr) }}, 1) between '1' and '9')
{%- endmacro %}

{% macro raw_line_is_renderable(category_id='category_id') -%}
    {#- 'YYYY-MM-DD HH:MM:SS UTC' is 23 characters: a timestamp the lenient parser read from a
        non-padded or spaced text is not. Integers without a leading zero print back the same.
        category_id: the typed fields[4] (typed once, not again here). -#}
    length({{ list_item('fields', 1) }}) = 23
    and {{ canonical_integer_text(list_item('fields', 3)) }}
    and {{ canonical_integer_text(list_item('fields', 8)) }}
    and ({{ list_item('fields', 4) }} = '' or ({{ category_id }} is not null and {{ canonical_integer_text(list_item('fields', 4)) }}))
{%- endmacro %}

{% macro render_raw_line(relation_alias) -%}
    {#- The raw line of a clean, renderable row of stg_raw_events: its fields joined by commas. -#}
    {%- set r = relation_alias ~ '.' -%}
    coalesce(
        {{ r }}raw_line,
        concat_ws(
            ',',
            {{ format_timestamp(r ~ 'event_time', '%Y-%m-%d %H:%M:%S UTC') }},
            {{ r }}event_type,
            cast({{ r }}product_id as {{ text_type() }}),
            coalesce(cast({{ r }}category_id as {{ text_type() }}), ''),
            coalesce({{ r }}category_code, ''),
            coalesce({{ r }}brand, ''),
            {{ r }}price_text,
            cast({{ r }}user_id as {{ text_type() }}),
            coalesce({{ r }}user_session, '')
        )
    )
{%- endmacro %}


{% macro raw_event_faults(typed, open_quote_reason='open_quote') -%}
    {#- stg_raw_events' rows from typed raw rows (typed_raw_event_columns): the first fault found
        as reason, the raw text kept where the typed columns cannot give it back. A CSV line with
        an unclosed quote is open_quote until join_multiline_csv_records has looked at its file
        (then it is joined into a record or is malformed_row). -#}
    select
        source_file,
        event_time,
        event_type,
        product_id,
        category_id,
        category_code,
        brand,
        price,
        user_id,
        user_session,
        reason,
        -- The raw text of a faulty row, and of a clean row whose text the typed columns cannot give
        -- back exactly (see render_raw_line); null for every other row.
        case when reason is not null or not renderable then raw_line end as raw_line,
        price_text,
        {{ row_hash('raw_line') }} as line_hash,
        {{ loaded_at() }} as loaded_at
    from (
        select
            *,
            case
                when open_quote then '{{ open_quote_reason }}'
                when field_count <> 9 then 'malformed_row'
                when event_time is null then 'bad_event_time'
                when coalesce(event_type, '') not in ('view', 'cart', 'remove_from_cart', 'purchase') then 'unknown_event_type'
                when user_id is null then 'bad_user_id'
                when product_id is null then 'bad_product_id'
                when price is null or price < 0 or not {{ is_finite('price') }} then 'bad_price'
            end as reason
        from {{ typed }}
    ) as faults
{%- endmacro %}
