{{ config(materialized='view') }}
{#-
    The raw Parquet files as typed rows (source_file, the row as a REES46 CSV line, its columns
    typed from the types each file stores): with base_raw_event_lines, the only models that read
    the source. Typed data is read as it is, never rendered to text and parsed again.
-#}
{{ read_raw_event_parquet(source('raw', 'events')) }}
