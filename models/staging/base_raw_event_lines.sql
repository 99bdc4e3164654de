{{ config(materialized='view') }}
{#-
    The raw files as text lines (source_file, raw_line): the only model that reads the source.
    A view (not ephemeral) so that a bad input file fails here with its message shown; it lists
    the files matched at build time, so query it from the directory dbt runs in.
-#}
{{ read_raw_event_lines(source('raw', 'events')) }}
