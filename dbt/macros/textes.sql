{#- Text cleaning and the matching key used for every reference value.
    Sheets cells carry non-breaking and thin spaces (French typography) that [[:space:]] misses. -#}

{% macro caracteres_espaces() -%}
    [:space:]\x{00A0}\x{2007}\x{202F}\x{200B}\x{FEFF}
{%- endmacro %}


{% macro classe_espaces() -%}
    [{{ caracteres_espaces() }}]
{%- endmacro %}


{#- Display text: whitespace runs collapsed to one space, trimmed, case and accents kept; '' -> null. -#}
{% macro nettoyer_texte(expression) -%}
    nullif(
        trim(regexp_replace(cast({{ expression }} as varchar), '{{ classe_espaces() }}+', ' ', 'g')),
        ''
    )
{%- endmacro %}


{#- Matching key: lower case, no accents, every apostrophe look-alike turned into ', whitespace
    collapsed and trimmed; '' -> null. Two cells match a reference label when their keys are equal. -#}
{% macro normaliser_texte(expression) -%}
    {{ nettoyer_texte(
        "regexp_replace(lower(strip_accents(cast(" ~ expression ~ " as varchar))), '[’‘ʼ`´′]', '''', 'g')"
    ) }}
{%- endmacro %}


{#- True when every listed column is null or only whitespace (a blank sheet row). -#}
{% macro ligne_vide(colonnes) -%}
    regexp_full_match(
        concat(
            {%- for colonne in colonnes %}
            coalesce(cast({{ colonne }} as varchar), ''){% if not loop.last %},{% endif %}
            {%- endfor %}
        ),
        '{{ classe_espaces() }}*'
    )
{%- endmacro %}
