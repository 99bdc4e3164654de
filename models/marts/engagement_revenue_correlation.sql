{#-
    Spearman rank correlation of each engagement ratio with revenue per user, over the ratio's
    population and over its buyers only (most users never buy, and their block of tied zero
    revenue would otherwise decide the figure). Spearman = Pearson corr() of average ranks.
    Rounded to 12 decimals so that results do not depend on floating-point summation order.

    Average rank of a value = rank() + (ties - 1) / 2 = (users below it) + (ties + 1) / 2. It is
    computed once per distinct value (a window over a few distinct values instead of every user)
    and joined back.
-#}
{%- set ranked_columns = ['ratio_value', 'revenue'] -%}

with user_ratios as (
    select * from {{ ref('int_funnel_user_ratios') }}
),

populations as (
    select
        ratio,
        'ratio_population' as population,
        ratio_value,
        revenue
    from user_ratios
    union all
    select
        ratio,
        'buyers_only' as population,
        ratio_value,
        revenue
    from user_ratios
    where is_buyer
),

{%- for column in ranked_columns %}

{{ column }}_ranks as (
    select
        ratio,
        population,
        {{ column }},
        sum(ties) over (
            partition by ratio, population order by {{ column }} rows between unbounded preceding and current row
        ) - ties + (ties + 1) / 2.0 as average_rank
    from (
        select
            ratio,
            population,
            {{ column }},
            count(*) as ties
        from populations
        group by ratio, population, {{ column }}
    ) as value_counts
),
{%- endfor %}

ranked as (
    select
        populations.ratio,
        populations.population,
        populations.ratio_value,
        populations.revenue,
        ratio_value_ranks.average_rank as ratio_rank,
        revenue_ranks.average_rank as revenue_rank
    from populations
    {%- for column in ranked_columns %}
    inner join {{ column }}_ranks
        on populations.ratio = {{ column }}_ranks.ratio
        and populations.population = {{ column }}_ranks.population
        and populations.{{ column }} = {{ column }}_ranks.{{ column }}
    {%- endfor %}
)

select
    ratio,
    population,
    count(*) as users,
    case
        when stddev_pop(ratio_rank) > 0 and stddev_pop(revenue_rank) > 0 then round(corr(ratio_rank, revenue_rank), 12)
    end as spearman_correlation,
    case
        when stddev_pop(ratio_value) > 0 and stddev_pop(revenue) > 0 then round(corr(ratio_value, revenue), 12)
    end as pearson_correlation
from ranked
group by ratio, population
