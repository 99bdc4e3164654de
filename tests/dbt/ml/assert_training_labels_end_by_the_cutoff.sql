{#-
    No leakage across the rolling backtest: every snapshot T stacked into a cutoff's training set
    has its label window (T, T + H] ended on or before the cutoff c, and every cutoff's own
    labels end on or before the prediction date D. A row is a violation.
-#}
{%- set horizon = var('churn_horizon_days', 28) | int %}

with cutoffs as (
    select
        c.target,
        c.cutoff_date,
        c.label_window_end,
        c.train_snapshot_dates,
        runs.prediction_as_of_date
    from {{ ref('backtest_cutoffs') }} as c
    inner join {{ ref('model_runs') }} as runs on c.target = runs.target
    where c.status = 'ok'
),

training as (
    select
        target,
        cutoff_date,
        {{ unnest_comma_dates('train_snapshot_dates') }} as train_date
    from cutoffs
    where train_snapshot_dates <> ''
)

select target, cutoff_date, train_date, null as label_window_end
from training
where {{ dbt.dateadd('day', horizon, 'train_date') }} > cutoff_date
union all
select target, cutoff_date, null as train_date, label_window_end
from cutoffs
where label_window_end > prediction_as_of_date
