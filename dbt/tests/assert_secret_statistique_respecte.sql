-- The published questionnaire keeps statistical secrecy, checked on the marts' output rather than trusted to
-- the macro: no group of fewer than K respondents is shown, a group is shown or hidden whole, a hidden figure
-- is null, and no shown 'ensemble' sits beside a lone hidden non-empty département (it would give it back).
with

groupes as (

    select
        'reponses_questionnaire' as mart,
        annee,
        question,
        departement,
        max(repondants_question) as repondants_question,
        max(seuil_confidentialite) as seuil_confidentialite,
        bool_or(secret) as secret,
        bool_and(secret) as entierement_secret,
        bool_or(secret and (repondants is not null or part is not null)) as chiffre_secret_publie
    from {{ ref('reponses_questionnaire') }}
    group by annee, question, departement

    union all

    select
        'interets_questionnaire' as mart,
        annee,
        question,
        departement,
        repondants_question,
        seuil_confidentialite,
        secret,
        secret as entierement_secret,
        secret and moyenne is not null as chiffre_secret_publie
    from {{ ref('interets_questionnaire') }}

),

questions as (

    select
        mart,
        annee,
        question,
        bool_or(departement = 'ensemble' and not secret) as ensemble_affiche,
        count(*) filter (where departement <> 'ensemble' and secret and repondants_question > 0)
            as nb_departements_masques
    from groupes
    group by mart, annee, question

)

select
    groupes.mart,
    groupes.annee,
    groupes.question,
    groupes.departement,
    case
        when not groupes.secret and groupes.repondants_question < groupes.seuil_confidentialite
            then 'groupe de moins de K répondants publié'
        when groupes.secret <> groupes.entierement_secret then 'groupe publié en partie'
        when groupes.chiffre_secret_publie then 'chiffre publié dans un groupe masqué'
        else 'seul département masqué à côté de « ensemble » publié'
    end as probleme
from groupes
inner join questions
    on questions.mart = groupes.mart
    and questions.annee = groupes.annee
    and questions.question = groupes.question
where
    (not groupes.secret and groupes.repondants_question < groupes.seuil_confidentialite)
    or groupes.secret <> groupes.entierement_secret
    or groupes.chiffre_secret_publie
    or (
        groupes.departement = 'ensemble'
        and questions.ensemble_affiche
        and questions.nb_departements_masques = 1
    )
