{#- The quarantine reason of a row whose person asked for erasure (pdn oubli): the row stays out of every
    figure until the coordinator deletes it from the sheet. flows/ops/summary.py counts these rows. -#}
{% macro motif_effacement() -%}
    'Personne ayant demandé l''effacement de ses données : supprimer cette ligne du tableur'
{%- endmacro %}
