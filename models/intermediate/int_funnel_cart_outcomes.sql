{#-
    One row per carted item: a (session, product) with at least one cart event, and what became of
    it. 'in_session': the product was purchased in the same session at or after its first cart.
    'later_session': otherwise, the same user purchased the same product in another session at or
    after the cart and at most conversion_window_days after it. 'abandoned': neither.
-#}
with session_products as (
    select * from {{ ref('int_session_products') }}
),

data_end as (
    -- The last event in the data (int_session_products holds carted and bought items only).
    select max(last_event_at) as last_event_at
    from {{ ref('int_session_hours') }}
),

carted as (
    select
        session_id,
        session_key,
        product_id,
        user_id,
        first_cart_at,
        coalesce(purchases > 0 and last_purchase_at >= first_cart_at, false) as purchased_in_session
    from session_products
    where carts > 0
),

purchased as (
    select
        session_id,
        product_id,
        user_id,
        first_purchase_at
    from session_products
    where purchases > 0
),

later_purchase as (
    select
        carted.session_id,
        carted.product_id,
        min(purchased.first_purchase_at) as converted_at
    from carted
    inner join purchased
        on carted.user_id = purchased.user_id
        and carted.product_id = purchased.product_id
        and carted.session_id <> purchased.session_id
        and carted.first_cart_at <= purchased.first_purchase_at
        and {{ dbt.dateadd('day', var('conversion_window_days', 7), 'carted.first_cart_at') }}
        >= purchased.first_purchase_at
    where not carted.purchased_in_session
    group by carted.session_id, carted.product_id
)

select
    carted.session_id,
    carted.session_key,
    carted.product_id,
    carted.user_id,
    carted.first_cart_at,
    cast(carted.first_cart_at as date) as cart_date,
    carted.purchased_in_session,
    later_purchase.converted_at as later_purchase_at,
    {{ dbt.datediff('carted.first_cart_at', 'later_purchase.converted_at', 'second') }} as later_purchase_delay_seconds,
    case
        when carted.purchased_in_session then 'in_session'
        when later_purchase.converted_at is not null then 'later_session'
        else 'abandoned'
    end as outcome,
    {{ dbt.dateadd('day', var('conversion_window_days', 7), 'carted.first_cart_at') }}
    > data_end.last_event_at as window_censored
from carted
cross join data_end
left join later_purchase
    on carted.session_id = later_purchase.session_id
    and carted.product_id = later_purchase.product_id
