{#- Generic test: the given columns together identify a row (dbt_utils is not installable offline).
    Rows are grouped by one 64-bit hash of the columns (a far smaller and faster hash table than
    the columns themselves on tables of tens of millions of rows); a hash collision can only
    report a false duplicate, never hide a real one, and the failing rows show the columns.
    latest_load_only: check only the rows of the latest dbt run (max loaded_at). For an incremental
    delete+insert table whose unique key is part of columns, that is enough: a run deletes every
    stored row of the keys it writes, so rows of different runs never share a key, and each run's
    rows were checked when they were written. The test's cost then follows the new data. -#}
{% test unique_combination(model, columns, latest_load_only=false) %}
select
    {%- for column in columns %}
    min({{ column }}) as {{ column }},
    {%- endfor %}
    count(*) as copies
from {{ model }}
{%- if latest_load_only %}
where loaded_at = (select max(loaded_at) from {{ model }})
{%- endif %}
group by {{ row_hash(columns | join(', ')) }}
having count(*) > 1
{% endtest %}
