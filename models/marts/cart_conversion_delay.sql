{#-
    How long cross-session conversions take: carted items bought in a later session
    (int_funnel_cart_outcomes.outcome = 'later_session'), by delay from the first cart to the purchase.
    Buckets come from the var conversion_delay_bucket_hours; every bucket has a row, empty or not.
-#}
{%- set buckets = funnel_delay_buckets() -%}

with conversions as (
    select later_purchase_delay_seconds as delay_seconds
    from {{ ref('int_funnel_cart_outcomes') }}
    where outcome = 'later_session'
),

buckets as (
    {%- for b in buckets %}
    select
        {{ b.bucket_order }} as bucket_order,
        '{{ b.label }}' as delay_bucket,
        {{ b.lower_hours }} as lower_hours,
        {{ 'cast(null as ' ~ funnel_type_double() ~ ')' if b.upper_hours is none else b.upper_hours }} as upper_hours
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

counted as (
    select
        buckets.bucket_order,
        buckets.delay_bucket,
        buckets.lower_hours,
        buckets.upper_hours,
        count(conversions.delay_seconds) as conversions,
        avg(conversions.delay_seconds) / 3600.0 as mean_delay_hours
    from buckets
    left join conversions
        on conversions.delay_seconds >= buckets.lower_hours * 3600
        and (buckets.upper_hours is null or conversions.delay_seconds < buckets.upper_hours * 3600)
    group by buckets.bucket_order, buckets.delay_bucket, buckets.lower_hours, buckets.upper_hours
)

select
    cast(bucket_order as integer) as bucket_order,
    delay_bucket,
    cast(lower_hours as {{ funnel_type_double() }}) as lower_hours,
    cast(upper_hours as {{ funnel_type_double() }}) as upper_hours,
    conversions,
    {{ funnel_ratio('conversions', 'sum(conversions) over ()') }} as share_of_conversions,
    {{ funnel_ratio('sum(conversions) over (order by bucket_order rows between unbounded preceding and current row)',
        'sum(conversions) over ()') }} as cumulative_share,
    mean_delay_hours
from counted
