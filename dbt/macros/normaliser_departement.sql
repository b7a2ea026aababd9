{#- Département cell -> official code ('03', '2A', '971'), or two codes joined by '/' ('03/63') for an
    action shared by two départements; null when not recognised.
    Each '/'-separated part is read as:
    - a code alone: '3' -> '03', '03', '2a' -> '2A', '971';
    - a name holding one code: 'Puy-de-Dôme (63)', '63 - Puy-de-Dôme' -> the code, only when the words
      beside the code are that code's name (or « département »): 'mars-63', what French Excel makes of
      '03/63', is not 63; two codes in one part, '03 et 63', are ambiguous: not recognised;
    - a name alone, matched on the departements seed case-, accent-, space- and hyphen-insensitively:
      'Puy de Dome', 'allier '.
    The expression is a correlated subquery: DuckDB evaluates it once per distinct cell value. -#}

{% macro cle_departement(expression) -%}
    trim(regexp_replace(coalesce({{ normaliser_texte(expression) }}, ''), '[^a-z0-9]+', ' ', 'g'))
{%- endmacro %}


{% macro normaliser_departement(expression) -%}
    (
        select
            case
                when count(*) = count(departements_ref.code)
                    and count(distinct departements_ref.code) between 1 and 2
                    then string_agg(distinct departements_ref.code, '/' order by departements_ref.code)
            end
        from (
            select
                jetons.cle_partie,
                jetons.reste,
                case
                    when regexp_full_match(jetons.jeton_code, '[0-9]+')
                        then printf('%02d', cast(jetons.jeton_code as integer))
                    else upper(jetons.jeton_code)
                end as code_candidat
            from (
                select
                    cles.cle_partie,
                    -- A part holding two codes ('03 et 63', '03-63') is ambiguous: no code.
                    case when len(cles.jetons) = 1 then cles.jetons[1] end as jeton_code,
                    -- The words beside the code, which must name it ('mars 63' is a date, not 63).
                    trim(regexp_replace(
                        regexp_replace(cles.cle_partie, '\b([0-9]{1,3}|2[ab])\b', ' ', 'g'), ' +', ' ', 'g'
                    )) as reste
                from (
                    select
                        {{ cle_departement('parties_cellule.partie') }} as cle_partie,
                        regexp_extract_all(
                            {{ cle_departement('parties_cellule.partie') }}, '\b([0-9]{1,3}|2[ab])\b', 1
                        ) as jetons
                    from unnest(string_split(cast({{ expression }} as varchar), '/'))
                        as parties_cellule (partie)
                ) as cles
            ) as jetons
        ) as parties
        left join (
            select code, {{ cle_departement('nom') }} as cle_nom
            from {{ ref('departements') }}
        ) as departements_ref
            on (
                departements_ref.code = parties.code_candidat
                and parties.reste in ('', departements_ref.cle_nom, 'dep', 'dept', 'departement')
            )
            or (parties.code_candidat is null and departements_ref.cle_nom = parties.cle_partie)
    )
{%- endmacro %}
