{#-
    What follows each funnel stage. Two kinds of path, each counted per stage with its share of
    the stage, a rank and the top N (var funnel_paths_top_n) flagged:

    next_event (stages view, cart, remove_from_cart, purchase): for every event, the session's
    next event (int_session_event_steps): its type and whether it is on the same product, another
    product of the same category_id, or another category (a missing category_id counts as
    another); 'session_exit' when it was the session's last event.

    after_drop_off (stages view, cart): for every item (session and product) that stopped at the
    stage in its session, what the user did in the sessions that started later:
      view: viewed, neither carted nor bought in the session;
      cart: carted, not bought in the session at or after the first cart (int_funnel_cart_outcomes);
    outcome: a later session bought the product ('later_purchase_same_product'), else carted it
    ('later_cart_same_product'), else the user came back ('returned_other_activity'), else
    'never_returned' (no later session in the data).
-#}
{%- set top_n = value_var('funnel_paths_top_n', 10) | int %}

with steps as (
    select * from {{ ref('int_session_event_steps') }}
),

sessions as (
    select
        user_id,
        session_key,
        session_start
    from {{ ref('int_sessions') }}
),

session_products as (
    select
        user_id,
        session_key,
        product_id,
        carts,
        purchases
    from {{ ref('int_session_products') }}
),

next_events as (
    select
        stage,
        next_event_type,
        product_relation,
        count(*) as occurrences
    from (
        select
            event_type as stage,
            next_event_type,
            case
                when next_event_type is null then null
                when next_product_id = product_id then 'same_product'
                when next_category_id = category_id then 'same_category'
                else 'other_category'
            end as product_relation
        from steps
    ) as classified
    group by stage, next_event_type, product_relation
),

viewed_items as (
    select
        user_id,
        session_key,
        product_id
    from steps
    where event_type = 'view'
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

drop_off_outcomes as (
    select
        stage,
        outcome,
        count(*) as occurrences
    from (
        select
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
    ) as classified
    group by stage, outcome
),

paths as (
    select
        'next_event' as path_kind,
        stage,
        coalesce({{ dbt.concat(['next_event_type', "':'", 'product_relation']) }}, 'session_exit') as path,
        next_event_type,
        product_relation,
        occurrences
    from next_events
    union all
    select
        'after_drop_off' as path_kind,
        stage,
        outcome as path,
        cast(null as {{ dbt.type_string() }}) as next_event_type,
        cast(null as {{ dbt.type_string() }}) as product_relation,
        occurrences
    from drop_off_outcomes
),

ranked as (
    select
        *,
        sum(occurrences) over (partition by path_kind, stage) as stage_total,
        row_number() over (partition by path_kind, stage order by occurrences desc, path asc) as path_rank
    from paths
)

select
    cast(path_kind as {{ dbt.type_string() }}) as path_kind,
    cast(stage as {{ dbt.type_string() }}) as stage,
    cast(case stage{% for t in event_types() %} when '{{ t }}' then {{ loop.index }}{% endfor %} end as integer) as stage_order,
    cast(path as {{ dbt.type_string() }}) as path,
    cast(next_event_type as {{ dbt.type_string() }}) as next_event_type,
    cast(product_relation as {{ dbt.type_string() }}) as product_relation,
    cast(occurrences as {{ dbt.type_bigint() }}) as occurrences,
    cast(stage_total as {{ dbt.type_bigint() }}) as stage_total,
    {{ funnel_ratio('occurrences', 'stage_total') }} as share,
    cast(path_rank as {{ dbt.type_bigint() }}) as path_rank,
    path_rank <= {{ top_n }} as is_top_n
from ranked
