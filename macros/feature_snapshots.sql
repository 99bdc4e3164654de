{#-
    The SQL of int_customer_feature_snapshots, one user partition at a time.

    The families' results are joined on (as_of_date, user_id); for every user at once, their hash
    tables do not fit 8 GB at a 42 M-event month (and a UNION ALL of partitions does not help:
    DuckDB runs the branches side by side). So users are split into feature_user_partitions()
    groups (user_id modulo the count): the model's own statement computes group 0 and a post-hook
    inserts the others, one statement each, so memory is bounded by one group. Smaller hash
    tables are faster too.
-#}

{% macro feature_snapshot_partition(part, dates) -%}
{#- dates: the as-of dates to compute ('YYYY-MM-DD', sorted). -#}

{%- set families = feature_definitions() -%}
{#- Every aggregated feature with the CTE it aggregates, in catalogue order; the sources in order of first use. -#}
{%- set features = [] -%}
{%- set sources = [] -%}
{%- for family, default_source in feature_families() if default_source -%}
    {%- for f in families[family] -%}
        {%- set source = f.source or default_source -%}
        {%- do features.append({'name': f.name, 'sql': f.sql, 'data_type': f.data_type, 'fill': f.fill, 'source': source}) -%}
        {%- if source not in sources %}{% do sources.append(source) %}{% endif -%}
    {%- endfor -%}
{%- endfor -%}
{#- Per-key tables: (family, key column, sums per snapshot date as (column, expression)). -#}
{%- set partitions = feature_user_partitions(dates | length) -%}
{#- Sources with one row per (user, key): (keys CTE, join) aggregated per user per snapshot. -#}
{%- set per_key_sources = {
    'product_touches': ('product_keys', ''),
    'category_touches': ('category_keys', 'inner join category_prices on keys.category_id = category_prices.category_id'),
    'brand_touches': ('brand_keys', ''),
    'user_categories': ('top_category_keys', ''),
} -%}
{%- set key_tables = [
    ('product', 'product_id', []),
    ('category', 'category_id', [('views', 'views'), ('viewed_value', 'views * price'),
                                 ('purchases', 'purchases'), ('purchased_value', 'purchases * price')]),
    ('brand', 'brand', []),
] -%}

with snapshots as (
    {{ feature_snapshots_sql(dates) }}
),

category_prices as (
    -- Reference price level of a category per snapshot date n: mean price per view event, all users.
    select
        category_id
        {%- for d in dates %},
        sum(case when event_date <= cast('{{ d }}' as date) then views * price end)
        / nullif(sum(case when event_date <= cast('{{ d }}' as date) then views end), 0) as category_view_price_{{ loop.index }}
        {%- endfor %}
    from {{ ref('int_value_user_day_items') }}
    where category_id is not null
    group by category_id
)

{%- set in_part = 'true' if partitions == 1 else 'user_id % ' ~ partitions ~ ' = ' ~ part %}
select *
from (
    with user_days as (
        select
            snapshots.as_of_date,
            d.user_id,
            {{ dbt.datediff('d.event_date', 'snapshots.as_of_date', 'day') }} as days_ago,
            -- Counts as double: their window sums then keep 8-byte sums instead of 16-byte integer
            -- ones (a smaller, faster aggregation); exact below 2^53, cast back to bigint as features.
            cast(d.events as double) as events,
            {%- for t in event_types() %}
            cast(d.{{ event_type_plural(t) }} as double) as {{ event_type_plural(t) }},
            {%- endfor %}
            d.revenue,
            d.viewed_value,
            d.max_purchased_price
        from {{ ref('int_user_days') }} as d
        inner join snapshots on d.event_date <= snapshots.as_of_date
        where {{ in_part | replace('user_id', 'd.user_id') }}
    ),

    snapshot_sessions as (
        -- Each session as it stood at the end of the as-of date: its last session-day on or before it.
        select
            snapshots.as_of_date,
            s.user_id,
            {{ dbt.datediff('cast(s.session_start as date)', 'snapshots.as_of_date', 'day') }} as days_ago,
            {{ dbt.datediff('s.session_start', 's.last_event_at', 'second') }} as duration_seconds,
            s.events,
            s.carts,
            s.purchases,
            s.revenue
        from {{ ref('int_value_session_days') }} as s
        inner join snapshots
            on s.event_date <= snapshots.as_of_date
            and (s.next_event_date is null or s.next_event_date > snapshots.as_of_date)
        where {{ in_part | replace('user_id', 's.user_id') }}
    ),

    {% for family, key, sums in key_tables %}
    {{ family }}_keys as (
        -- One row per {{ family }} the user touched; per snapshot date n, its last touch on or before it
        -- (null when none){{ ' and the sums of its items on or before it' if sums }}.
        select
            user_id,
            {{ key }}
            {%- for d in dates %}
            {%- set n = loop.index %},
            max(case when event_date <= cast('{{ d }}' as date) then event_date end) as last_touch_{{ n }}
            {%- for column, expr in sums %},
            sum(case when event_date <= cast('{{ d }}' as date) then {{ expr }} end) as {{ column }}_{{ n }}
            {%- endfor %}
            {%- endfor %}
        from {{ ref('int_value_user_day_items') }}
        where {{ key }} is not null
            and {{ in_part }}
        group by user_id, {{ key }}
    ),

    {% endfor %}
    top_category_keys as (
        -- Events and revenue per top-level category the user touched, per snapshot date n (null when none).
        select
            user_id,
            top_category
            {%- for d in dates %},
            sum(case when event_date <= cast('{{ d }}' as date) then events end) as events_{{ loop.index }},
            sum(case when event_date <= cast('{{ d }}' as date) then purchases * price end) as revenue_{{ loop.index }}
            {%- endfor %}
        from {{ ref('int_value_user_day_items') }}
        where top_category is not null
            and {{ in_part }}
        group by user_id, top_category
    ),

    snapshot_purchases as (
        select
            snapshots.as_of_date,
            p.user_id,
            p.purchase_date,
            p.gap_days
        from {{ ref('int_value_purchase_days') }} as p
        inner join snapshots on p.purchase_date <= snapshots.as_of_date
        where {{ in_part | replace('user_id', 'p.user_id') }}
    ),

{% for source in sources %}
{%- if source in per_key_sources %}
{%- set keys_cte, joins = per_key_sources[source] %}
{{ source }}_by_user as (
    -- The per-key rows aggregated per user, once for every snapshot date n (feature_per_snapshot):
    -- spreading them over the dates first would multiply the largest input by the date count.
    select
        keys.user_id
        {%- for d in dates %}
        {%- set n = loop.index %}
        {%- for f in features if f.source == source %},
        {{ feature_per_snapshot(f.sql, n, d) }} as {{ f.name }}_{{ n }}
        {%- endfor %}
        {%- endfor %}
    from {{ keys_cte }} as keys
    {{ joins }}
    group by keys.user_id
),

{{ source }}_features as (
    select
        snapshots.as_of_date,
        by_user.user_id,
        {%- for f in features if f.source == source %}
        {{ feature_pick(dates, 'by_user.' ~ f.name) }} as {{ f.name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ source }}_by_user as by_user
    cross join snapshots
),
{%- else %}
{{ source }}_features as (
    select
        as_of_date,
        user_id,
        {%- for f in features if f.source == source %}
        {{ f.sql }} as {{ f.name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ source }}
    group by as_of_date, user_id
),
{%- endif %}

{% endfor %}
base_features as (
    -- The population: users with at least one event on or before the as-of date.
    select
        {{ sources[0] }}_features.as_of_date,
        {{ sources[0] }}_features.user_id,
        {%- for f in features %}
        {%- set col = f.source ~ '_features.' ~ f.name %}
        cast({{ 'coalesce(' ~ col ~ ', ' ~ f.fill ~ ')' if f.fill is not none else col }} as {{ f.data_type }}) as {{ f.name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ sources[0] }}_features
    {%- for source in sources[1:] %}
    left join {{ source }}_features
        on {{ sources[0] }}_features.as_of_date = {{ source }}_features.as_of_date
        and {{ sources[0] }}_features.user_id = {{ source }}_features.user_id
    {%- endfor %}
)

select
    *,
    {%- for f in families['derived'] %}
    cast({{ f.sql }} as {{ f.data_type }}) as {{ f.name }},
    {%- endfor %}
    {{ loaded_at() }} as loaded_at
from base_features
) as partition_rows
{%- endmacro %}


{% macro feature_snapshot_other_partitions() -%}
    {#- Post-hook of int_customer_feature_snapshots: insert every user group after the first. -#}
    {%- set dates = feature_snapshot_dates_built_this_run() -%}
    {%- set partitions = feature_user_partitions(dates | length) -%}
    {%- for part in range(1, partitions) %}
    insert into {{ this }} by name
    {{ feature_snapshot_partition(part, dates) }};
    {%- endfor %}
{%- endmacro %}


{% macro feature_per_snapshot(sql, n, as_of) -%}
    {#- A per-key feature aggregate (written over the columns of one row per key touched on or
        before the as-of date: days_ago of the last touch, sums up to the as-of date) rewritten
        over a keys CTE row with one column per snapshot date: days_ago becomes the days from
        last_touch_n to the as-of date (null when the key was not touched by then, so the row
        drops out of every count), and each summed column becomes its _n column. -#}
    {%- set re = modules.re -%}
    {#- A namespace: a plain set inside the loop would not outlive the loop. -#}
    {%- set rewritten = namespace(sql=re.sub('\\bdays_ago\\b', '(' ~ dbt.datediff('keys.last_touch_' ~ n, "cast('" ~ as_of ~ "' as date)", 'day') ~ ')', sql)) -%}
    {%- for column in ['views', 'viewed_value', 'purchases', 'purchased_value', 'events', 'revenue'] -%}
        {%- set rewritten.sql = re.sub('\\b' ~ column ~ '\\b', 'keys.' ~ column ~ '_' ~ n, rewritten.sql) -%}
    {%- endfor -%}
    {%- set rewritten.sql = re.sub('\\bcategory_view_price\\b', 'category_prices.category_view_price_' ~ n, rewritten.sql) -%}
    {{ return(rewritten.sql) }}
{%- endmacro %}
