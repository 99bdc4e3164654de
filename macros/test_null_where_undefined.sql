{#- Generic test: each figure is null exactly where it is undefined on the data, and obeys its
    rule where it is defined. figures is a list of
      {column: ..., undefined_when: <boolean SQL>, defined_check: <boolean SQL, optional>}
    over the model's columns; undefined_when may use window functions over the whole model, e.g.
    `sum(revenue) over () = 0`. A row fails when, for one of the figures,
      - undefined_when holds and the figure is not null (a number made up for an undefined figure),
      - undefined_when does not hold and the figure is null (a figure lost although its
        denominator is positive) or defined_check is not true,
      - undefined_when is itself null.
    One scan for all the figures of a model; failed_figures names the failing ones. -#}
{% test null_where_undefined(model, figures) %}
with checked as (
    select
        {%- for figure in figures %}
        case
            when ({{ figure.undefined_when }}) is null then '{{ figure.column }}: undefined_when is null'
            when {{ figure.undefined_when }} then
                case when {{ figure.column }} is not null then '{{ figure.column }}: not null although undefined' end
            when {{ figure.column }} is null then '{{ figure.column }}: null although defined'
            {%- if figure.defined_check %}
            when not coalesce({{ figure.defined_check }}, false) then '{{ figure.column }}: fails {{ figure.defined_check | replace("'", "''") }}'
            {%- endif %}
        end as failed_figure_{{ loop.index }},
        {%- endfor %}
        *
    from {{ model }}
)

select *
from checked
where
    {%- for figure in figures %}
    failed_figure_{{ loop.index }} is not null{{ ' or' if not loop.last }}
    {%- endfor %}
{% endtest %}
