{#- A question column's title as the coordinator typed it. Two columns with the same title (a question deleted
    and recreated mid-campaign: Google keeps both) reach the raw history as « <titre> » and
    « <titre> (colonne M) » (flows/sources/contract.py, map_header keeps every column under a unique label):
    they are one question, so the generated suffix is dropped before matching. -#}
{% macro titre_question(colonne) -%}
    regexp_replace(cast({{ colonne }} as varchar), ' [(]colonne [A-Z]+[)]$', '')
{%- endmacro %}
