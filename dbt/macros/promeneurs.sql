{#- The one definition of "active at a date" used by every indicator: charter signed on or before the
    date, and no exit date before it (a Promeneur is still active on the day of their exit). -#}
{% macro actif_le(promeneur, jour) -%}
    ({{ promeneur }}.date_signature_charte <= {{ jour }} and coalesce({{ promeneur }}.date_sortie >= {{ jour }}, true))
{%- endmacro %}
