{#-
    One row per distinct price of a clean event, with its price band (seed price_bands; null when
    the price is in no band). A range join over every event is slow: the funnel looks the band up
    here by equality instead.
-#}
with price_bands as (
    select
        band_label,
        lower_bound,
        coalesce(upper_bound, cast('infinity' as {{ funnel_type_double() }})) as upper_bound
    from {{ ref('price_bands') }}
),

prices as (
    select distinct price
    from {{ ref('stg_events') }}
)

select
    prices.price,
    price_bands.band_label
from prices
left join price_bands
    on prices.price >= price_bands.lower_bound
    and prices.price < price_bands.upper_bound
