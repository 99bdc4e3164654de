{#- Generic data tests of the customer value marts (dbt_utils is not installable offline). -#}

{% test value_expression_is_true(model, expression, column_name=none) %}
{#- Fails on every row where the boolean expression is false or null. -#}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}


{% test value_tier_sizes_match_shares(model) %}
{#- The power and power+core tiers hold exactly ceil(share x buyers) buyers, and every buyer
    outranks every buyer of a lower tier. -#}
with sizes as (
    select
        count(case when value_tier <> 'browser' then 1 end) as buyers,
        count(case when value_tier = 'power' then 1 end) as power_users,
        count(case when value_tier in ('power', 'core') then 1 end) as power_core_users,
        max(case when value_tier = 'power' then buyer_rank end) as last_power_rank,
        min(case when value_tier = 'core' then buyer_rank end) as first_core_rank,
        max(case when value_tier = 'core' then buyer_rank end) as last_core_rank,
        min(case when value_tier = 'light' then buyer_rank end) as first_light_rank
    from {{ model }}
)

select *
from sizes
where power_users <> {{ value_tier_cutoff(value_var('power_tier_share', 0.2), 'buyers') }}
    or power_core_users <> {{ value_tier_cutoff(value_var('core_tier_share', 0.5), 'buyers') }}
    or last_power_rank >= first_core_rank
    or last_core_rank >= first_light_rank
{% endtest %}


{% test value_expressions_are_true(model, expressions) %}
{#- Fails on every row where one of the boolean expressions is false or null, in one scan; the
    failing rule is named in failed_expression. -#}
select *
from (
    select
        case
            {%- for expression in expressions %}
            when not coalesce({{ expression }}, false) then '{{ expression | replace("'", "''") }}'
            {%- endfor %}
        end as failed_expression,
        *
    from {{ model }}
) as checked
where failed_expression is not null
{% endtest %}
