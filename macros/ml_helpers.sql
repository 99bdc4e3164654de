{#- Helpers of the ml models: the targets, their training models and the run attributes. -#}

{% macro ml_targets() -%}
    {#- target name -> the Python model that trains it (models/ml/ml_<target>_training.py). -#}
    {{ return({'churn': 'ml_churn_training', 'big_spender': 'ml_big_spender_training'}) }}
{%- endmacro %}


{% macro ml_run_attributes() -%}
    {#- Attributes of one training run (ml/train.py RUN_ATTRIBUTES): name -> SQL type. Text
        attributes are stored in the long table's `text`, numbers in `value`. -#}
    {{ return({
        'status': 'text', 'reason': 'text', 'horizon_days': 'integer',
        'train_as_of_date': 'date', 'evaluation_as_of_date': 'date', 'prediction_as_of_date': 'date',
        'feature_count': 'integer', 'train_population': 'integer', 'train_positives': 'integer',
        'train_rows': 'integer', 'evaluation_population': 'integer', 'evaluation_rows': 'integer',
        'production_train_rows': 'integer', 'scored_rows': 'integer',
        'champion_model': 'text', 'champion_is_baseline': 'boolean', 'champion_roc_auc': 'float',
        'runner_up_model': 'text', 'runner_up_roc_auc': 'float', 'champion_margin_roc_auc': 'float',
        'best_baseline_model': 'text', 'best_baseline_roc_auc': 'float',
        'seconds': 'float'
    }) }}
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
