{{ config(materialized='ephemeral') }}
{#- The raw files as text lines (source_file, raw_line): the only model that reads the source. -#}
{{ read_raw_event_lines(source('raw', 'events')) }}
