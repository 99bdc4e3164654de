{#- Every raw row that is not in stg_events, with its raw text split back into the raw columns. -#}
with quarantined as (
    select
        source_file,
        reason,
        raw_line,
        string_split(raw_line, ',') as fields
    from {{ ref('stg_raw_events') }}
    where reason is not null
)

select
    {% for column in raw_event_columns() -%}
    fields[{{ loop.index }}] as {{ column }},
    {% endfor -%}
    raw_line,
    source_file,
    reason
from quarantined
