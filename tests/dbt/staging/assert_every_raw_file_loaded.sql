{#-
    Every data row of every file matched by EVENTS_PATH reached stg_raw_events: files that an
    incremental build has not loaded must have no data rows. Only those files are read (DuckDB
    skips the loaded ones by name), so the check costs nothing on a normal build.
-#}
-- depends_on: {{ ref('stg_raw_events') }}
{%- set loaded_files = loaded_raw_event_files(ref('stg_raw_events')) %}

select
    source_file,
    count(*) as unloaded_rows
from (
    select source_file from {{ ref('base_raw_event_lines') }}
    union all
    select source_file from {{ ref('base_raw_event_parquet') }}
) as raw_rows
where not {{ in_list('source_file', loaded_files) }}
group by source_file
