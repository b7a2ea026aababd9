{#- The day conventions of every roster figure, written once. The charter date is a Promeneur's FIRST day
    active, the exit date her LAST day active: a period is [charter, exit], both days included. -#}

{#- Active on `jour` (during that day): charter on or before it, and no exit or an exit on or after it. The
    questionnaire's denominator: a Promeneur whose last day is the closing day could still answer. -#}
{% macro actif_le(promeneur, jour) -%}
    ({{ promeneur }}.date_signature_charte <= {{ jour }} and coalesce({{ promeneur }}.date_sortie >= {{ jour }}, true))
{%- endmacro %}

{#- Still in the network at the end of `jour` (the stock that evening, what « actifs au 31 décembre » counts):
    charter on or before it, and no exit or an exit after it. An exit on `jour` is gone that evening. -#}
{% macro actif_fin_du_jour(promeneur, jour) -%}
    ({{ promeneur }}.date_signature_charte <= {{ jour }} and coalesce({{ promeneur }}.date_sortie > {{ jour }}, true))
{%- endmacro %}

{#- The four roster movements of a period [premier_jour, dernier_jour] (a year, a month), as boolean
    columns actif_debut, actif_fin, est_nouveau, est_sorti. Start = the stock at the end of the day before
    (so start(N) = end(N-1)); new = charter within the period; exit = exit within the period. For one period,
    start + new - exit = end, since exit >= charter on a valid row. -#}
{% macro mouvements_periode(promeneur, premier_jour, dernier_jour) -%}
    {{ actif_fin_du_jour(promeneur, 'cast(' ~ premier_jour ~ ' - interval 1 day as date)') }} as actif_debut,
    {{ actif_fin_du_jour(promeneur, dernier_jour) }} as actif_fin,
    {{ promeneur }}.date_signature_charte between {{ premier_jour }} and {{ dernier_jour }} as est_nouveau,
    coalesce({{ promeneur }}.date_sortie between {{ premier_jour }} and {{ dernier_jour }}, false) as est_sorti
{%- endmacro %}

{#- Where another roster row is, as the coordinator reads it: « la ligne N » in the same spreadsheet and tab,
    else « <spreadsheet>, <tab>, ligne N ». -#}
{% macro reference_ligne(titre, onglet, ligne, titre_ici, onglet_ici) -%}
    case
        when {{ titre }} = {{ titre_ici }} and {{ onglet }} = {{ onglet_ici }} then 'la ligne ' || {{ ligne }}
        else {{ titre }} || ', ' || {{ onglet }} || ', ligne ' || {{ ligne }}
    end
{%- endmacro %}

{#- Two roster rows named together: « lignes N et M » in the same spreadsheet and tab, else « ligne N et
    <spreadsheet>, <tab>, ligne M ». -#}
{% macro deux_lignes(titre, onglet, ligne, titre_ici, onglet_ici, ligne_ici) -%}
    case
        when {{ titre }} = {{ titre_ici }} and {{ onglet }} = {{ onglet_ici }}
            then 'lignes ' || least({{ ligne }}, {{ ligne_ici }}) || ' et ' || greatest({{ ligne }}, {{ ligne_ici }})
        else 'ligne ' || {{ ligne_ici }} || ' et ' || {{ titre }} || ', ' || {{ onglet }} || ', ligne ' || {{ ligne }}
    end
{%- endmacro %}
