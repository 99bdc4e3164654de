{#-
    The predictions come from the rolling backtest's winner: for each completed classification
    run, no model, challenger or baseline in model_metrics has a higher mean backtest ROC AUC over
    the cutoffs than champion_roc_auc, the champion's own mean there equals it, and it is never
    below the best baseline's. A row is a violation.
-#}
with backtest_auc as (
    select
        target,
        model,
        value as roc_auc
    from {{ ref('model_metrics') }}
    where evaluation = 'backtest' and metric = 'roc_auc' and statistic = 'mean'
),

runs as (
    select
        target,
        champion_model,
        champion_roc_auc,
        best_baseline_roc_auc
    from {{ ref('model_runs') }}
    where status = 'ok' and target in ('churn', 'big_spender')
)

select
    runs.target,
    runs.champion_model,
    runs.champion_roc_auc,
    max(backtest_auc.roc_auc) as best_roc_auc,
    max(case when backtest_auc.model = runs.champion_model then backtest_auc.roc_auc end)
        as champion_metric_roc_auc
from runs
left join backtest_auc on runs.target = backtest_auc.target
group by runs.target, runs.champion_model, runs.champion_roc_auc, runs.best_baseline_roc_auc
having
    runs.champion_model is null
    or max(backtest_auc.roc_auc) > runs.champion_roc_auc + 1e-12
    or abs(max(case when backtest_auc.model = runs.champion_model then backtest_auc.roc_auc end)
        - runs.champion_roc_auc) > 1e-12
    or runs.champion_roc_auc < runs.best_baseline_roc_auc
