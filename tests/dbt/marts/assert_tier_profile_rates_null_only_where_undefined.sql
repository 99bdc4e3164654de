{#-
    tier_profile's conversion rates are null exactly where their denominator is 0, and between 0
    and 1 elsewhere. The denominators (users / sessions of the tier at the earlier step) are not
    columns of the mart, so they are recounted here from customer_value and int_sessions. A row
    names a rate that is null although the tier has users or sessions at the earlier step, a rate
    given although it has none, or a rate outside [0, 1].
-#}
with user_steps as (
    select
        value_tier,
        count(case when views > 0 then 1 end) as viewers,
        count(case when carts > 0 then 1 end) as carters
    from {{ ref('customer_value') }}
    group by value_tier
),

session_steps as (
    select
        customer_value.value_tier,
        count(case when s.views > 0 then 1 end) as view_sessions,
        count(case when s.carts > 0 then 1 end) as cart_sessions
    from {{ ref('int_sessions') }} as s
    inner join {{ ref('customer_value') }} as customer_value on s.user_id = customer_value.user_id
    group by customer_value.value_tier
),

joined as (
    select
        tier_profile.*,
        coalesce(user_steps.viewers, 0) as viewers,
        coalesce(user_steps.carters, 0) as carters,
        coalesce(session_steps.view_sessions, 0) as view_sessions,
        coalesce(session_steps.cart_sessions, 0) as cart_sessions
    from {{ ref('tier_profile') }} as tier_profile
    left join user_steps on tier_profile.value_tier = user_steps.value_tier
    left join session_steps on tier_profile.value_tier = session_steps.value_tier
),

rates as (
    {%- set rates = [
        ('view_to_cart_user_rate', 'viewers'),
        ('cart_to_purchase_user_rate', 'carters'),
        ('view_to_cart_session_rate', 'view_sessions'),
        ('cart_to_purchase_session_rate', 'cart_sessions'),
    ] %}
    {%- for rate, denominator in rates %}
    select
        value_tier,
        '{{ rate }}' as rate,
        {{ rate }} as rate_value,
        {{ denominator }} as denominator
    from joined
    {{- ' union all' if not loop.last }}
    {%- endfor %}
)

select
    value_tier,
    rate,
    rate_value,
    denominator
from rates
where
    (denominator = 0 and rate_value is not null)
    or (denominator > 0 and (rate_value is null or rate_value < 0 or rate_value > 1))
