{#-
    Reading raw REES46 files. DuckDB-only syntax (glob, read_csv, read_parquet) lives here so that
    the models stay portable.

    CSV files are read as whole lines and split in SQL: the CSV sniffer degrades silently on bad
    rows and a stray quote can swallow the rest of a file, while a line reader never loses a row.
    Every line therefore reaches staging, where it is either typed or quarantined with a reason.
-#}

{% macro raw_event_columns() -%}
    {{ return(['event_time', 'event_type', 'product_id', 'category_id', 'category_code',
               'brand', 'price', 'user_id', 'user_session']) }}
{%- endmacro %}


{% macro raw_events_pattern(relation) -%}
    {#- The source's external_location is the EVENTS_PATH glob, rendered quoted by dbt-duckdb. -#}
    {{ return(relation.external | trim | replace("'", "")) }}
{%- endmacro %}


{% macro csv_line_reader(files, header, parallel=true) -%}
    read_csv(
        [{%- for f in files %}'{{ f }}'{{ ", " if not loop.last }}{% endfor -%}],
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


{% macro list_raw_event_files(pattern) -%}
    {#- Expands the glob and checks every file before any row is read: a clear message beats a
        crash dump, and nothing is written when the input is bad. -#}
    {% if not execute %}{{ return({'csv': [], 'parquet': []}) }}{% endif %}

    {#- Hidden files (e.g. the sample's .complete marker) are never data. -#}
    {% set found = run_query("select file from glob('" ~ pattern ~ "') where not starts_with(parse_filename(file), '.') order by file") %}
    {% set files = found.columns[0].values() | list %}
    {% if files | length == 0 %}
        {{ exceptions.raise_compiler_error(
            "No raw event files match EVENTS_PATH='" ~ pattern ~ "'. Set EVENTS_PATH to a file or glob of "
            ~ "REES46 .csv, .csv.gz or .parquet files (relative paths resolve against the directory dbt runs in), "
            ~ "or run `make sample` to generate the embedded sample.") }}
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
        {% set sizes = run_query("select filename, size from read_blob([" ~ ("'" ~ csv_files | join("', '") ~ "'") ~ "])") %}
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
        {% set header = (first.rows[0][0] if first.rows | length > 0 else '') | trim %}
        {% set found_columns = header.split(',') %}
        {% if found_columns != expected %}
            {{ exceptions.raise_compiler_error(
                "Raw event file '" ~ f ~ "' has a wrong header. Expected columns: " ~ expected | join(',')
                ~ ". Found: " ~ header ~ ". Missing: " ~ (expected | reject('in', found_columns) | join(',') or 'none')
                ~ ". Unexpected: " ~ (found_columns | reject('in', expected) | join(',') or 'none (order differs)') ~ ".") }}
        {% endif %}
    {% endfor %}
    {% do run_query("set preserve_insertion_order = " ~ insertion_order) %}

    {% for f in parquet_files %}
        {% set schema = run_query("select name from parquet_schema('" ~ f ~ "') where name <> 'duckdb_schema' and num_children is null") %}
        {% set found_columns = schema.columns[0].values() | list %}
        {% if found_columns | sort != expected | sort %}
            {{ exceptions.raise_compiler_error(
                "Raw event file '" ~ f ~ "' has wrong columns. Expected: " ~ expected | join(',')
                ~ ". Found: " ~ found_columns | join(',')
                ~ ". Missing: " ~ (expected | reject('in', found_columns) | join(',') or 'none')
                ~ ". Unexpected: " ~ (found_columns | reject('in', expected) | join(',') or 'none') ~ ".") }}
        {% endif %}
    {% endfor %}

    {{ return({'csv': csv_files, 'parquet': parquet_files}) }}
{%- endmacro %}


{% macro read_raw_event_lines(relation) -%}
    {#- One row per raw data row: source_file, raw_line (the row's text, header excluded). -#}
    {% set files = list_raw_event_files(raw_events_pattern(relation)) %}
    {% set parts = [] %}
    {% if files.csv %}
        {% do parts.append("select filename as source_file, raw_line from " ~ csv_line_reader(files.csv, 'true')) %}
    {% endif %}
    {% if files.parquet %}
        {#- Parquet rows are rendered back into the CSV line so both formats share one parser. -#}
        {% set fields = [] %}
        {% for c in raw_event_columns() %}
            {% do fields.append("coalesce(cast(" ~ adapter.quote(c) ~ " as varchar), '')") %}
        {% endfor %}
        {% do parts.append(
            "select filename as source_file, concat_ws(',', " ~ fields | join(', ') ~ ") as raw_line from read_parquet(["
            ~ ("'" ~ files.parquet | join("', '") ~ "'") ~ "], filename = true)") %}
    {% endif %}
    {% if parts %}
        {{ parts | join('\nunion all\n') }}
    {% else %}
        {#- Parse time (execute is false): a typed empty relation keeps dbt's parser happy. -#}
        select cast(null as varchar) as source_file, cast(null as varchar) as raw_line where false
    {% endif %}
{%- endmacro %}
