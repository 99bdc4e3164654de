{#-
    The wide per-user feature table as of features_as_of (var; empty = prediction_date; empty = the
    last clean event date): one row per user with an event on or before that date, built only from
    data on or before it. It is int_customer_feature_snapshots at that date, which the snapshot list
    always includes. Features and their docs: macros/feature_catalog.sql.
-#}
{{ config(materialized='view') }}
{#- A view: the rows are stored once, in the snapshot table. -#}
{%- set as_of = feature_as_of_date() %}

select
    user_id,
    as_of_date,
    {%- for f in feature_catalog() %}
    {{ f.name }}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ ref('int_customer_feature_snapshots') }}
where {{ "as_of_date = cast('" ~ as_of.strftime('%Y-%m-%d') ~ "' as date)" if as_of is not none else 'false' }}
