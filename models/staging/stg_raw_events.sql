{#-
    The one scan of the raw files: every raw row, typed where it can be, with the first parse fault
    found (null for a row that parses). stg_events and quarantined_events both read this table, so
    raw rows in = clean rows + quarantined rows holds by construction and is tested.

    Cheap on purpose: a single gzip file is read by one thread, so every expression here adds to
    the wall time of the whole build. No window over the rows (exact duplicates are found afterwards
    from line_hash, in stg_event_duplicates), and raw_line is kept only for faulty rows: a clean row
    is described by its typed columns plus price_text, which is all render_raw_line() needs to give
    back the line of a duplicate copy.

    Incremental by source file: a build reads only the files not loaded yet (DuckDB skips the
    others before opening them).

    A CSV record whose quoted field holds a line break arrives as several lines: the first is
    marked open_quote here, and the post-hook re-reads just the files with such lines, in order,
    and puts their records back together (join_multiline_csv_records).
-#}
{{ config(
    materialized='incremental', on_schema_change='fail',
    post_hook="{{ join_multiline_csv_records() }}",
    **raw_rows_storage_config()
) }}

{% set loaded_files = loaded_raw_event_files(this) if is_incremental() else [] %}

with csv_lines as (
    select
        source_file,
        raw_line
    from {{ ref('base_raw_event_lines') }}
    {% if is_incremental() -%}
    where not {{ in_list('source_file', loaded_files) }}
    {%- endif %}
),

typed as (
    {{ typed_csv_event_lines('csv_lines') }}
    union all
    select
        {%- for column, _ in typed_raw_event_columns() %}
        {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('base_raw_event_parquet') }}
    {% if is_incremental() -%}
    where not {{ in_list('source_file', loaded_files) }}
    {%- endif %}
)

{{ raw_event_faults('typed') }}
