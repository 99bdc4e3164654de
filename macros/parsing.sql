{#- Strict typing helpers: try_cast alone accepts '1.5' as 2 and ' 12' as 12. -#}
{% macro strict_bigint(text_expr) -%}
    case when regexp_full_match({{ text_expr }}, '-?[0-9]{1,19}') then try_cast({{ text_expr }} as bigint) end
{%- endmacro %}

{% macro rees46_timestamp(text_expr) -%}
    {#- REES46 writes UTC with a literal suffix: '2019-10-01 00:00:04 UTC'. -#}
    try_strptime({{ text_expr }}, '%Y-%m-%d %H:%M:%S UTC')
{%- endmacro %}


{#-
    A clean row's raw line is not stored (storing every line doubles the cost of the landing
    scan). It can be given back from the typed columns and price_text when the
    text was in the canonical REES46 form; stg_raw_events keeps raw_line for the rows where it was
    not (checked with cheap string tests on the row's fields, in `fields`).
-#}
{% macro canonical_integer_text(text_expr) -%}
    ({{ text_expr }} = '0' or left(ltrim({{ text_expr }}, '-'), 1) between '1' and '9')
{%- endmacro %}

{% macro raw_line_is_renderable() -%}
    {#- 'YYYY-MM-DD HH:MM:SS UTC' is 23 characters: a timestamp the lenient parser read from a
        non-padded or spaced text is not. Integers without a leading zero print back the same. -#}
    length(fields[1]) = 23
    and {{ canonical_integer_text('fields[3]') }}
    and {{ canonical_integer_text('fields[8]') }}
    and (fields[4] = '' or (category_id is not null and {{ canonical_integer_text('fields[4]') }}))
{%- endmacro %}

{% macro render_raw_line(relation_alias) -%}
    {#- The raw line of a clean, renderable row of stg_raw_events: its fields joined by commas. -#}
    {%- set r = relation_alias ~ '.' -%}
    coalesce(
        {{ r }}raw_line,
        concat_ws(
            ',',
            strftime({{ r }}event_time, '%Y-%m-%d %H:%M:%S UTC'),
            {{ r }}event_type,
            cast({{ r }}product_id as varchar),
            coalesce(cast({{ r }}category_id as varchar), ''),
            coalesce({{ r }}category_code, ''),
            coalesce({{ r }}brand, ''),
            {{ r }}price_text,
            cast({{ r }}user_id as varchar),
            coalesce({{ r }}user_session, '')
        )
    )
{%- endmacro %}
