{#- Generic data tests of the customer feature tables. -#}

{% test feature_windows_are_nested(model) %}
{#- A count (or max) over a shorter window never exceeds the same feature over a longer one. -#}
{%- set windows = feature_windows() %}
select *
from {{ model }}
where
    {%- for base in feature_nested_bases() %}
    {%- set outer_loop = loop %}
    {%- for i in range(windows | length - 1) %}
    {{ base }}_{{ windows[i].suffix }} > {{ base }}_{{ windows[i + 1].suffix }}{{ ' or' if not (outer_loop.last and loop.last) }}
    {%- endfor %}
    {%- endfor %}
{% endtest %}
