{#-
    The one scan of the raw files: every raw row, typed where it can be, with the first fault found
    (null for a clean row). stg_events and quarantined_events both read this table, so
    raw rows in = clean rows + quarantined rows holds by construction and is tested.
    raw_line is kept only for faulty rows: clean rows are fully described by their typed columns.

    Incremental by source file: a build reads only the files not loaded yet (DuckDB skips the
    others before opening them). A row of a new file that repeats an already loaded clean row is a
    duplicate_row, as it would be in a full build when files arrive in name order.
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
        len(fields) as field_count,
        fields[2] as event_type,
        {{ rees46_timestamp('fields[1]') }} as event_time,
        {{ strict_bigint('fields[3]') }} as product_id,
        {{ strict_bigint('fields[4]') }} as category_id,
        nullif(fields[5], '') as category_code,
        nullif(fields[6], '') as brand,
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
        end as fault
    from typed
),

ranked as (
    select
        *,
        -- Exact duplicates share the line text; hashing keeps the window key small, and the user
        -- and time in the key make a hash collision between different rows practically impossible.
        row_number() over (
            partition by user_id, event_time, line_hash
            order by source_file
        ) as copy_number
    from (select *, hash(raw_line) as line_hash from faults) as hashed
)
{%- if is_incremental() %},

loaded_clean_lines as (
    select distinct
        user_id,
        event_time,
        line_hash
    from {{ this }}
    where reason is null
)
{%- endif %}

select
    {%- for column in ['source_file', 'event_time', 'event_type', 'product_id', 'category_id', 'category_code', 'brand', 'price', 'user_id', 'user_session'] %}
    ranked.{{ column }},
    {%- endfor %}
    {%- set is_duplicate -%}
    ranked.copy_number > 1{% if is_incremental() %} or loaded_clean_lines.line_hash is not null{% endif %}
    {%- endset %}
    coalesce(ranked.fault, case when {{ is_duplicate }} then 'duplicate_row' end) as reason,
    case when ranked.fault is not null or {{ is_duplicate }} then ranked.raw_line end as raw_line,
    ranked.line_hash,
    {{ loaded_at() }} as loaded_at
from ranked
{%- if is_incremental() %}
left join loaded_clean_lines
    on ranked.user_id = loaded_clean_lines.user_id
    and ranked.event_time = loaded_clean_lines.event_time
    and ranked.line_hash = loaded_clean_lines.line_hash
{%- endif %}
