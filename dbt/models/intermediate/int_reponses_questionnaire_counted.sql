{#- Exact questionnaire counts, before statistical secrecy: for each campaign year, network
    département and 'ensemble', question the campaign asked and possible answer, how many respondents
    chose it and how many answered the question. Generic over the catalogue: every option of an asked
    question appears (0 when nobody chose it), « Autre » where someone used it, scales as the answers
    '1' to '5'. A question the campaign did not ask has no row that year (« non posée »).
    Private: the published marts reponses_questionnaire and interets_questionnaire apply the secrecy
    rules to these counts. -#}

with

reponses as (

    select * from {{ ref('int_reponses_validated') }}
    where est_valide and not est_remplacee

),

choix_reponses as (

    select * from {{ ref('int_reponses_choix_unpivoted') }}

),

questions as (

    select * from {{ ref('stg_catalogue__questions') }}
    where type_question <> 'texte_libre'

),

-- The catalogue questions each campaign year asked.
posees as (

    select distinct colonnes.campagne_annee as annee, questions.*
    from {{ ref('int_questions_campagnes_matched') }} as colonnes
    inner join questions on questions.question = colonnes.question

),

departements as (

    select departement from {{ ref('stg_sheets__departements_reseau') }}
    union all
    select 'ensemble' as departement

),

-- The per-respondent long form: aggregated below, never published.
choix as (

    select
        reponses.campagne_annee as annee,
        reponses.departement,
        reponses.cle_repondant,
        choix_reponses.question,
        choix_reponses.option as reponse,
        choix_reponses.ordre_option
    from choix_reponses
    inner join reponses
        on reponses.snapshot_id = choix_reponses.snapshot_id
        and reponses.numero_ligne = choix_reponses.numero_ligne

),

-- The catalogue's options of each asked question that the campaign offered, and « Autre » where someone
-- used it that year.
reponses_possibles as (

    select posees.annee, options.question, options.option as reponse, options.ordre_option as ordre_reponse
    from {{ ref('stg_catalogue__options') }} as options
    inner join posees
        on posees.question = options.question
        and posees.annee between coalesce(options.premiere_annee, posees.annee) and coalesce(options.derniere_annee, posees.annee)

    union

    select annee, question, reponse, ordre_option as ordre_reponse
    from choix
    where reponse = 'Autre'

),

grille as (

    select
        posees.annee,
        departements.departement,
        posees.question,
        posees.libelle_question,
        posees.type_question,
        posees.ordre_question,
        reponses_possibles.reponse,
        reponses_possibles.ordre_reponse
    from posees
    cross join departements
    inner join reponses_possibles
        on reponses_possibles.annee = posees.annee
        and reponses_possibles.question = posees.question

),

comptes as (

    select
        annee,
        case when grouping(departement) = 1 then 'ensemble' else departement end as departement,
        question,
        reponse,
        count(distinct cle_repondant) as repondants
    from choix
    group by grouping sets ((annee, departement, question, reponse), (annee, question, reponse))

),

repondants_questions as (

    select
        annee,
        case when grouping(departement) = 1 then 'ensemble' else departement end as departement,
        question,
        count(distinct cle_repondant) as repondants_question
    from choix
    group by grouping sets ((annee, departement, question), (annee, question))

),

final as (

    select
        cast(grille.annee as integer) as annee,
        grille.departement,
        grille.question,
        grille.libelle_question,
        grille.type_question,
        cast(grille.ordre_question as integer) as ordre_question,
        grille.reponse,
        cast(grille.ordre_reponse as integer) as ordre_reponse,
        cast(coalesce(repondants_questions.repondants_question, 0) as integer) as repondants_question,
        cast(coalesce(comptes.repondants, 0) as integer) as repondants
    from grille
    left join repondants_questions
        on repondants_questions.annee = grille.annee
        and repondants_questions.departement = grille.departement
        and repondants_questions.question = grille.question
    left join comptes
        on comptes.annee = grille.annee
        and comptes.departement = grille.departement
        and comptes.question = grille.question
        and comptes.reponse = grille.reponse

)

select * from final
