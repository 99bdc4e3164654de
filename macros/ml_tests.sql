{#- Generic test for ml.model_runs: a skipped run (degenerate data) fails it. Configure it with
    severity warn: the build completes, writes empty prediction tables, and says so. -#}
{% test ml_run_completed(model) %}
select target, status, reason
from {{ model }}
where status <> 'ok'
{% endtest %}
