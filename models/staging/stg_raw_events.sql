{#-
    The one scan of the raw files: every raw row, typed where it can be, with the first fault found
    (null for a clean row). stg_events and quarantined_events both read this table, so
    raw rows in = clean rows + quarantined rows holds by construction and is tested.
    raw_line is kept only for faulty rows: clean rows are fully described by their typed columns.
-#}
with split as (
    select
        source_file,
        raw_line,
        string_split(raw_line, ',') as fields
    from {{ ref('base_raw_event_lines') }}
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
            partition by user_id, event_time, hash(raw_line)
            order by source_file
        ) as copy_number
    from faults
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
    coalesce(fault, case when copy_number > 1 then 'duplicate_row' end) as reason,
    case when fault is not null or copy_number > 1 then raw_line end as raw_line
from ranked
