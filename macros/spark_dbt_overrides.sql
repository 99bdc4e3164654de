{#-
    Spark only: pieces of dbt's machinery the DuckDB models and tests rely on, made to work on
    Spark. Each leaves DuckDB's path exactly as dbt ships it.
-#}

{% macro run_hooks(hooks, inside_transaction=True) -%}
    {#- dbt's run_hooks, dispatched. A hook may render several statements separated by ';' (the
        funnel stage post-hooks insert one dimension per statement); Spark runs one statement per
        call, so there each statement ending a line with ';' is run on its own. -#}
    {{ adapter.dispatch('run_hooks')(hooks, inside_transaction) }}
{%- endmacro %}
{% macro default__run_hooks(hooks, inside_transaction=True) -%}
    {{ dbt.run_hooks(hooks, inside_transaction) }}
{%- endmacro %}
{% macro spark__run_hooks(hooks, inside_transaction=True) -%}
    {%- for hook in hooks | selectattr('transaction', 'equalto', inside_transaction) -%}
        {%- set rendered = render(hook.get('sql')) | trim -%}
        {%- for sql in modules.re.split(';[ \\t]*(?:\\r?\\n|$)', rendered) if sql | trim | length > 0 -%}
            {%- call statement(auto_begin=inside_transaction) -%}
                {{ sql }}
            {%- endcall -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endmacro %}


{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {#- dbt-spark refuses delete+insert. The models that use it on DuckDB and have no Spark storage
        of their own are rebuilt whole on Spark (full_refresh, dbt_project.yml), so their strategy
        is never used there: accept it for them, and keep dbt-spark's check for every other case. -#}
    {%- if raw_strategy == 'delete+insert' and should_full_refresh() -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {#- dbt-spark 1.11's own check (its package is not reachable by name from here). -#}
    {%- if raw_strategy not in ['append', 'merge', 'insert_overwrite', 'microbatch'] -%}
        {{ exceptions.raise_compiler_error("Invalid incremental strategy provided: " ~ raw_strategy
            ~ "\nExpected one of: 'append', 'merge', 'insert_overwrite', 'microbatch'") }}
    {%- endif -%}
    {%- if raw_strategy == 'merge' and file_format not in ['delta', 'iceberg', 'hudi'] -%}
        {{ exceptions.raise_compiler_error("Invalid incremental strategy provided: " ~ raw_strategy
            ~ "\nYou can only choose this strategy when file_format is set to 'delta' or 'iceberg' or 'hudi'") }}
    {%- endif -%}
    {%- if raw_strategy in ['insert_overwrite', 'microbatch'] and target.endpoint -%}
        {{ exceptions.raise_compiler_error("Invalid incremental strategy provided: " ~ raw_strategy
            ~ "\nYou cannot use this strategy when connecting via endpoint") }}
    {%- endif -%}
    {{ return(raw_strategy) }}
{%- endmacro %}


{% macro spark__safe_cast(field, type) -%}
    {#- dbt-spark's safe_cast, plus the list fixtures of the unit tests: a YAML value such as
        "[2019-10-01 23:50:00, 2019-10-01 23:55:00]" for an array column (DuckDB casts that text
        to a list) becomes cast(array('2019-10-01 23:50:00', ...) as array<...>). -#}
    {%- set is_nested = type.lower().startswith('struct') or type.lower().startswith('array') or type.lower().startswith('map') -%}
    {%- set field_clean = field.strip('"').strip("'") if (is_nested and field is string) else field -%}
    {%- if type.lower().startswith('array<') and field_clean is string and field_clean.startswith('[') and field_clean.endswith(']') -%}
        {%- set items = [] -%}
        {%- for item in field_clean[1:-1].split(',') if item | trim -%}
            {%- do items.append("'" ~ (item | trim) ~ "'") -%}
        {%- endfor -%}
        cast(array({{ items | join(', ') }}) as {{ type }})
    {%- else -%}
        cast({{ field_clean }} as {{ type }})
    {%- endif -%}
{%- endmacro %}
