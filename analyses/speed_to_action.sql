-- How fast do users act? Minutes from a product's first view to its first cart and from the
-- first cart to the first purchase in the same session, overall and by price band.
select
    step,
    dimension_value as price_band,
    session_products,
    round(p25_seconds / 60, 1) as p25_minutes,
    round(p50_seconds / 60, 1) as median_minutes,
    round(p75_seconds / 60, 1) as p75_minutes,
    round(p90_seconds / 60, 1) as p90_minutes
from {{ ref('time_to_action') }}
where dimension in ('overall', 'price_band')
order by step desc, dimension asc, value_order asc
