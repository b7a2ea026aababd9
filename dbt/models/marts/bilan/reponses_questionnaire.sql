{#- Counted questionnaire answers in long form: one row per respondent, question and chosen option
    ('Autre' for any free answer, whose text is not published). Only the latest valid response of
    each respondent to a campaign. -#}

with

reponses as (

    select * from {{ ref('int_reponses_validated') }}
    where est_valide and not est_remplacee

),

options as (

    select * from {{ ref('int_reponses_options_unpivoted') }}

),

final as (

    select
        cast(reponses.campagne_annee as integer) as annee,
        reponses.cle_repondant,
        reponses.departement,
        options.question,
        options.option as reponse
    from options
    inner join reponses
        on reponses.snapshot_id = options.snapshot_id
        and reponses.numero_ligne = options.numero_ligne

)

select * from final
