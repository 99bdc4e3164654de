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

    The counts are stored partial aggregates, so a new day costs the dates and users it touches:
    next_event per event date (int_funnel_path_step_days), after_drop_off per user
    (int_funnel_path_drop_off_users; a user's later sessions change the outcomes of earlier
    drop-offs). Both are sums of entity counts over disjoint keys, so the totals are exact.
-#}
{%- set top_n = value_var('funnel_paths_top_n', 10) | int %}

with next_events as (
    select
        stage,
        next_event_type,
        product_relation,
        sum(occurrences) as occurrences
    from {{ ref('int_funnel_path_step_days') }}
    group by stage, next_event_type, product_relation
),

drop_off_outcomes as (
    select
        stage,
        outcome,
        sum(occurrences) as occurrences
    from {{ ref('int_funnel_path_drop_off_users') }}
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
