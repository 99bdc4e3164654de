{#-
    Carrying D's snapshot forward. Between two as-of dates S < D (k days apart), a user's features
    change in only three ways when the user has no event that enters or leaves one of the windows
    (an event after S, or on a day that leaves a window or a previous window as the date moves, or
    one loaded since S's rows were written): days-ago values grow by k ('shift'), the
    price indexes follow the categories' reference prices, which every user's views move
    ('recompute'), and the rest stay as they are ('copy'); the derived features are recomputed from
    those. So a new day copies most users' rows from the stored S and computes the others from
    history: at a month of data about a quarter of the users. A full refresh computes every user;
    tests/test_incremental.py checks that both agree.
-#}

{% macro feature_carry_mode(f) -%}
    {#- 'recompute' for a feature over the categories' reference prices; else the catalogue's
        carry; else 'copy' when the SQL reads days_ago only in window bounds or counts it. Any
        other use of days_ago must declare its carry (a compile error says so). -#}
    {%- set re = modules.re -%}
    {%- if 'category_view_price' in f.sql %}{{ return('recompute') }}{% endif -%}
    {%- if f.carry %}{{ return(f.carry) }}{% endif -%}
    {%- set rest = re.sub('days_ago\\s*(<|>=)\\s*[0-9]+', '', f.sql) -%}
    {%- set rest = re.sub('count\\((case when [^()]* then )?days_ago( end)?\\)', '', rest) -%}
    {%- if 'days_ago' in rest -%}
        {{ exceptions.raise_compiler_error("feature " ~ f.name ~ " reads days_ago as a value: give it carry='shift' or carry='copy' in feature_definitions()") }}
    {%- endif -%}
    {{ return('copy') }}
{%- endmacro %}


{% macro feature_carry_plan(dates) -%}
    {#- none, or {date: D, source: S, days: k}: D (var feature_carry_forward, default true) is among
        `dates` to write and S is the latest stored as-of date before D that an earlier run wrote
        and this run does not rebuild. -#}
    {%- if not execute or not is_incremental() or not value_var('feature_carry_forward', true) -%}{{ return(none) }}{%- endif -%}
    {%- set d = feature_prediction_date() -%}
    {%- if d is none or d.strftime('%Y-%m-%d') not in dates -%}{{ return(none) }}{%- endif -%}
    {%- set earlier = feature_stored_snapshot_dates(older_than_this_run=true) | reject('in', dates) | select('lt', d.strftime('%Y-%m-%d')) | list -%}
    {%- if not earlier -%}{{ return(none) }}{%- endif -%}
    {%- set source = earlier | max -%}
    {{ return({'date': d.strftime('%Y-%m-%d'), 'source': source, 'days': (d - modules.datetime.date.fromisoformat(source)).days}) }}
{%- endmacro %}


{% macro feature_carry_dirty_users(plan) -%}
    {#- The users whose row at D cannot be carried from S: an event loaded since S's rows were
        written, an event in (S, D], or an event on a day that leaves a window (or enters or leaves
        a previous window) as the as-of date moves from S to D. -#}
    {%- set source = modules.datetime.date.fromisoformat(plan.source) -%}
    {%- set d = modules.datetime.date.fromisoformat(plan.date) -%}
    {%- set ranges = [(source, d)] -%}
    {%- for w in feature_windows() if w.days is not none -%}
        {%- for length in [w.days, 2 * w.days] -%}
            {%- set shifted = (source - modules.datetime.timedelta(days=length), d - modules.datetime.timedelta(days=length)) -%}
            {%- if shifted not in ranges %}{% do ranges.append(shifted) %}{% endif -%}
        {%- endfor -%}
    {%- endfor -%}
    select distinct user_id
    from {{ ref('int_user_days') }}
    where loaded_at > (select max(loaded_at) from {{ this }} where as_of_date = cast('{{ plan.source }}' as date))
        {%- for after, through in ranges %}
        or (event_date > cast('{{ after }}' as date) and event_date <= cast('{{ through }}' as date))
        {%- endfor %}
{%- endmacro %}


{% macro feature_carry_rows(plan) -%}
    {#- D's rows of the users outside feature_carry_dirty_users, from their rows at S. -#}
    {%- set features = [] -%}
    {%- for f in feature_aggregated() -%}
        {%- do features.append(dict(f, carry=feature_carry_mode(f))) -%}
    {%- endfor -%}
    {%- set recompute = features | selectattr('carry', 'equalto', 'recompute') | list -%}
    {%- for f in recompute if f.source != 'category_touches' -%}
        {{ exceptions.raise_compiler_error("feature_carry_rows: recomputes only category_touches features, not " ~ f.name) }}
    {%- endfor -%}
    {%- set keys_cte, joins = feature_per_key_sources()['category_touches'] -%}
    {%- set category = feature_key_tables() | selectattr('0', 'equalto', 'category') | first -%}
with carried as (
    select source_rows.*
    from {{ this }} as source_rows
    left join ({{ feature_carry_dirty_users(plan) }}) as dirty
        on source_rows.user_id = dirty.user_id
    where source_rows.as_of_date = cast('{{ plan.source }}' as date)
        and dirty.user_id is null
),

category_prices as (
    {{ feature_category_prices([plan.date]) }}
),

category_keys as (
    {{ feature_key_rows('category', category[1], category[2], [plan.date], 'user_id in (select user_id from carried)') }}
),

recomputed as (
    {{ feature_per_key_by_user(recompute, [plan.date], keys_cte, joins) }}
),

base_features as (
    select
        cast('{{ plan.date }}' as date) as as_of_date,
        carried.user_id,
        {%- for f in features %}
        {%- if f.carry == 'shift' %}
        cast(carried.{{ f.name }} + {{ plan.days }} as {{ f.data_type }}) as {{ f.name }}
        {%- elif f.carry == 'recompute' %}
        {%- set col = 'recomputed.' ~ f.name ~ '_1' %}
        cast({{ 'coalesce(' ~ col ~ ', ' ~ f.fill ~ ')' if f.fill is not none else col }} as {{ f.data_type }}) as {{ f.name }}
        {%- else %}
        carried.{{ f.name }}
        {%- endif %}{{ ',' if not loop.last }}
        {%- endfor %}
    from carried
    left join recomputed on carried.user_id = recomputed.user_id
)

{{ feature_derived_select('base_features') }}
{%- endmacro %}
