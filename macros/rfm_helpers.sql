{#-
    Helpers of the RFM marts (marts.rfm_segments, marts.rfm_segment_transitions). Portable SQL
    (window functions, least, floor): nothing here is DuckDB-only.
-#}

{% macro rfm_dimensions() -%}
    {#- The three RFM scores: (score prefix, column of the buyers CTE, order that ranks the worst
        buyers first). Recency is reversed: the most days since the last purchase ranks lowest.
        Monetary is ranked rounded to cents, so float summation order cannot split a tie. -#}
    {{ return([
        ('r', 'recency_days', 'desc'),
        ('f', 'frequency', 'asc'),
        ('m', 'round(monetary, 2)', 'asc')
    ]) }}
{%- endmacro %}


{% macro rfm_quintile_score(expr, order, partition_by) -%}
    {#- Score 1-5 from the share of the OTHER buyers of the partition that are strictly worse on expr
        (percent_rank = (rank - 1) / (buyers - 1)): 1 + floor(5 x share), 5 when all others are worse.
        With distinct values these are the quintiles of ntile(5) within one buyer at each boundary
        (exactly ntile(5) for 5 buyers). Ties: equal values get equal scores, as rank gives a tied
        group the rank of its first row (ntile would split the group at random, or by a tie-breaker
        such as user_id, so two identical buyers could land in different segments); a lone buyer,
        or a partition where everybody ties, scores 1 (nobody is outranked). Integer counts are
        divided once in double precision, so a boundary such as 3/5 x 5 lands exactly on 3. -#}
    cast(least(5, 1 + coalesce(floor(
        5.0 * (rank() over (partition by {{ partition_by }} order by {{ expr }} {{ order }}) - 1)
        / nullif(count(*) over (partition by {{ partition_by }}) - 1, 0)
    ), 0)) as integer)
{%- endmacro %}


{% macro rfm_new_buyer_segment() -%}
    {#- from_segment of a buyer of a snapshot who was no buyer at the previous one. -#}
    {{ return('new_buyer') }}
{%- endmacro %}


{% macro rfm_not_a_buyer_segment() -%}
    {#- to_segment of a buyer of a snapshot who is no buyer at the next one: cannot happen with the
        stored snapshots (a purchase on or before one date is on or before every later one). -#}
    {{ return('not_a_buyer') }}
{%- endmacro %}
