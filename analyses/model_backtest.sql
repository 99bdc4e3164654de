-- The rolling-origin backtest of every model, challenger and baseline: ROC AUC per cutoff, then
-- its mean and sample standard deviation over the cutoffs, and the champion of each target with
-- its margins (docs/prediction.md, "Results on the default sample").
with per_cutoff as (
    select
        target,
        model,
        is_baseline,
        max(case when statistic = 'mean' then value end) as mean_roc_auc,
        max(case when statistic = 'std' then value end) as std_roc_auc,
        string_agg(
            case when statistic = 'cutoff' then strftime(cutoff_date, '%Y-%m-%d') || ': ' || round(value, 4) end,
            ', ' order by cutoff_date
        ) as roc_auc_per_cutoff
    from {{ ref('model_metrics') }}
    where evaluation = 'backtest' and metric = 'roc_auc'
    group by target, model, is_baseline
)

select
    per_cutoff.target,
    per_cutoff.model,
    per_cutoff.is_baseline,
    per_cutoff.model = runs.champion_model as is_champion,
    per_cutoff.roc_auc_per_cutoff,
    round(per_cutoff.mean_roc_auc, 4) as mean_roc_auc,
    round(per_cutoff.std_roc_auc, 4) as std_roc_auc,
    round(runs.champion_margin_roc_auc, 4) as champion_margin_over_runner_up,
    round(runs.champion_margin_over_baseline_roc_auc, 4) as champion_margin_over_best_baseline
from per_cutoff
inner join {{ ref('model_runs') }} as runs on per_cutoff.target = runs.target
order by per_cutoff.target asc, per_cutoff.mean_roc_auc desc
