{#- Exact questionnaire counts, before statistical secrecy: for each campaign year, network
    département and 'ensemble', question and possible answer, how many respondents chose it and how
    many answered the question. Every answer of the form appears (0 when nobody chose it), interest
    questions as the answers '1' to '5'. Private: the published marts reponses_questionnaire and
    interets_questionnaire apply the secrecy rules to these counts. -#}

{%- set questions = [
    ('publications', 'Ce que vous publiez sur vos profils', 'multiple'),
    ('reseaux', 'Réseaux sociaux utilisés', 'multiple'),
    ('supports', 'Matériels utilisés', 'multiple'),
    ('echanges', "Nombre d'échanges par semaine", 'unique'),
    ('interet_reseaux_sociaux', 'Intérêt : être présent sur les réseaux sociaux', 'note'),
    ('interet_reseau_pdn', 'Intérêt : faire partie du réseau Promeneurs du Net', 'note'),
    ('interet_formations', 'Intérêt : les formations', 'note'),
    ('interet_journees_echanges', "Intérêt : les journées d'échanges", 'note'),
] -%}

with

reponses as (

    select * from {{ ref('int_reponses_validated') }}
    where est_valide and not est_remplacee

),

options_choisies as (

    select * from {{ ref('int_reponses_options_unpivoted') }}

),

options_questionnaire as (

    select * from {{ ref('options_questionnaire') }}

),

campagnes as (

    select distinct campagne_annee as annee from {{ ref('stg_sheets__campagnes') }}
    where campagne_annee is not null

),

departements as (

    select departement from {{ ref('stg_sheets__departements_reseau') }}
    union all
    select 'ensemble' as departement

),

questions as (

    select * from (
        values
        {%- for code, libelle, nature in questions %}
            ('{{ code }}', '{{ libelle | replace("'", "''") }}', '{{ nature }}', {{ loop.index }})
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    ) as questions (question, libelle_question, type_question, ordre_question)

),

-- The per-respondent long form: aggregated below, never published.
choix as (

    select
        reponses.campagne_annee as annee,
        reponses.departement,
        reponses.cle_repondant,
        options_choisies.question,
        options_choisies.option as reponse
    from options_choisies
    inner join reponses
        on reponses.snapshot_id = options_choisies.snapshot_id
        and reponses.numero_ligne = options_choisies.numero_ligne

    union all

    select
        annee,
        departement,
        cle_repondant,
        question,
        cast(note as varchar) as reponse
    from (
        unpivot (
            select
                campagne_annee as annee,
                departement,
                cle_repondant,
                interet_reseaux_sociaux,
                interet_reseau_pdn,
                interet_formations,
                interet_journees_echanges
            from reponses
        )
        on interet_reseaux_sociaux, interet_reseau_pdn, interet_formations, interet_journees_echanges
        into name question value note
    )

),

-- The form's options, "Autre" where someone used it, and the five interest scores.
reponses_possibles as (

    select question, option as reponse, ordre as ordre_reponse from options_questionnaire

    union

    select question, option as reponse, ordre as ordre_reponse from options_choisies
    where option = 'Autre'

    union

    select questions.question, cast(notes.note as varchar) as reponse, notes.note as ordre_reponse
    from questions
    cross join range(1, 6) as notes (note)
    where questions.type_question = 'note'

),

grille as (

    select
        campagnes.annee,
        departements.departement,
        questions.question,
        questions.libelle_question,
        questions.type_question,
        questions.ordre_question,
        reponses_possibles.reponse,
        reponses_possibles.ordre_reponse
    from campagnes
    cross join departements
    cross join questions
    inner join reponses_possibles on reponses_possibles.question = questions.question

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
