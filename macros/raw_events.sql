{#-
    Reading raw REES46 files. DuckDB-only syntax (glob, read_csv, read_parquet) lives here, in the
    default__ macros, so that the models stay portable; macros/spark_raw_events.sql holds the
    Apache Spark versions (adapter.dispatch).

    CSV files are read as whole lines and split in SQL (macros/parsing.sql): the CSV sniffer
    degrades silently on bad rows and a stray quote can swallow the rest of a file, while a line
    reader never loses a row. Every line therefore reaches staging, where it is either typed or
    quarantined with a reason. Parquet files are read as the typed columns they hold.

    Every path, file name and user-supplied string reaches SQL through sql_string(), never pasted.
-#}

{% macro raw_event_columns() -%}
    {{ return(['event_time', 'event_type', 'product_id', 'category_id', 'category_code',
               'brand', 'price', 'user_id', 'user_session']) }}
{%- endmacro %}


{% macro sql_string(value) -%}
    {#- A SQL string literal holding value exactly (quotes doubled). -#}
    {{ return(adapter.dispatch('sql_string')(value)) }}
{%- endmacro %}
{% macro default__sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
{% macro spark__sql_string(value) -%}
    {#- Spark string literals escape with backslashes. -#}
    '{{ value | string | replace('\\', '\\\\') | replace("'", "\\'") }}'
{%- endmacro %}


{% macro sql_string_list(values) -%}
    [{%- for v in values %}{{ sql_string(v) }}{{ ", " if not loop.last }}{% endfor -%}]
{%- endmacro %}


{% macro raw_events_pattern(relation) -%}
    {#- EVENTS_PATH as the user wrote it. It is kept in the source's meta.events_path rather than
        dbt-duckdb's external_location, which would run the path through str.format (braces) and
        wrap it in unescaped quotes. -#}
    {% if not execute %}{{ return('') }}{% endif %}
    {% for node in graph.sources.values() if node.source_name == relation.schema and node.name == relation.identifier %}
        {{ return((node.meta or node.config.meta).events_path | trim) }}
    {% endfor %}
    {{ exceptions.raise_compiler_error("Source " ~ relation ~ " has no meta.events_path.") }}
{%- endmacro %}


{% macro csv_line_reader(files, header, parallel=true) -%}
    read_csv(
        {{ sql_string_list(files) }},
        header = {{ header }},
        parallel = {{ parallel }},
        delim = chr(31),
        quote = '',
        escape = '',
        auto_detect = false,
        filename = true,
        columns = {'raw_line': 'VARCHAR'}
    )
{%- endmacro %}


{% macro parse_csv_header(line) -%}
    {#- The column names of a header line: a byte-order mark dropped, fields unquoted. -#}
    {% set names = [] %}
    {% for name in (line | replace('\ufeff', '') | trim).split(',') %}
        {% set name = name | trim %}
        {% if name | length >= 2 and name.startswith('"') and name.endswith('"') %}
            {% set name = name[1:-1] | replace('""', '"') %}
        {% endif %}
        {% do names.append(name) %}
    {% endfor %}
    {{ return(names) }}
{%- endmacro %}


{% macro glob_raw_event_files(pattern) -%}
    {#- The files EVENTS_PATH names: a file, a glob, or a folder (every .csv, .csv.gz and .parquet
        file below it, at any depth). Hidden files (e.g. the sample's .complete marker) are never
        data. -#}
    {% set hidden = "not starts_with(parse_filename(file), '.')" %}
    {% set found = run_query("select file from glob(" ~ sql_string(pattern) ~ ") where " ~ hidden ~ " order by file") %}
    {% set files = found.columns[0].values() | list %}
    {% if files | length == 0 and not modules.re.search('[*?\\[]', pattern) %}
        {% set folder = pattern.rstrip('/') ~ '/**' %}
        {% set found = run_query(
            "select file from glob(" ~ sql_string(folder) ~ ") where " ~ hidden
            ~ " and regexp_matches(file, '\\.(csv|csv\\.gz|parquet)$') order by file") %}
        {% set files = found.columns[0].values() | list %}
    {% endif %}
    {{ return(files) }}
{%- endmacro %}


{% macro list_raw_event_files(pattern) -%}
    {#- Expands EVENTS_PATH and checks every file before any row is read: a clear message beats a
        crash dump, and nothing is written when the input is bad. Returns the CSV files and, per
        Parquet file, its DuckDB column types (to type each column as it is stored). -#}
    {{ return(adapter.dispatch('list_raw_event_files')(pattern)) }}
{%- endmacro %}
{% macro default__list_raw_event_files(pattern) -%}
    {% if not execute %}{{ return({'csv': [], 'parquet': []}) }}{% endif %}

    {% set files = glob_raw_event_files(pattern) %}
    {% if files | length == 0 %}
        {{ raise_no_raw_event_files(pattern) }}
    {% endif %}

    {% set expected = raw_event_columns() %}
    {% set csv_files = [] %}
    {% set parquet_files = [] %}
    {% for f in files %}
        {% if f.endswith('.parquet') %}
            {% do parquet_files.append(f) %}
        {% elif f.endswith('.csv') or f.endswith('.csv.gz') %}
            {% do csv_files.append(f) %}
        {% else %}
            {{ exceptions.raise_compiler_error(
                "Raw event file '" ~ f ~ "' matched EVENTS_PATH='" ~ pattern ~ "' but is not .csv, .csv.gz or .parquet.") }}
        {% endif %}
    {% endfor %}

    {% if csv_files %}
        {% set sizes = run_query("select filename, size from read_blob(" ~ sql_string_list(csv_files) ~ ")") %}
        {% for row in sizes.rows if row[1] == 0 %}
            {{ exceptions.raise_compiler_error(
                "Raw event file '" ~ row[0] ~ "' is empty (0 bytes): expected at least the header line "
                ~ expected | join(',') ~ ". Remove it from EVENTS_PATH or replace it.") }}
        {% endfor %}
    {% endif %}

    {#- The first line must come back in file order: the profile turns insertion order off for
        speed, so it is switched on (and the scan made serial) just for these header reads. -#}
    {% set insertion_order = run_query("select current_setting('preserve_insertion_order')").rows[0][0] %}
    {% do run_query("set preserve_insertion_order = true") %}
    {% for f in csv_files %}
        {% set first = run_query("select raw_line from " ~ csv_line_reader([f], 'false', 'false') ~ " limit 1") %}
        {% set header = (first.rows[0][0] if first.rows | length > 0 else '') or '' %}
        {% set found_columns = parse_csv_header(header) %}
        {% if found_columns != expected %}
            {{ exceptions.raise_compiler_error(
                "Raw event file '" ~ f ~ "' has a wrong header. Expected columns: " ~ expected | join(',')
                ~ ". Found: " ~ header | trim ~ ". Missing: " ~ (expected | reject('in', found_columns) | join(',') or 'none')
                ~ ". Unexpected: " ~ (found_columns | reject('in', expected) | join(',') or 'none (order differs)') ~ ".") }}
        {% endif %}
    {% endfor %}
    {% do run_query("set preserve_insertion_order = " ~ insertion_order) %}

    {% set parquet = [] %}
    {% for f in parquet_files %}
        {% set schema = run_query("select column_name, column_type from (describe select * from read_parquet(" ~ sql_string(f) ~ "))") %}
        {% set found_columns = schema.columns[0].values() | list %}
        {% if found_columns | sort != expected | sort %}
            {{ exceptions.raise_compiler_error(
                "Raw event file '" ~ f ~ "' has wrong columns. Expected: " ~ expected | join(',')
                ~ ". Found: " ~ found_columns | join(',')
                ~ ". Missing: " ~ (expected | reject('in', found_columns) | join(',') or 'none')
                ~ ". Unexpected: " ~ (found_columns | reject('in', expected) | join(',') or 'none') ~ ".") }}
        {% endif %}
        {% set types = {} %}
        {% for row in schema.rows %}{% do types.update({row[0]: row[1] | upper}) %}{% endfor %}
        {% do parquet.append({'file': f, 'types': types}) %}
    {% endfor %}

    {{ return({'csv': csv_files, 'parquet': parquet}) }}
{%- endmacro %}


{% macro read_raw_event_lines(relation) -%}
    {#- One row per non-blank line of the CSV files after the header: source_file, raw_line (the
        line's text). Blank lines hold no data and are not rows (a trailing newline, a blank line at
        the end). A record whose quoted field spans lines is put back together in stg_raw_events. -#}
    {{ return(adapter.dispatch('read_raw_event_lines')(relation)) }}
{%- endmacro %}
{% macro default__read_raw_event_lines(relation) -%}
    {% set files = list_raw_event_files(raw_events_pattern(relation)) %}
    {% if files.csv %}
        select
            filename as source_file,
            raw_line
        from {{ csv_line_reader(files.csv, 'true') }}
        where raw_line is not null
    {% else %}
        {#- No CSV file, or parse time (execute is false): a typed empty relation. -#}
        select cast(null as varchar) as source_file, cast(null as varchar) as raw_line where false
    {% endif %}
{%- endmacro %}


{% macro read_raw_event_parquet(relation) -%}
    {#- One row per row of the Parquet files, typed from the column types each file stores (see
        typed_parquet_columns): files with the same column types are read in one scan. -#}
    {{ return(adapter.dispatch('read_raw_event_parquet')(relation)) }}
{%- endmacro %}
{% macro default__read_raw_event_parquet(relation) -%}
    {% set files = list_raw_event_files(raw_events_pattern(relation)) %}
    {% set groups = {} %}
    {% for f in files.parquet %}
        {% set key = [] %}
        {% for column in raw_event_columns() %}{% do key.append(f.types[column]) %}{% endfor %}
        {% set key = key | join('|') %}
        {% if key not in groups %}{% do groups.update({key: {'types': f.types, 'files': []}}) %}{% endif %}
        {% do groups[key].files.append(f.file) %}
    {% endfor %}
    {% set parts = [] %}
    {% for key, group in groups.items() %}
        {% do parts.append(
            "select " ~ typed_parquet_columns(group.types, group.files) ~ "\nfrom read_parquet("
            ~ sql_string_list(group.files) ~ ", filename = true)") %}
    {% endfor %}
    {% if parts %}
        {{ parts | join('\nunion all\n') }}
    {% else %}
        select
            {%- for column, type in typed_raw_event_columns() %}
            cast(null as {{ type }}) as {{ column }}{{ ',' if not loop.last }}
            {%- endfor %}
        where false
    {% endif %}
{%- endmacro %}


{% macro join_multiline_csv_records(max_record_lines=50) -%}
    {#- Post-hook of stg_raw_events. A quoted CSV field may hold line breaks, so one record can
        span several lines; lines have no order once read in parallel, so every file where a line
        was left with an unclosed quote (reason open_quote) is read again, serially and numbered,
        and its rows are replaced.

        The lines with an odd number of quotes are the candidates: one whose quote is unclosed
        opens a record, and the record ends at the next candidate when the lines in between, joined
        by line breaks, parse as one row of 9 fields (within max_record_lines lines). Otherwise
        the opening line alone is a malformed_row and the next candidate may open a record: one
        stray quote never swallows the rest of a file. -#}
    {{ return(adapter.dispatch('join_multiline_csv_records')(max_record_lines)) }}
{%- endmacro %}
{% macro default__join_multiline_csv_records(max_record_lines=50) -%}
    {% if not execute %}{{ return('') }}{% endif %}
    {% set files = run_query("select distinct source_file from " ~ this ~ " where reason = 'open_quote' order by 1").columns[0].values() | list %}
    {% for f in files %}
        {% set insertion_order = run_query("select current_setting('preserve_insertion_order')").rows[0][0] %}
        {% do run_query("set preserve_insertion_order = true") %}
        {#- Serial and order-preserving: row_number() over () numbers the lines in file order. -#}
        {% do run_query(
            "create or replace temp table multiline_csv_lines as select row_number() over () as line_number, raw_line from "
            ~ csv_line_reader([f], 'true', 'false')) %}
        {% do run_query("set preserve_insertion_order = " ~ insertion_order) %}

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
                    string_agg(coalesce(lines.raw_line, ''), chr(10) order by lines.line_number) as record
                from candidates
                inner join multiline_csv_lines as lines
                    on lines.line_number between candidates.line_number and candidates.next_candidate
                where candidates.opens and candidates.next_candidate - candidates.line_number < {{ max_record_lines }}
                group by candidates.line_number
            )

            select
                candidates.line_number,
                candidates.next_candidate,
                coalesce(len({{ csv_fields('records.record', quoted_csv_fields('records.record')) }}) = 9, false) as joins
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
                string_agg(coalesce(raw_line, ''), chr(10) order by line_number) as raw_line
            from (
                select
                    lines.*,
                    coalesce(spans.first_line, lines.line_number) as record_start
                from multiline_csv_lines as lines
                left join (
                    {% if spans %}values {{ spans | join(', ') }}{% else %}select 0, 0 where false{% endif %}
                ) as spans (first_line, last_line)
                    on lines.line_number between spans.first_line and spans.last_line
            ) as numbered
            group by record_start
            -- A blank line outside a record is no row (read_raw_event_lines drops it too).
            having count(*) > 1 or max(raw_line) is not null
        {% endset %}
        {% do run_query("delete from " ~ this ~ " where source_file = " ~ sql_string(f)) %}
        {% do run_query("insert into " ~ this ~ " by name " ~ raw_event_faults(
            '(' ~ typed_csv_event_lines('(' ~ records ~ ')') ~ ')', open_quote_reason='malformed_row')) %}
        {% do run_query("drop table multiline_csv_lines") %}
    {% endfor %}
    {{ return('') }}
{%- endmacro %}


{% macro raise_no_raw_event_files(pattern) -%}
    {#- The error of an EVENTS_PATH that matches nothing, the same on every engine. -#}
    {{ exceptions.raise_compiler_error(
        "No raw event files match EVENTS_PATH='" ~ pattern ~ "'. Set EVENTS_PATH to a file, a glob or a folder of "
        ~ "REES46 .csv, .csv.gz or .parquet files (relative paths resolve against the directory dbt runs in), "
        ~ "or run `make sample` to generate the embedded sample.") }}
{%- endmacro %}
