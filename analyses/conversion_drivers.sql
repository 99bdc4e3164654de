-- What goes with converting? Per funnel step, the flagged drivers (the var driver_top_n reliable,
-- significant property values with the highest and lowest odds ratios vs the rest of their
-- property), strongest first, with their conversion against the rest and the 95% interval.
-- Run: dbt compile --select conversion_drivers (or paste with the refs replaced by marts.<name>).
select
    funnel_step,
    driver_flag,
    property,
    property_value,
    entity_grain,
    entities,
    round(100 * conversion_rate, 2) as pct_converted,
    round(100 * rest_conversion_rate, 2) as pct_converted_rest,
    round(odds_ratio, 3) as odds_ratio,
    round(odds_ratio_ci_low, 3) as odds_ratio_ci_low,
    round(odds_ratio_ci_high, 3) as odds_ratio_ci_high,
    p_value,
    haldane_corrected
from {{ ref('conversion_drivers') }}
where driver_flag is not null
order by
    funnel_step desc,
    driver_flag desc,
    case when driver_flag = 'top_positive' then -odds_ratio else odds_ratio end asc
