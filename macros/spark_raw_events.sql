{#-
    Reading raw REES46 files on Apache Spark: the spark__ versions of macros/raw_events.sql and of
    the Parquet typing in macros/parsing.sql. The contract is the DuckDB one: every CSV line after
    the header reaches staging as text (Spark's text reader, never the CSV sniffer), is parsed by
    the same SQL (macros/parsing.sql) and is either clean or quarantined with the same reason.

    Differences, all in the file listing: Spark skips files whose name starts with '_' as well as
    '.'; a path that matches nothing stops the build with Spark's PATH_NOT_FOUND error rather than
    the project's message; source_file is the absolute path (a relative EVENTS_PATH is resolved
    against the directory dbt runs in) with a file: scheme dropped.
-#}

{% macro spark_path_literal(path) -%}
    {#- A path inside `...` of a Spark file query: backticks doubled and glob characters escaped
        (Spark reads every path as a glob). -#}
    {{- modules.re.sub('([\\\\\\[\\]{}*?])', '\\\\\\1', path) | replace('`', '``') -}}
{%- endmacro %}


{% macro spark_local_path(path) -%}
    {#- A path as Spark lists it (file:/tmp/x.csv) written as DuckDB writes it (/tmp/x.csv). -#}
    {{- modules.re.sub('^file:(//)?(?=/)', '', path) -}}
{%- endmacro %}


{% macro spark_glob_raw_event_files(pattern) -%}
    {#- The files EVENTS_PATH names, as (Spark path, size): a file, a glob, or a folder (every .csv,
        .csv.gz and .parquet file below it, at any depth). Spark's own listing skips hidden files. -#}
    {% set is_glob = modules.re.search('[*?\\[{]', pattern) %}
    {% set listing %}
        select path, length from binaryFile.`{{ pattern | replace('`', '``') }}`
        {% if not is_glob %}with ('recursiveFileLookup' = 'true'){% endif %}
        order by path
    {% endset %}
    {% set files = [] %}
    {% for row in run_query(listing).rows %}{% do files.append({'path': row[0], 'size': row[1]}) %}{% endfor %}
    {% set single_file = files | length == 1 and spark_local_path(files[0].path).endswith(pattern.lstrip('.').rstrip('/')) %}
    {% if not is_glob and not single_file %}
        {% set files = files | selectattr('path', 'match', '.*\\.(csv|csv\\.gz|parquet)$') | list %}
    {% endif %}
    {{ return(files) }}
{%- endmacro %}


{% macro spark_parquet_type(spark_type) -%}
    {#- A Spark column type written the way DuckDB's describe writes it (parquet_column_typed). -#}
    {%- set t = spark_type | lower -%}
    {%- set names = {
        'string': 'VARCHAR', 'tinyint': 'TINYINT', 'smallint': 'SMALLINT', 'int': 'INTEGER',
        'bigint': 'BIGINT', 'float': 'FLOAT', 'double': 'DOUBLE', 'date': 'DATE', 'boolean': 'BOOLEAN',
        'timestamp': 'TIMESTAMP WITH TIME ZONE', 'timestamp_ntz': 'TIMESTAMP'} -%}
    {{- return(names.get(t, t | upper)) -}}
{%- endmacro %}


{% macro spark__list_raw_event_files(pattern) -%}
    {% if not execute %}{{ return({'csv': [], 'parquet': []}) }}{% endif %}

    {% set files = spark_glob_raw_event_files(pattern) %}
    {% if files | length == 0 %}
        {{ raise_no_raw_event_files(pattern) }}
    {% endif %}

    {% set expected = raw_event_columns() %}
    {% set csv_files = [] %}
    {% set parquet_files = [] %}
    {% for f in files %}
        {% set local = spark_local_path(f.path) %}
        {% if local.endswith('.parquet') %}
            {% do parquet_files.append(f.path) %}
        {% elif local.endswith('.csv') or local.endswith('.csv.gz') %}
            {% if f.size == 0 %}
                {{ exceptions.raise_compiler_error(
                    "Raw event file '" ~ local ~ "' is empty (0 bytes): expected at least the header line "
                    ~ expected | join(',') ~ ". Remove it from EVENTS_PATH or replace it.") }}
            {% endif %}
            {% do csv_files.append(f.path) %}
        {% else %}
            {{ exceptions.raise_compiler_error(
                "Raw event file '" ~ local ~ "' matched EVENTS_PATH='" ~ pattern ~ "' but is not .csv, .csv.gz or .parquet.") }}
        {% endif %}
    {% endfor %}

    {#- Every header in one job: the first line of a file is the first row its first split gives. -#}
    {% if csv_files %}
        {% set first_lines = [] %}
        {% for f in csv_files %}
            {% do first_lines.append("(select " ~ loop.index ~ " as n, value from text.`" ~ spark_path_literal(f) ~ "` limit 1)") %}
        {% endfor %}
        {% set headers = {} %}
        {% for row in run_query(first_lines | join('\nunion all\n')).rows %}{% do headers.update({row[0]: row[1]}) %}{% endfor %}
        {% for f in csv_files %}
            {% set header = headers.get(loop.index) or '' %}
            {% set found_columns = parse_csv_header(header) %}
            {% if found_columns != expected %}
                {{ exceptions.raise_compiler_error(
                    "Raw event file '" ~ spark_local_path(f) ~ "' has a wrong header. Expected columns: " ~ expected | join(',')
                    ~ ". Found: " ~ header | trim ~ ". Missing: " ~ (expected | reject('in', found_columns) | join(',') or 'none')
                    ~ ". Unexpected: " ~ (found_columns | reject('in', expected) | join(',') or 'none (order differs)') ~ ".") }}
            {% endif %}
        {% endfor %}
    {% endif %}

    {% set parquet = [] %}
    {% for f in parquet_files %}
        {% set schema = run_query("describe query select * from parquet.`" ~ spark_path_literal(f) ~ "`") %}
        {% set found_columns = schema.columns[0].values() | list %}
        {% if found_columns | sort != expected | sort %}
            {{ exceptions.raise_compiler_error(
                "Raw event file '" ~ spark_local_path(f) ~ "' has wrong columns. Expected: " ~ expected | join(',')
                ~ ". Found: " ~ found_columns | join(',')
                ~ ". Missing: " ~ (expected | reject('in', found_columns) | join(',') or 'none')
                ~ ". Unexpected: " ~ (found_columns | reject('in', expected) | join(',') or 'none') ~ ".") }}
        {% endif %}
        {% set types = {} %}
        {% for row in schema.rows %}{% do types.update({row[0]: spark_parquet_type(row[1])}) %}{% endfor %}
        {% do parquet.append({'file': f, 'types': types}) %}
    {% endfor %}

    {{ return({'csv': csv_files, 'parquet': parquet}) }}
{%- endmacro %}


{% macro spark_csv_file_lines(file) -%}
    {#- One CSV file as (raw_line, line_id, is_header): its lines in file order by line_id, blank
        lines as null (as DuckDB's line reader gives them). The file is read on its own, so every
        split of it is a partition of its own and the header is the first row (row 0 of the lower
        33 bits of monotonically_increasing_id) of the split that starts the file. -#}
    select
        nullif(value, '') as raw_line,
        monotonically_increasing_id() as line_id,
        _metadata.file_block_start = 0 and monotonically_increasing_id() % 8589934592 = 0 as is_header
    from text.`{{ spark_path_literal(file) }}`
{%- endmacro %}


{% macro spark__read_raw_event_lines(relation) -%}
    {% set files = list_raw_event_files(raw_events_pattern(relation)) %}
    {% if files.csv %}
        {% for f in files.csv %}
        select
            {{ sql_string(spark_local_path(f)) }} as source_file,
            raw_line
        from ({{ spark_csv_file_lines(f) }}) as lines
        where not is_header and raw_line is not null
        {{ 'union all' if not loop.last }}
        {% endfor %}
    {% else %}
        select cast(null as string) as source_file, cast(null as string) as raw_line where false
    {% endif %}
{%- endmacro %}


{% macro spark__parquet_column_typed(column, type, file_names) -%}
    {%- set c = adapter.quote(column) -%}
    {%- set integer_types = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT'] -%}
    {%- set float_types = ['FLOAT', 'DOUBLE'] -%}
    {%- set numeric = type in integer_types or type in float_types or type.startswith('DECIMAL') -%}
    {%- if column == 'event_time' and (type.startswith('TIMESTAMP') or type == 'DATE') -%}
        {#- The session time zone is UTC: a time zone aware value becomes its UTC wall time. -#}
        cast({{ c }} as timestamp)
    {%- elif column == 'event_time' and type == 'VARCHAR' -%}
        {{ rees46_timestamp(c) }}
    {%- elif column in ['product_id', 'category_id', 'user_id'] and type in integer_types -%}
        cast({{ c }} as bigint)
    {%- elif column in ['product_id', 'category_id', 'user_id'] and numeric -%}
        case when {{ c }} = floor({{ c }}) and abs({{ c }}) < 9.2e18 then cast({{ c }} as bigint) end
    {%- elif column in ['product_id', 'category_id', 'user_id'] and type == 'VARCHAR' -%}
        {{ strict_bigint(c) }}
    {%- elif column == 'price' and numeric -%}
        cast({{ c }} as double)
    {%- elif column == 'price' and type == 'VARCHAR' -%}
        {{ text_to_double('nullif(' ~ c ~ ", '')") }}
    {%- elif column in ['event_type', 'category_code', 'brand', 'user_session'] and type == 'VARCHAR' -%}
        {%- if column == 'event_type' -%}{{ c }}{%- else -%}nullif({{ c }}, ''){%- endif -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "Raw event file(s) " ~ file_names | map('string') | map('replace', 'file:', '') | join(', ') ~ ": column " ~ column ~ " is stored as " ~ type
            ~ ", which cannot be read as REES46 " ~ column ~ ". Expected: event_time as TIMESTAMP, TIMESTAMP WITH TIME ZONE or text"
            ~ " like '2019-10-01 00:00:00 UTC'; product_id, category_id, user_id as integers or text; price as a number or text;"
            ~ " the other columns as text.") }}
    {%- endif -%}
{%- endmacro %}


{% macro spark__parquet_column_text(column, type) -%}
    {%- set c = adapter.quote(column) -%}
    {%- if column == 'event_time' and type != 'VARCHAR' -%}
        coalesce({{ format_timestamp('cast(' ~ c ~ ' as timestamp)', '%Y-%m-%d %H:%M:%S UTC') }}, '')
    {%- else -%}
        coalesce({{ csv_field_text('cast(' ~ c ~ ' as string)') }}, '')
    {%- endif -%}
{%- endmacro %}


{% macro spark__read_raw_event_parquet(relation) -%}
    {#- One scan per Parquet file (a Spark file query takes one path), each typed from its own
        column types. -#}
    {% set files = list_raw_event_files(raw_events_pattern(relation)) %}
    {% set parts = [] %}
    {% for f in files.parquet %}
        {%- set texts = [] -%}
        {%- for column in raw_event_columns() -%}
            {%- do texts.append(parquet_column_text(column, f.types[column])) -%}
        {%- endfor -%}
        {%- set typed = {} -%}
        {%- for column in raw_event_columns() -%}
            {%- do typed.update({column: parquet_column_typed(column, f.types[column], [f.file])}) -%}
        {%- endfor -%}
        {% set part %}
        select
            {{ sql_string(spark_local_path(f.file)) }} as source_file,
            concat_ws(',', {{ texts | join(', ') }}) as raw_line,
            cast(9 as int) as field_count,
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
        from parquet.`{{ spark_path_literal(f.file) }}`
        {% endset %}
        {% do parts.append(part) %}
    {% endfor %}
    {% if parts %}
        {{ parts | join('\nunion all\n') }}
    {% else %}
        select
            {%- for column, type in typed_raw_event_columns() %}
            cast(null as {{ sql_type(type) }}) as {{ column }}{{ ',' if not loop.last }}
            {%- endfor %}
        where false
    {% endif %}
{%- endmacro %}


{% macro spark__join_multiline_csv_records(max_record_lines=50) -%}
    {#- As default__join_multiline_csv_records: each file with an open_quote line is read again,
        its lines numbered in file order, its records put back together, and its rows replaced.
        stg_raw_events is partitioned by source_file on Spark, so the replacement is an
        insert overwrite of that file's partition (partitionOverwriteMode dynamic). -#}
    {% if not execute %}{{ return('') }}{% endif %}
    {% set files = run_query("select distinct source_file from " ~ this ~ " where reason = 'open_quote' order by 1").columns[0].values() | list %}
    {% set table_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
    {% for f in files %}
        {% do run_query("drop view if exists multiline_csv_lines") %}
        {% do run_query(
            "cache table multiline_csv_lines as select row_number() over (order by line_id) as line_number, raw_line from ("
            ~ spark_csv_file_lines(f) ~ ") as lines where not is_header") %}

        {% set candidates %}
            with candidates as (
                select
                    line_number,
                    {{ csv_fields('raw_line', quoted_csv_fields('raw_line')) }} is null as opens,
                    lead(line_number) over (order by line_number) as next_candidate
                from multiline_csv_lines
                where {{ has_open_quote('raw_line') }}
            ),

            records as (
                select
                    candidates.line_number,
                    array_join(
                        transform(array_sort(collect_list(struct(lines.line_number, coalesce(lines.raw_line, '') as raw_line))), l -> l.raw_line),
                        char(10)
                    ) as record
                from candidates
                inner join multiline_csv_lines as lines
                    on lines.line_number between candidates.line_number and candidates.next_candidate
                where candidates.opens and candidates.next_candidate - candidates.line_number < {{ max_record_lines }}
                group by candidates.line_number
            )

            select
                candidates.line_number,
                candidates.next_candidate,
                coalesce({{ list_length(csv_fields('records.record', quoted_csv_fields('records.record'))) }} = 9, false) as joins
            from candidates
            left join records on candidates.line_number = records.line_number
            order by candidates.line_number
        {% endset %}
        {% set spans = [] %}
        {% set state = namespace(last_joined=0) %}
        {% for row in run_query(candidates).rows %}
            {% if row[0] > state.last_joined and row[2] %}
                {% do spans.append('(' ~ row[0] ~ ', ' ~ row[1] ~ ')') %}
                {% set state.last_joined = row[1] %}
            {% endif %}
        {% endfor %}

        {% set records %}
            select
                {{ sql_string(f) }} as source_file,
                array_join(
                    transform(array_sort(collect_list(struct(line_number, coalesce(raw_line, '') as raw_line))), l -> l.raw_line),
                    char(10)
                ) as raw_line
            from (
                select
                    lines.*,
                    coalesce(spans.first_line, lines.line_number) as record_start
                from multiline_csv_lines as lines
                left join (
                    {% if spans %}select * from values {{ spans | join(', ') }} as v (first_line, last_line){% else %}select 0 as first_line, 0 as last_line where false{% endif %}
                ) as spans
                    on lines.line_number between spans.first_line and spans.last_line
            ) as numbered
            group by record_start
            -- A blank line outside a record is no row (read_raw_event_lines drops it too).
            having count(*) > 1 or max(raw_line) is not null
        {% endset %}
        {% do run_query(
            "insert overwrite table " ~ this ~ " partition (source_file) select " ~ table_columns | join(', ')
            ~ " from (" ~ raw_event_faults('(' ~ typed_csv_event_lines('(' ~ records ~ ')') ~ ')', open_quote_reason='malformed_row') ~ ") as replaced") %}
        {% do run_query("uncache table multiline_csv_lines") %}
        {% do run_query("drop view if exists multiline_csv_lines") %}
    {% endfor %}
    {{ return('') }}
{%- endmacro %}
