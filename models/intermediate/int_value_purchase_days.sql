{#- One row per user and day with a purchase, with the gap in days since the user's previous purchase day. -#}
with purchase_days as (
    select
        user_id,
        event_date as purchase_date,
        purchases,
        purchasing_sessions,
        revenue
    from {{ ref('int_user_days') }}
    where purchases > 0
)

select
    user_id,
    purchase_date,
    purchases,
    purchasing_sessions,
    revenue,
    lag(purchase_date) over (partition by user_id order by purchase_date) as previous_purchase_date,
    {{ dbt.datediff('lag(purchase_date) over (partition by user_id order by purchase_date)', 'purchase_date', 'day') }} as gap_days
from purchase_days
