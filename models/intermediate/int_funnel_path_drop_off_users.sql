{#-
    funnel_paths' after_drop_off counts per user: one row per user, stage (view, cart) and outcome,
    counting the user's items (session and product) that stopped at the stage in their session by
    what the user did in the sessions that started later (the rules are in funnel_paths and its
    YAML). funnel_paths sums the users.
    Incremental by user (macros/mart_states.sql): a new session changes the outcomes of the user's
    earlier drop-offs (later purchase / came back / never returned), so every user with a session,
    item or event step loaded since this model's last run is recomputed from all its sessions; the
    other users keep their counts.
-#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    incremental_strategy='delete+insert',
    unique_key='user_id',
    pre_hook="{{ delete_state_users(funnel_path_drop_off_users()) }}"
) }}
{%- set users = funnel_path_drop_off_users() %}

with sessions as (
    select
        user_id,
        session_key,
        session_start
    from {{ ref('int_sessions') }}
    where {{ state_user_filter('user_id', users) }}
),

session_products as (
    select
        user_id,
        session_key,
        product_id,
        carts,
        purchases
    from {{ ref('int_session_products') }}
    where {{ state_user_filter('user_id', users) }}
),

viewed_items as (
    select
        user_id,
        session_key,
        product_id
    from {{ ref('int_session_event_steps') }}
    where event_type = 'view'
        and {{ state_user_filter('user_id', users) }}
    group by user_id, session_key, product_id
),

dropped_items as (
    select
        'view' as stage,
        viewed_items.user_id,
        viewed_items.session_key,
        viewed_items.product_id
    from viewed_items
    left join session_products
        on viewed_items.user_id = session_products.user_id
        and viewed_items.session_key = session_products.session_key
        and viewed_items.product_id = session_products.product_id
    where coalesce(session_products.carts, 0) = 0
        and coalesce(session_products.purchases, 0) = 0
    union all
    select
        'cart' as stage,
        user_id,
        session_key,
        product_id
    from {{ ref('int_funnel_cart_outcomes') }}
    where not purchased_in_session
        and {{ state_user_filter('user_id', users) }}
),

dropped as (
    select
        dropped_items.stage,
        dropped_items.user_id,
        dropped_items.session_key,
        dropped_items.product_id,
        sessions.session_start
    from dropped_items
    inner join sessions
        on dropped_items.user_id = sessions.user_id
        and dropped_items.session_key = sessions.session_key
),

-- The carted or bought items with their session's start, to look for later ones.
product_sessions as (
    select
        session_products.user_id,
        session_products.product_id,
        sessions.session_start,
        session_products.carts,
        session_products.purchases
    from session_products
    inner join sessions
        on session_products.user_id = sessions.user_id
        and session_products.session_key = sessions.session_key
),

later_product as (
    select
        dropped.stage,
        dropped.user_id,
        dropped.session_key,
        dropped.product_id,
        max(case when product_sessions.purchases > 0 then 1 else 0 end) as bought_later,
        max(case when product_sessions.carts > 0 then 1 else 0 end) as carted_later
    from dropped
    inner join product_sessions
        on dropped.user_id = product_sessions.user_id
        and dropped.product_id = product_sessions.product_id
        and dropped.session_start < product_sessions.session_start
    group by dropped.stage, dropped.user_id, dropped.session_key, dropped.product_id
),

user_last_session as (
    select
        user_id,
        max(session_start) as last_session_start
    from sessions
    group by user_id
),

classified as (
    select
        dropped.user_id,
        dropped.stage,
        case
            when later_product.bought_later = 1 then 'later_purchase_same_product'
            when later_product.carted_later = 1 then 'later_cart_same_product'
            when user_last_session.last_session_start > dropped.session_start then 'returned_other_activity'
            else 'never_returned'
        end as outcome
    from dropped
    inner join user_last_session
        on dropped.user_id = user_last_session.user_id
    left join later_product
        on dropped.stage = later_product.stage
        and dropped.user_id = later_product.user_id
        and dropped.session_key = later_product.session_key
        and dropped.product_id = later_product.product_id
)

select
    user_id,
    cast(stage as {{ dbt.type_string() }}) as stage,
    cast(outcome as {{ dbt.type_string() }}) as outcome,
    cast(count(*) as {{ dbt.type_bigint() }}) as occurrences,
    {{ loaded_at() }} as loaded_at
from classified
group by user_id, stage, outcome
