{#-
    How fast shoppers act, per step, overall and by top category and price band: percentiles and
    mean of the seconds between a product's first view and first cart, and first cart and first
    purchase, in the same session (int_session_products; only pairs where the later step follows).
-#}
{%- set steps = {'view_to_cart': 'view_to_cart_seconds', 'cart_to_purchase': 'cart_to_purchase_seconds'} -%}
{%- set dims = ['top_category', 'price_band'] -%}

with price_bands as (
    select
        band_label,
        lower_bound,
        coalesce(upper_bound, cast('infinity' as {{ funnel_type_double() }})) as upper_bound,
        sort_order
    from {{ ref('price_bands') }}
),

session_products as (
    select
        session_products.view_to_cart_seconds,
        session_products.cart_to_purchase_seconds,
        coalesce(session_products.top_category, {{ funnel_missing_label() }}) as dim_top_category,
        coalesce(price_bands.band_label, '(unbanded)') as dim_price_band
    from {{ ref('int_session_products') }} as session_products
    left join price_bands
        on session_products.price >= price_bands.lower_bound
        and session_products.price < price_bands.upper_bound
    where session_products.view_to_cart_seconds is not null
        or session_products.cart_to_purchase_seconds is not null
),

step_seconds as (
    {%- for step, column in steps.items() %}
    select
        '{{ step }}' as step,
        {{ column }} as seconds{% for d in dims %},
        dim_{{ d }}
        {%- endfor %}
    from session_products
    where {{ column }} is not null
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

measured as (
    select
        step,
        case
            {%- for d in dims %}
            when grouping(dim_{{ d }}) = 0 then '{{ d }}'
            {%- endfor %}
            else 'overall'
        end as dimension,
        coalesce({% for d in dims %}dim_{{ d }}, {% endfor %}'all') as dimension_value,
        count(*) as session_products,
        {%- for p in [25, 50, 75, 90] %}
        {{ funnel_percentile(p / 100, 'seconds') }} as p{{ p }}_seconds,
        {%- endfor %}
        avg(seconds) as mean_seconds
    from step_seconds
    group by grouping sets (
        (step){% for d in dims %},
        (step, dim_{{ d }})
        {%- endfor %}
    )
)

select
    measured.step,
    measured.dimension,
    measured.dimension_value,
    {% call bigint_on_spark() %}dense_rank() over (
        partition by measured.step, measured.dimension
        order by price_bands.sort_order, measured.dimension_value
    ){% endcall %} as value_order,
    measured.session_products,
    {%- for p in [25, 50, 75, 90] %}
    cast(measured.p{{ p }}_seconds as {{ funnel_type_double() }}) as p{{ p }}_seconds,
    {%- endfor %}
    cast(measured.mean_seconds as {{ funnel_type_double() }}) as mean_seconds
from measured
left join price_bands
    on measured.dimension = 'price_band'
    and measured.dimension_value = price_bands.band_label
