{#-
    Nothing is lost silently: per file, landed raw rows = clean rows + quarantined rows.
    stg_raw_events holds every data line of every loaded file (assert_every_raw_file_loaded checks
    that no file was skipped; pytest recounts the lines of hand-made files independently).
-#}
with raw_rows as (
    select source_file, count(*) as n from {{ ref('stg_raw_events') }} group by source_file
),

clean_rows as (
    select source_file, count(*) as n from {{ ref('stg_events') }} group by source_file
),

quarantined_rows as (
    select source_file, count(*) as n from {{ ref('quarantined_events') }} group by source_file
)

select
    raw_rows.source_file,
    raw_rows.n as raw_n,
    coalesce(clean_rows.n, 0) as clean_n,
    coalesce(quarantined_rows.n, 0) as quarantined_n
from raw_rows
full outer join clean_rows on raw_rows.source_file = clean_rows.source_file
full outer join quarantined_rows on coalesce(raw_rows.source_file, clean_rows.source_file) = quarantined_rows.source_file
where coalesce(raw_rows.n, 0) <> coalesce(clean_rows.n, 0) + coalesce(quarantined_rows.n, 0)
