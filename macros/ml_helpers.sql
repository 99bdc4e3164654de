{#- Helpers of the ml models: the targets, their training models and the run attributes. -#}

{% macro ml_targets() -%}
    {#- target name -> the Python model that trains it (models/ml/ml_<target>_training.py):
        churn and big_spender (classifiers), clv (customer lifetime value). -#}
    {{ return({'churn': 'ml_churn_training', 'big_spender': 'ml_big_spender_training', 'clv': 'ml_clv_training'}) }}
{%- endmacro %}


{% macro ml_classification_targets() -%}
    {#- The targets with a champion chosen on ROC AUC. -#}
    {{ return(['churn', 'big_spender']) }}
{%- endmacro %}


{% macro ml_run_attributes() -%}
    {#- Attributes of one training run (ml/records.py RUN_ATTRIBUTES): name -> SQL type. Text
        attributes are stored in the long table's `text`, numbers in `value`. -#}
    {{ return({
        'status': 'text', 'reason': 'text', 'horizon_days': 'integer',
        'prediction_as_of_date': 'date', 'feature_count': 'integer',
        'cutoff_count': 'integer', 'skipped_cutoff_count': 'integer',
        'first_cutoff_date': 'date', 'last_cutoff_date': 'date',
        'train_snapshot_dates': 'text', 'train_population': 'integer', 'train_positives': 'integer',
        'train_rows': 'integer', 'evaluation_rows': 'integer', 'scored_rows': 'integer',
        'champion_model': 'text', 'champion_is_baseline': 'boolean', 'champion_roc_auc': 'float',
        'champion_roc_auc_std': 'float',
        'runner_up_model': 'text', 'runner_up_roc_auc': 'float', 'champion_margin_roc_auc': 'float',
        'best_baseline_model': 'text', 'best_baseline_roc_auc': 'float',
        'champion_margin_over_baseline_roc_auc': 'float',
        'calibration_method': 'text', 'calibration_rows': 'integer',
        'trained_through': 'date', 'training_reused': 'boolean', 'parameters': 'text',
        'seconds': 'float'
    }) }}
{%- endmacro %}


{% macro ml_cutoff_attributes() -%}
    {#- Attributes of one backtest cutoff (ml/records.py CUTOFF_ATTRIBUTES): name -> SQL type. -#}
    {{ return({
        'status': 'text', 'reason': 'text', 'train_snapshot_dates': 'text',
        'train_population': 'integer', 'train_positives': 'integer', 'train_rows': 'integer',
        'evaluation_population': 'integer', 'evaluation_rows': 'integer'
    }) }}
{%- endmacro %}


{% macro ml_attribute_types() -%}
    {{ return({'text': dbt.type_string(), 'integer': dbt.type_bigint(), 'float': 'double', 'date': 'date', 'boolean': dbt.type_boolean()}) }}
{%- endmacro %}


{% macro ml_records(target, record_type) -%}
    {#- The rows of one record type from a target's training table. -#}
    select *
    from {{ ref(ml_targets()[target]) }}
    where record_type = '{{ record_type }}'
{%- endmacro %}


{% macro ml_risk_band(probability) -%}
    {#- churn_risk_band from the churn probability: vars churn_risk_band_high / _medium. -#}
    case
        when {{ probability }} >= {{ var('churn_risk_band_high', 0.8) | float }} then 'high'
        when {{ probability }} >= {{ var('churn_risk_band_medium', 0.5) | float }} then 'medium'
        else 'low'
    end
{%- endmacro %}


{% macro ml_keep_previous_state() -%}
    {#- Pre-hook of the ml training models. dbt-spark's table materialization drops a Parquet
        table before the Python model runs, so the previous build's fitted models (its 'state'
        rows, ml/store.py) are copied to <this>__previous_state first; ml/engines.py reads them
        from there. Nothing on DuckDB: dbt-duckdb replaces the table after the model has read it. -#}
    {{ return(adapter.dispatch('ml_keep_previous_state')()) }}
{%- endmacro %}

{% macro default__ml_keep_previous_state() -%}{%- endmacro %}

{% macro spark__ml_keep_previous_state() -%}
    {%- set kept = this.incorporate(path={'identifier': this.identifier ~ '__previous_state'}) -%}
    drop table if exists {{ kept }};
    {%- if execute and load_relation(this) is not none %}
    create table {{ kept }} using parquet as select * from {{ this }} where record_type = 'state'
    {%- endif %}
{%- endmacro %}


{% macro ml_drop_previous_state() -%}
    {#- Post-hook of the ml training models: drop the copy ml_keep_previous_state made. -#}
    {{ return(adapter.dispatch('ml_drop_previous_state')()) }}
{%- endmacro %}

{% macro default__ml_drop_previous_state() -%}{%- endmacro %}

{% macro spark__ml_drop_previous_state() -%}
    drop table if exists {{ this.incorporate(path={'identifier': this.identifier ~ '__previous_state'}) }}
{%- endmacro %}
