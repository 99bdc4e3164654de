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
-#}
{{ config(materialized='incremental', on_schema_change='fail', incremental_strategy='append') }}

{% set loaded_files = loaded_raw_event_files(this) if is_incremental() else [] %}

with split as (
    select
        source_file,
        raw_line,
        string_split(raw_line, ',') as fields
    from {{ ref('base_raw_event_lines') }}
    {% if is_incremental() -%}
    where not {{ in_list('source_file', loaded_files) }}
    {%- endif %}
),

typed as (
    select
        source_file,
        raw_line,
        fields,
        len(fields) as field_count,
        fields[2] as event_type,
        {{ rees46_timestamp('fields[1]') }} as event_time,
        {{ strict_bigint('fields[3]') }} as product_id,
        {{ strict_bigint('fields[4]') }} as category_id,
        nullif(fields[5], '') as category_code,
        nullif(fields[6], '') as brand,
        fields[7] as price_text,
        try_cast(nullif(fields[7], '') as double) as price,
        {{ strict_bigint('fields[8]') }} as user_id,
        nullif(fields[9], '') as user_session
    from split
),

faults as (
    select
        *,
        case
            when field_count <> 9 then 'malformed_row'
            when event_time is null then 'bad_event_time'
            when event_type not in ('view', 'cart', 'remove_from_cart', 'purchase') then 'unknown_event_type'
            when user_id is null then 'bad_user_id'
            when product_id is null then 'bad_product_id'
            when price is null or price < 0 or not isfinite(price) then 'bad_price'
        end as reason
    from typed
)

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
    case when reason is not null or not ({{ raw_line_is_renderable() }}) then raw_line end as raw_line,
    price_text,
    hash(raw_line) as line_hash,
    {{ loaded_at() }} as loaded_at
from faults
