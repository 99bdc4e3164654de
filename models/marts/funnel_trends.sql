{#-
    The ordered user funnel (view -> cart -> purchase) by entry week: the ISO week (Monday first)
    of the user's first view. A user is observable when the conversion window (var
    funnel_conversion_window_days after the first view) closed by the last event in the data;
    otherwise the user is censored: left out of reached_* and of the rates, never counted as
    dropped. Among observable users, reached_cart / reached_purchase count the users whose
    ordered cart (first cart at or after the first view) / ordered purchase (first purchase at or
    after that cart) came at most the window after the first view. The per-user stages come from
    int_funnel_entity_stages (level 'user', dimension 'overall'), never from the events.
-#}
{%- set window_days = value_var('funnel_conversion_window_days', 7) | int %}
{%- set counts = ['users_entered', 'users_observable', 'users_censored', 'reached_cart', 'reached_purchase'] %}

with users as (
    select
        first_view_at,
        ordered_cart_at,
        ordered_purchase_at,
        {{ period_start('first_view_at', 'week') }} as entry_week,
        {{ dbt.dateadd('day', window_days, 'first_view_at') }} as window_end
    from {{ ref('int_funnel_entity_stages') }}
    where level = 'user'
        and dimension = 'overall'
        and first_view_at is not null
),

data_end as (
    select max(last_event_at) as last_event_at from {{ ref('int_session_hours') }}
),

user_flags as (
    select
        users.entry_week,
        users.window_end <= data_end.last_event_at as is_observable,
        users.ordered_cart_at is not null and users.ordered_cart_at <= users.window_end as reached_cart,
        users.ordered_purchase_at is not null and users.ordered_purchase_at <= users.window_end as reached_purchase
    from users
    cross join data_end
),

weeks as (
    select
        entry_week,
        count(*) as users_entered,
        count(case when is_observable then 1 end) as users_observable,
        count(case when not is_observable then 1 end) as users_censored,
        count(case when is_observable and reached_cart then 1 end) as reached_cart,
        count(case when is_observable and reached_purchase then 1 end) as reached_purchase
    from user_flags
    group by entry_week
)

select
    weeks.entry_week,
    {%- for column in counts %}
    cast(weeks.{{ column }} as {{ dbt.type_bigint() }}) as {{ column }},
    {%- endfor %}
    {{ funnel_ratio('weeks.reached_cart', 'weeks.users_observable') }} as view_to_cart_rate,
    {{ funnel_ratio('weeks.reached_purchase', 'weeks.reached_cart') }} as cart_to_purchase_rate,
    {{ funnel_ratio('weeks.reached_purchase', 'weeks.users_observable') }} as view_to_purchase_rate,
    -- The last possible first view of the week is before the next Monday: its window ends at most
    -- window_days after that.
    cast({{ dbt.dateadd('day', window_days + 1, period_last_day('weeks.entry_week', 'week')) }} as {{ dbt.type_timestamp() }})
    <= data_end.last_event_at as is_week_fully_observable
from weeks
cross join data_end
