{#- The screen of text before it is published: what a title, a commune, a spreadsheet title, a tab name, a
    question header or a list value must not hold. The rules are written once, in Python (flows/screen.py),
    and called here as DuckDB functions that the dbt-duckdb plugin flows/screen_plugin.py registers on every
    connection (dbt/profiles.yml, `plugins:`): a text is screened the same way in a mart, a run report, a log
    line and an alert. The names themselves come from stg_sheets__noms_promeneurs (inlined, never stored). -#}


{#- A name's word key (pdn_cle_nom): invisible characters dropped, look-alike letters made Latin, lower case,
    no accents, œ/æ spelled out, every run of anything but letters and digits one space; '' -> null.
    « Jean-Pierre D’Arc » and « jean pierre  d'arc » get the same key. -#}
{% macro cle_mots(expression) -%}
    pdn_cle_nom(cast({{ expression }} as varchar))
{%- endmacro %}


{#- Why a text is withheld whoever the known people are: 'formule' (it starts with = + - @, a tab or a
    carriage return: an analyst's spreadsheet export would run it), 'efface' (the erasure marker « [effacé] »),
    'coordonnees' (an e-mail address, a @handle, a French phone number in any usual format); null otherwise. -#}
{% macro motif_sans_noms(expression) -%}
    pdn_motif_ecran(cast({{ expression }} as varchar))
{%- endmacro %}


{#- Every pattern of a known person's name, as a word key (flows/screen.py name_patterns): first and last names
    side by side in either order, run together, or the last name after a civility. A query selecting from it. -#}
{% macro motifs_noms() -%}
    select distinct unnest(pdn_motifs_nom(cle_prenom, cle_nom)) as motif
    from {{ ref('stg_sheets__noms_promeneurs') }}
    where cle_nom is not null
{%- endmacro %}


{#- True when the text names a known person: one of `motifs` (a relation with a `motif` column built by
    motifs_noms) is a run of consecutive whole words of the text's key (pdn_fenetres_texte lists them): a hash
    join against the patterns, not a scan of every pattern for every text. -#}
{% macro nomme_personne(expression, motifs='motifs_noms') -%}
    exists (
        select 1
        from unnest(pdn_fenetres_texte(cast({{ expression }} as varchar))) as fenetres (fenetre)
        inner join {{ motifs }} on {{ motifs }}.motif = fenetres.fenetre
    )
{%- endmacro %}


{#- Why a text is withheld ('formule', 'efface', 'coordonnees', 'nom'), or null when it may be shown. -#}
{% macro motif_ecran(expression, motifs='motifs_noms') -%}
    coalesce(
        {{ motif_sans_noms(expression) }},
        case when {{ nomme_personne(expression, motifs) }} then 'nom' end
    )
{%- endmacro %}


{#- A piece of metadata as it may be published: the value, or when the screen withholds it `remplacement`, by
    default « <libelle> <4 hex digits of its md5> » (libelle: « tableur masqué », « valeur masquée »…). The run
    report says the same (flows/screen.py withheld_label): a withheld title has one label everywhere, and two
    withheld ones differ. The query must have a `motifs_noms` relation (a CTE: motifs_noms()). -#}
{% macro filtrer_metadonnee(expression, libelle='texte masqué', remplacement=none, motifs='motifs_noms') -%}
    case
        when {{ motif_ecran(expression, motifs) }} is null then {{ expression }}
        else {{ remplacement if remplacement else "'" ~ libelle ~ " ' || left(md5(" ~ expression ~ "), 4)" }}
    end
{%- endmacro %}


{#- The French reason of a withheld cell, for int_cellules_signalees (never the cell's content). -#}
{% macro phrase_motif_ecran(motif, colonne) -%}
    {{ colonne }} || case {{ motif }}
        when 'formule' then ' : formule de tableur (commence par =, +, -, @ ou une tabulation) : non publié dans '
            || 'le détail des actions, car un export vers un tableur l''exécuterait (la reformuler sans ce signe en tête)'
        when 'efface' then ' : nomme une personne ayant demandé l''effacement de ses données (« [effacé] ») : non '
            || 'publié dans le détail des actions (la reformuler sans elle)'
        when 'coordonnees' then ' contenant des coordonnées (adresse e-mail, @pseudonyme, téléphone) : non publié '
            || 'dans le détail des actions (la reformuler sans coordonnées)'
        when 'chiffre' then ' contenant des chiffres : non publiée dans le détail des actions (n''y écrire que le '
            || 'nom de la commune)'
        else ' contenant un nom : non publié dans le détail des actions (la reformuler sans nom)'
    end
{%- endmacro %}
