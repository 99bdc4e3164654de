{#- Generic test: none of the given columns is null. One scan for all of them (a not_null test per
    column would read a large table once per column). -#}
{% test not_null_columns(model, columns) %}
select *
from {{ model }}
where {% for column in columns %}{{ column }} is null{{ ' or ' if not loop.last }}{% endfor %}
{% endtest %}
