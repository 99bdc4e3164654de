{#-
    The customer feature table at every snapshot date of feature_snapshot_dates() (prediction date D,
    fixed calendar grid dates before it, and features_as_of): one row per (user_id, as_of_date) for
    users with an event on or before the as-of date, built only from data on or before it. Every
    feature comes from feature_definitions() (macros/feature_catalog.sql);
    marts.customer_features is this table at features_as_of.

    Incremental by as-of date: a snapshot reads only events on or before its date, so a stored one
    stays right until events dated on or before it arrive. A run computes the dates that are new
    to the list or that the newly loaded events reach (feature_snapshot_dates_to_build: D every
    day, a grid date once), and drops those no longer listed.

    The small per-user-day and per-session-day tables are joined to the snapshot dates
    (event_date <= as_of_date) and aggregated per (as_of_date, user_id), every window in the same
    pass. The per-user-day-item table is too large for that (almost one row per event): it is never
    joined to the dates. It is grouped per user and product / category / brand / top-level category
    with one column per snapshot date (the last touch, and sums, on or before that date); only
    those per-key rows are spread over the snapshot dates. Never the raw events.

    The SQL is macros/feature_snapshots.sql: users are computed in groups (feature_user_partitions),
    group 0 by this statement and the others by the post-hook, one statement each, so that memory
    is bounded by one group.
-#}
-- depends_on: {{ ref('stg_events') }}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    incremental_strategy='append',
    pre_hook="{{ feature_snapshot_delete_stale() }}",
    post_hook="{{ feature_snapshot_other_partitions() }}",
    **as_of_date_storage_config()
) }}

{{ feature_snapshot_partition(0, feature_snapshot_dates_to_build()) }}
