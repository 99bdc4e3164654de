{#-
    Exact duplicates among the raw rows that parse: one row per duplicated line and source file.
    A line is identified by line_hash (the hash of its text) with user_id and event_time, which
    makes a hash collision between different lines practically impossible. Of all copies of a
    line, the first copy in the file first by name stays clean (stg_events); every other copy is
    quarantined as duplicate_row (quarantined_events).

    Found by one aggregation of the stored hashes rather than a window over every row: only the
    few repeated lines are looked at twice. Recomputed whole on every build, so a file loaded
    later (incrementally) gives the same answer as a full refresh.
-#}
with repeated_hashes as (
    select line_hash
    from {{ ref('stg_raw_events') }}
    where reason is null
    group by line_hash
    having count(*) > 1
),

copies_by_file as (
    select
        raw.line_hash,
        raw.user_id,
        raw.event_time,
        raw.source_file,
        count(*) as copies,
        min(raw.loaded_at) as loaded_at,
        {#- Every copy of one line parses to the same values. #}
        {%- for column in ['event_type', 'product_id', 'category_id', 'category_code', 'brand', 'price', 'user_session', 'price_text', 'raw_line'] %}
        min(raw.{{ column }}) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_raw_events') }} as raw
    inner join repeated_hashes on raw.line_hash = repeated_hashes.line_hash
    where raw.reason is null
    group by raw.line_hash, raw.user_id, raw.event_time, raw.source_file
),

lines as (
    select
        *,
        sum(copies) over line_copies as line_copies,
        min(source_file) over line_copies as kept_file
    from copies_by_file
    window line_copies as (partition by line_hash, user_id, event_time)
)

select
    line_hash,
    user_id,
    event_time,
    source_file,
    kept_file,
    copies,
    copies - case when source_file = kept_file then 1 else 0 end as quarantined_copies,
    event_type,
    product_id,
    category_id,
    category_code,
    brand,
    price,
    user_session,
    price_text,
    raw_line,
    loaded_at
from lines
-- A hash shared by two different lines (different user or time) is not a duplicate.
where line_copies > 1
