{#- The identifier of a sheet row that marts publish: stable across syncs as long as the row stays where it is
    (spreadsheet, tab, row number), and the same in every mart, so that they join. -#}
{% macro identifiant_ligne(spreadsheet_title, tab, numero_ligne) -%}
    md5(concat_ws('|', {{ spreadsheet_title }}, {{ tab }}, cast({{ numero_ligne }} as varchar)))
{%- endmacro %}
