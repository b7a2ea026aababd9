{#- The screen of free text before it is published (int_actions_detaillees_screened): what a title or a
    commune must not hold. One rule per macro; the names themselves come from stg_sheets__noms_promeneurs. -#}


{#- Word key: lower case, no accents, œ/æ spelled out, every run of anything but letters and digits
    (apostrophes, hyphens, punctuation, spaces of any kind) turned into one space; '' -> null.
    « Jean-Pierre D’Arc » and « jean pierre  d'arc » get the same key. Padded with spaces, a key is matched
    on word boundaries: ' ' || key || ' ' contains ' jean pierre ', never « jean pierrette ». -#}
{% macro cle_mots(expression) -%}
    nullif(
        trim(regexp_replace(
            strip_accents(replace(replace(lower(cast({{ expression }} as varchar)), 'œ', 'oe'), 'æ', 'ae')),
            '[^a-z0-9]+', ' ', 'g'
        )),
        ''
    )
{%- endmacro %}


{#- Contact details: an e-mail address or a @handle (an @ followed by a letter or digit), or a French phone
    number (0X XX XX XX XX or +33 X XX XX XX XX, with or without separators). -#}
{% macro contient_coordonnees(expression) -%}
    regexp_matches(
        cast({{ expression }} as varchar),
        '@[[:alnum:]]|(^|[^0-9])(\+33 ?|0)[1-9]([ .-]?[0-9]{2}){4}($|[^0-9])'
    )
{%- endmacro %}

