{#- Strict typing helpers: try_cast alone accepts '1.5' as 2 and ' 12' as 12. -#}
{% macro strict_bigint(text_expr) -%}
    case when regexp_full_match({{ text_expr }}, '-?[0-9]{1,19}') then try_cast({{ text_expr }} as bigint) end
{%- endmacro %}

{% macro rees46_timestamp(text_expr) -%}
    {#- REES46 writes UTC with a literal suffix: '2019-10-01 00:00:04 UTC'. -#}
    try_strptime({{ text_expr }}, '%Y-%m-%d %H:%M:%S UTC')
{%- endmacro %}
