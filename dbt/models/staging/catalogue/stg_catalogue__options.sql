{#- Options of the catalogue's choice questions, in display order. An entry `Libellé = variante = variante`
    gives one option and the spellings it has had; `Libellé @ 2020` an option offered from the 2020
    campaign on, `@ 2019-2021` from 2019 to 2021 (a campaign that did not offer an option shows no
    figure for it, rather than a misleading 0). Scales (echelle) answer 1 to 5. -#}

with

entrees as (

    select
        {{ nettoyer_texte('question') }} as question,
        unnest(string_split(options, '|')) as entree,
        generate_subscripts(string_split(options, '|'), 1) as ordre_option
    from {{ ref('questionnaire') }}
    where {{ nettoyer_texte('options') }} is not null

),

options_choix as (

    select
        question,
        {{ nettoyer_texte("split_part(split_part(entree, '@', 1), '=', 1)") }} as option,
        cast(ordre_option as integer) as ordre_option,
        list_transform(
            string_split(split_part(entree, '@', 1), '='), lambda variante: {{ normaliser_texte('variante') }}
        ) as cles_option,
        try_cast(nullif(trim(split_part(split_part(entree, '@', 2), '-', 1)), '') as integer) as premiere_annee,
        case
            when split_part(entree, '@', 2) like '%-%'
                then try_cast(nullif(trim(split_part(split_part(entree, '@', 2), '-', 2)), '') as integer)
            else null
        end as derniere_annee
    from entrees

),

notes as (

    select
        questions.question,
        cast(note as varchar) as option,
        cast(note as integer) as ordre_option,
        [cast(note as varchar)] as cles_option,
        cast(null as integer) as premiere_annee,
        cast(null as integer) as derniere_annee
    from {{ ref('stg_catalogue__questions') }} as questions
    cross join range(1, 6) as notes (note)
    where questions.type_question = 'echelle'

),

final as (

    select * from options_choix
    union all
    select * from notes

)

select
    question,
    option,
    ordre_option,
    cles_option,
    premiere_annee,
    derniere_annee,
    -- A checkbox cell joins options with ', ': how many comma-separated fragments this option spans.
    len(string_split(option, ',')) as nb_fragments
from final
