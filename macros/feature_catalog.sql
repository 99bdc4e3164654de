{#-
    The customer feature catalogue: every feature of int_customer_feature_snapshots and
    marts.customer_features is defined ONCE here, with its SQL, type, fill value and description.
    The model generates its SQL from this catalogue, and scripts/generate_feature_docs.py
    generates the models' YAML (column docs and contract types) from it, so the two cannot drift.

    Families (the order of the columns) and the CTE of int_customer_feature_snapshots each feature
    aggregates per (as_of_date, user_id) (its source: the family's, unless the feature names one):
      activity       user_days           int_user_days rows on or before the as-of date, with the
                                         day's viewed value (sum of views x price) and highest
                                         purchased price from int_value_user_day_items
      sessions       snapshot_sessions   sessions truncated at the end of the as-of date
      products, categories, brands
                     product_touches, category_touches, brand_touches: one row per key the user
                                         touched, days_ago of its last touch on or before the
                                         as-of date (null when not touched by then: count
                                         days_ago, never rows); category_touches also holds the
                                         user's views and purchases of the category (and their
                                         values) up to the as-of date, and the category's mean
                                         view price (all users)
      items          user_days (mean and highest prices), category_touches (price indexes)
      category_mix   user_categories     one row per top-level category the user touched, with its
                                         events and revenue up to the as-of date (null when none)
      purchase_gaps  snapshot_purchases  purchase days on or before the as-of date, with the gap before each
      derived        (none)              ratios and trends computed from the features above
    In every dated source, days_ago = days from the row's date to the as-of date (0 = the as-of date).
    The per-key sources are computed per user with one column per as-of date
    (feature_per_snapshot in macros/feature_snapshots.sql rewrites their features for that).
-#}

{% macro feature_families() -%}
    {#- (family, CTE of int_customer_feature_snapshots its features aggregate unless they name
        another); derived has none. -#}
    {{ return([
        ('activity', 'user_days'),
        ('sessions', 'snapshot_sessions'),
        ('products', 'product_touches'),
        ('categories', 'category_touches'),
        ('brands', 'brand_touches'),
        ('items', 'category_touches'),
        ('category_mix', 'user_categories'),
        ('purchase_gaps', 'snapshot_purchases'),
        ('derived', none),
    ]) }}
{%- endmacro %}


{% macro feature_windows() -%}
    {#- var feature_windows_days (default [7, 14, 28, 56]) plus all history. -#}
    {% set windows = [] %}
    {% for d in value_var('feature_windows_days', [7, 14, 28, 56]) %}
        {% do windows.append({'suffix': (d | int) ~ 'd', 'days': d | int,
                              'label': 'in the ' ~ (d | int) ~ ' days up to and including the as-of date'}) %}
    {% endfor %}
    {% do windows.append({'suffix': 'all', 'days': none, 'label': 'over all history up to and including the as-of date'}) %}
    {{ return(windows) }}
{%- endmacro %}


{% macro feature_when(window, expr, condition=none) -%}
    {#- expr when the row is in the window (and condition holds), else null. -#}
    {%- set parts = [] -%}
    {%- if window.days is not none %}{% do parts.append('days_ago < ' ~ window.days) %}{% endif -%}
    {%- if condition %}{% do parts.append(condition) %}{% endif -%}
    {%- if parts %}case when {{ parts | join(' and ') }} then {{ expr }} end{% else %}{{ expr }}{% endif -%}
{%- endmacro %}


{% macro feature_def(name, sql, data_type, description, fill=none, nested=none, source=none) -%}
    {#- source: the CTE the sql aggregates, when not the family's. -#}
    {{ return({'name': name, 'sql': sql, 'data_type': data_type, 'description': description, 'fill': fill, 'nested': nested, 'source': source}) }}
{%- endmacro %}


{% macro feature_definitions() -%}
    {% set windows = feature_windows() %}
    {% set top_n = value_var('value_top_categories', 3) | int %}
    {% set fam = {} %}
    {% for family, source in feature_families() %}{% do fam.update({family: []}) %}{% endfor %}

    {#- activity: int_user_days -#}
    {% for w in windows %}
        {% do fam['activity'].append(feature_def('events_' ~ w.suffix, 'sum(' ~ feature_when(w, 'events') ~ ')', 'bigint',
            'Events of any type ' ~ w.label ~ '.', 0, 'events')) %}
        {% for t in event_types() %}
            {% set col = event_type_plural(t) %}
            {% do fam['activity'].append(feature_def(col ~ '_' ~ w.suffix, 'sum(' ~ feature_when(w, col) ~ ')', 'bigint',
                'Events of type ' ~ t ~ ' ' ~ w.label ~ '.', 0, col)) %}
        {% endfor %}
        {% do fam['activity'].append(feature_def('active_days_' ~ w.suffix, 'count(' ~ feature_when(w, '1') ~ ')', 'bigint',
            'Days with at least one event ' ~ w.label ~ '.', 0, 'active_days')) %}
        {% do fam['activity'].append(feature_def('revenue_' ~ w.suffix, 'sum(' ~ feature_when(w, 'revenue') ~ ')', 'double',
            'Revenue (sum of price over purchase events) ' ~ w.label ~ '.', 0, 'revenue')) %}
    {% endfor %}
    {% for w in windows if w.days is not none %}
        {% set prev = 'days_ago >= ' ~ w.days ~ ' and days_ago < ' ~ (2 * w.days) %}
        {% set prev_label = 'in the ' ~ w.days ~ ' days before the last ' ~ w.days ~ ' days (days ' ~ w.days ~ ' to ' ~ (2 * w.days - 1) ~ ' before the as-of date)' %}
        {% do fam['activity'].append(feature_def('events_prev_' ~ w.suffix, 'sum(case when ' ~ prev ~ ' then events end)', 'bigint',
            'Events ' ~ prev_label ~ '.', 0)) %}
        {% do fam['activity'].append(feature_def('active_days_prev_' ~ w.suffix, 'count(case when ' ~ prev ~ ' then 1 end)', 'bigint',
            'Active days ' ~ prev_label ~ '.', 0)) %}
        {% do fam['activity'].append(feature_def('revenue_prev_' ~ w.suffix, 'sum(case when ' ~ prev ~ ' then revenue end)', 'double',
            'Revenue ' ~ prev_label ~ '.', 0)) %}
    {% endfor %}
    {% do fam['activity'].append(feature_def('days_since_first_event', 'max(days_ago)', 'bigint',
        'Days from the first event date to the as-of date (0 = first seen on the as-of date).')) %}
    {% do fam['activity'].append(feature_def('days_since_last_event', 'min(days_ago)', 'bigint',
        'Days from the last event date to the as-of date (recency; 0 = active on the as-of date).')) %}
    {% do fam['activity'].append(feature_def('days_since_last_cart', 'min(case when carts > 0 then days_ago end)', 'bigint',
        'Days from the last cart event to the as-of date; null when the user never carted.')) %}
    {% do fam['activity'].append(feature_def('days_since_first_purchase', 'max(case when purchases > 0 then days_ago end)', 'bigint',
        'Days from the first purchase to the as-of date; null when the user never purchased.')) %}
    {% do fam['activity'].append(feature_def('days_since_last_purchase', 'min(case when purchases > 0 then days_ago end)', 'bigint',
        'Days from the last purchase to the as-of date (purchase recency); null when the user never purchased.')) %}
    {% do fam['activity'].append(feature_def('tenure_days', 'max(days_ago) + 1', 'bigint',
        'Calendar days from the first event date through the as-of date, both included.')) %}
    {% do fam['activity'].append(feature_def('active_span_days', 'max(days_ago) - min(days_ago)', 'bigint',
        'Days between the first and the last event date.')) %}

    {#- sessions: sessions truncated at the as-of date, placed in windows by their start date -#}
    {% for w in windows %}
        {% set in_w = 'started ' ~ w.label %}
        {% do fam['sessions'].append(feature_def('sessions_' ~ w.suffix, 'count(' ~ feature_when(w, '1') ~ ')', 'bigint',
            'Sessions ' ~ in_w ~ '.', 0, 'sessions')) %}
        {% do fam['sessions'].append(feature_def('purchasing_sessions_' ~ w.suffix, 'count(' ~ feature_when(w, '1', 'purchases > 0') ~ ')', 'bigint',
            'Sessions with a purchase (orders) ' ~ in_w ~ '.', 0, 'purchasing_sessions')) %}
        {% do fam['sessions'].append(feature_def('cart_sessions_' ~ w.suffix, 'count(' ~ feature_when(w, '1', 'carts > 0') ~ ')', 'bigint',
            'Sessions with a cart event ' ~ in_w ~ '.', 0, 'cart_sessions')) %}
        {% for metric, expr, condition, what in [
                ('session_duration', 'duration_seconds', none, 'session length in seconds (first to last event) over sessions'),
                ('events_per_session', 'events', none, 'events per session over sessions'),
                ('revenue_per_order', 'revenue', 'purchases > 0', 'revenue per order over purchasing sessions')] %}
            {% for stat, fn, stat_label in [('mean', 'avg', 'Mean'), ('max', 'max', 'Maximum'), ('std', 'stddev_samp', 'Sample standard deviation of')] %}
                {% do fam['sessions'].append(feature_def(metric ~ '_' ~ stat ~ '_' ~ w.suffix,
                    fn ~ '(' ~ feature_when(w, expr, condition) ~ ')', 'double',
                    stat_label ~ ' ' ~ what ~ ' ' ~ in_w ~ '; null without such a session'
                    ~ (' (or with only one, for the standard deviation)' if stat == 'std' else '') ~ '.',
                    none, (metric ~ '_max') if stat == 'max' else none)) %}
            {% endfor %}
        {% endfor %}
    {% endfor %}

    {#- products, categories, brands: one row per (as_of_date, user_id, key), days_ago = of its last touch -#}
    {% for family, what in [('products', 'products'), ('categories', 'categories (category_id)'), ('brands', 'brands')] %}
        {% for w in windows %}
            {% do fam[family].append(feature_def('distinct_' ~ family ~ '_' ~ w.suffix, 'count(' ~ feature_when(w, 'days_ago') ~ ')', 'bigint',
                'Distinct ' ~ what ~ ' touched by any event ' ~ w.label ~ '.', 0, 'distinct_' ~ family)) %}
        {% endfor %}
    {% endfor %}

    {#- items: prices of the items the user viewed and bought -#}
    {% for w in windows %}
        {% do fam['items'].append(feature_def('mean_viewed_price_' ~ w.suffix,
            'sum(' ~ feature_when(w, 'viewed_value') ~ ') / nullif(sum(' ~ feature_when(w, 'views') ~ '), 0)', 'double',
            'Mean price of viewed items (per view event) ' ~ w.label ~ '; null without a view.', source='user_days')) %}
    {% endfor %}
    {% do fam['items'].append(feature_def('viewed_price_index_all',
        'sum(case when category_view_price > 0 then viewed_value / category_view_price end) / nullif(sum(case when category_view_price > 0 then views end), 0)', 'double',
        "Price level of viewed items: mean over view events of price / the category's mean view price (all users, all history up to the as-of date). 1 = typical, below 1 = cheaper than the category.")) %}
    {% do fam['items'].append(feature_def('purchased_price_index_all',
        'sum(case when category_view_price > 0 then purchased_value / category_view_price end) / nullif(sum(case when category_view_price > 0 then purchases end), 0)', 'double',
        "Price level of bought items: mean over purchase events of price / the category's mean view price up to the as-of date; null without a purchase.")) %}
    {% do fam['items'].append(feature_def('max_purchased_price_all', 'max(max_purchased_price)', 'double',
        'Highest price paid for one item over all history up to the as-of date; null without a purchase.', source='user_days')) %}

    {#- category_mix: the user's top-level categories (category_code's first segment), ranked by events / revenue
        (the largest values: ties between categories do not change the shares) -#}
    {% do fam['category_mix'].append(feature_def('top_category_event_share_all',
        'max(events) / nullif(sum(events), 0)', 'double',
        "Share of the user's events (with a known top-level category) in their most active top-level category, all history up to the as-of date.")) %}
    {% do fam['category_mix'].append(feature_def('top_categories_event_share_all',
        value_top_n_sum('events', top_n) ~ ' / nullif(sum(events), 0)', 'double',
        "Share of the user's events (with a known top-level category) in their " ~ top_n ~ ' most active top-level categories (var value_top_categories), all history.')) %}
    {% do fam['category_mix'].append(feature_def('distinct_top_categories_all', 'count(events)', 'bigint',
        'Distinct top-level categories touched, all history up to the as-of date.', 0)) %}
    {% do fam['category_mix'].append(feature_def('top_category_revenue_share_all',
        'max(revenue) / nullif(sum(revenue), 0)', 'double',
        "Share of the user's revenue (with a known top-level category) from their highest-revenue top-level category; null without such revenue.")) %}

    {#- purchase_gaps: days between consecutive purchase days -#}
    {% do fam['purchase_gaps'].append(feature_def('purchase_days_all', 'count(*)', 'bigint',
        'Days with at least one purchase, all history up to the as-of date.', 0)) %}
    {% for stat, fn, stat_label in [('mean', 'avg(gap_days)', 'Mean'), ('median', value_median('gap_days'), 'Median'),
                                    ('std', 'stddev_samp(gap_days)', 'Sample standard deviation of the'),
                                    ('min', 'min(gap_days)', 'Shortest'), ('max', 'max(gap_days)', 'Longest'),
                                    ('last', value_arg_max('gap_days', 'purchase_date'), 'Most recent')] %}
        {% do fam['purchase_gaps'].append(feature_def('purchase_gap_' ~ stat ~ '_days', fn, 'double',
            stat_label ~ ' gap in days between consecutive purchase days up to the as-of date; null with fewer than '
            ~ ('three' if stat == 'std' else 'two') ~ ' purchase days.')) %}
    {% endfor %}

    {#- derived: ratios and trends of the features above (already filled) -#}
    {% for w in windows %}
        {% set s = w.suffix %}
        {% for name, num, den, what in [
                ('cart_to_view_rate', 'carts', 'views', 'Cart events per view event'),
                ('purchase_to_cart_rate', 'purchases', 'carts', 'Purchase events per cart event (can exceed 1: purchases without a recorded cart)'),
                ('purchasing_session_rate', 'purchasing_sessions', 'sessions', 'Share of sessions with a purchase'),
                ('revenue_per_session', 'revenue', 'sessions', 'Revenue per session'),
                ('events_per_active_day', 'events', 'active_days', 'Events per active day'),
                ('mean_purchased_price', 'revenue', 'purchases', 'Mean price per purchased item')] %}
            {% do fam['derived'].append(feature_def(name ~ '_' ~ s, value_ratio(num ~ '_' ~ s, den ~ '_' ~ s), 'double',
                what ~ ' ' ~ w.label ~ '; null when the denominator is 0.')) %}
        {% endfor %}
    {% endfor %}
    {% for w in windows if w.days is not none %}
        {% set s = w.suffix %}
        {% for base in ['events', 'active_days', 'revenue'] %}
            {% do fam['derived'].append(feature_def(base ~ '_trend_' ~ s,
                'coalesce(' ~ value_ratio(base ~ '_' ~ s ~ ' - ' ~ base ~ '_prev_' ~ s, base ~ '_' ~ s ~ ' + ' ~ base ~ '_prev_' ~ s) ~ ', 0)', 'double',
                'Activity trend of ' ~ base ~ ': (last ' ~ w.days ~ ' days - previous ' ~ w.days ~ ' days) / (their sum), from -1 (stopped) to 1 (new); 0 when both are 0.')) %}
        {% endfor %}
    {% endfor %}
    {% for base in ['sessions', 'events', 'purchases'] %}
        {% do fam['derived'].append(feature_def(base ~ '_per_tenure_day', value_ratio(base ~ '_all', 'tenure_days'), 'double',
            base ~ ' over all history per calendar day of tenure (tenure_days).')) %}
    {% endfor %}
    {% do fam['derived'].append(feature_def('purchase_overdue_ratio', value_ratio('days_since_last_purchase', 'purchase_gap_mean_days'), 'double',
        'Days since the last purchase / mean gap between purchase days (above 1 = later than usual); null with fewer than two purchase days.')) %}

    {{ return(fam) }}
{%- endmacro %}


{% macro feature_catalog() -%}
    {#- Every feature in output order: [{name, data_type, description, family, nested}]. -#}
    {% set fam = feature_definitions() %}
    {% set out = [] %}
    {% for family, source in feature_families() %}
        {% for f in fam[family] %}
            {% do out.append({'name': f.name, 'data_type': f.data_type, 'description': f.description, 'family': family, 'nested': f.nested,
                              'source': f.source or source}) %}
        {% endfor %}
    {% endfor %}
    {{ return(out) }}
{%- endmacro %}


{% macro feature_nested_bases() -%}
    {#- Features defined for every window whose value can only grow with the window. -#}
    {% set bases = [] %}
    {% for f in feature_catalog() if f.nested and f.nested not in bases %}{% do bases.append(f.nested) %}{% endfor %}
    {{ return(bases) }}
{%- endmacro %}


{% macro print_feature_catalog() -%}
    {#- `dbt run-operation print_feature_catalog`: one JSON line for scripts/generate_feature_docs.py. -#}
    {{ print('FEATURE_CATALOG ' ~ tojson({'windows': feature_windows(), 'features': feature_catalog()})) }}
{%- endmacro %}
