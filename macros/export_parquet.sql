{#- Test support (tests/test_spark_parity.py): write relations, views included, as Parquet
    folders <folder>/<relation> so that another engine can read them. Run with
    `dbt run-operation export_relations_to_parquet --args '{relations: [...], folder: ...}'`. -#}
{% macro export_relations_to_parquet(relations, folder) -%}
    {% for relation in relations %}
        {% do run_query(adapter.dispatch('export_relation_to_parquet')(relation, folder ~ '/' ~ relation)) %}
    {% endfor %}
{%- endmacro %}

{% macro default__export_relation_to_parquet(relation, path) -%}
    copy (select * from {{ relation }}) to {{ sql_string(path) }} (format parquet, per_thread_output true)
{%- endmacro %}

{% macro spark__export_relation_to_parquet(relation, path) -%}
    insert overwrite directory {{ sql_string(path) }} using parquet select * from {{ relation }}
{%- endmacro %}
