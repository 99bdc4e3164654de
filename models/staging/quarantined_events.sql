{#- Every raw row that is not in stg_events, with its raw text split back into the raw columns:
    the rows that do not parse, and every copy of a duplicated line but the one kept clean. -#}
with quarantined as (
    select
        source_file,
        reason,
        raw_line
    from {{ ref('stg_raw_events') }}
    where reason is not null
    union all
    select
        source_file,
        reason,
        raw_line
    from (
        select
            duplicates.source_file,
            'duplicate_row' as reason,
            {{ render_raw_line('duplicates') }} as raw_line,
            -- DuckDB: one row per quarantined copy.
            {{ repeat_rows('duplicates.quarantined_copies') }} as copy_number
        from {{ ref('stg_event_duplicates') }} as duplicates
    ) as copies
)

select
    {% for column in raw_event_columns() -%}
    {{ list_item('fields', loop.index) }} as {{ column }},
    {% endfor -%}
    raw_line,
    source_file,
    reason
-- The raw columns as the CSV reader sees them (a line that does not parse is split on commas).
from (
    select
        *,
        coalesce(
            {{ csv_fields('raw_line', quoted_csv_fields('raw_line')) }},
            {{ split_on_commas('raw_line') }}
        ) as fields
    from quarantined
) as split
