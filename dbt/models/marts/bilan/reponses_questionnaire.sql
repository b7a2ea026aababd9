{#- Published questionnaire synthesis with statistical secrecy (seuil K = var seuil_confidentialite).

    Primary secrecy: a count of 1 to K-1 respondents, and every cell of a group (département or
    'ensemble', question) where fewer than K respondents answered, are secret.
    Complementary secrecy, so that no secret can be recovered by subtraction:
    - checkbox questions (type 'choix_multiple'): 'ensemble' is the sum of the départements, answer by
      answer. When exactly one département cell of an answer is secret and 'ensemble' is shown, the
      smallest other département cell is hidden too (with two départements: both).
    - single-choice questions and interest scores ('choix_unique', 'echelle'): a group's answers also add up
      to its number of respondents, so a group's distribution is shown whole or not at all: any
      secret cell hides the whole row; and when exactly one département row is hidden while
      'ensemble' is shown, the département row with the fewest respondents is hidden too. -#}

{%- set seuil = var('seuil_confidentialite', 5) | int -%}

with

comptes as (

    select * from {{ ref('int_reponses_questionnaire_counted') }}

),

primaires as (

    select
        comptes.*,
        repondants_question < {{ seuil }} or repondants between 1 and {{ seuil - 1 }} as secret_primaire
    from comptes

),

-- Checkbox questions: complementary secrecy answer by answer, across départements.
colonnes as (

    select
        primaires.*,
        count(*) filter (where departement <> 'ensemble' and secret_primaire) over reponse as nb_departements_secrets,
        bool_or(departement = 'ensemble' and secret_primaire) over reponse as ensemble_secret,
        row_number() over (
            partition by annee, question, reponse, departement = 'ensemble', secret_primaire
            order by repondants, departement
        ) as rang_parmi_visibles
    from primaires
    where type_question = 'choix_multiple'
    window reponse as (partition by annee, question, reponse)

),

cellules_multiples as (

    select
        annee,
        departement,
        question,
        reponse,
        {{ secret_avec_complement('secret_primaire') }} as secret
    from colonnes

),

-- Single-choice questions and scores: a group's row is shown whole or hidden whole.
lignes as (

    select
        annee,
        departement,
        question,
        max(repondants_question) as repondants_question,
        bool_or(secret_primaire) as ligne_secrete
    from primaires
    where type_question <> 'choix_multiple'
    group by annee, departement, question

),

lignes_rangees as (

    select
        lignes.*,
        count(*) filter (where departement <> 'ensemble' and ligne_secrete) over question as nb_departements_secrets,
        bool_or(departement = 'ensemble' and ligne_secrete) over question as ensemble_secret,
        row_number() over (
            partition by annee, question, departement = 'ensemble', ligne_secrete
            order by repondants_question, departement
        ) as rang_parmi_visibles
    from lignes
    window question as (partition by annee, question)

),

lignes_masquees as (

    select
        annee,
        departement,
        question,
        {{ secret_avec_complement('ligne_secrete') }} as secret
    from lignes_rangees

),

final as (

    select
        primaires.annee,
        primaires.departement,
        primaires.question,
        primaires.libelle_question,
        primaires.type_question,
        primaires.ordre_question,
        primaires.reponse,
        primaires.ordre_reponse,
        primaires.repondants_question,
        case when not coalesce(cellules_multiples.secret, lignes_masquees.secret) then primaires.repondants end
            as repondants,
        case
            when not coalesce(cellules_multiples.secret, lignes_masquees.secret)
                then cast(primaires.repondants as double) / nullif(primaires.repondants_question, 0)
        end as part,
        coalesce(cellules_multiples.secret, lignes_masquees.secret) as secret,
        cast({{ seuil }} as integer) as seuil_confidentialite
    from primaires
    left join cellules_multiples
        on cellules_multiples.annee = primaires.annee
        and cellules_multiples.departement = primaires.departement
        and cellules_multiples.question = primaires.question
        and cellules_multiples.reponse = primaires.reponse
    left join lignes_masquees
        on lignes_masquees.annee = primaires.annee
        and lignes_masquees.departement = primaires.departement
        and lignes_masquees.question = primaires.question

)

select * from final
