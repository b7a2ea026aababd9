{#- Every response with its campaign, its quarantine reasons (null when valid) and whether a later valid
    response of the same respondent to the same campaign supersedes it. Superseded responses are not
    errors: they are simply not counted. The respondent is the address the form collected, or the answer to
    a question asking it (« E-mail », « Votre adresse e-mail »…: flows/sources/contract.py REPONSES.aliases,
    keyed at landing like a collected one). A campaign with neither cannot tell respondents apart: each of its
    responses is its own respondent. A response of a person who asked for erasure
    (pdn oubli; landed without its e-mail and answers) is quarantined for that reason alone. -#}

with

reponses as (

    select * from {{ ref('stg_sheets__reponses') }}

),

campagnes as (

    select * from {{ ref('stg_sheets__campagnes') }}

),

reseau as (

    select departement from {{ ref('stg_sheets__departements_reseau') }}

),

effacees as (

    select cle from {{ ref('stg_sheets__effacements') }}

),

-- A scale answer that is not a whole number from 1 to 5 makes the response unusable.
notes_invalides as (

    select
        cellules.snapshot_id,
        cellules.numero_ligne,
        string_agg(
            'Réponse « ' || questions.libelle_question || ' » : pas un entier de 1 à 5', '; '
            order by questions.ordre_question
        ) as motifs_notes
    from {{ ref('stg_sheets__reponses_cellules') }} as cellules
    inner join {{ ref('int_questions_campagnes_matched') }} as colonnes
        on colonnes.document_id = cellules.document_id
        and colonnes.cle_colonne = cellules.cle_colonne
    inner join {{ ref('stg_catalogue__questions') }} as questions on questions.question = colonnes.question
    where
        questions.type_question = 'echelle'
        and coalesce({{ parser_entier('cellules.valeur') }} not between 1 and 5, true)
    group by cellules.snapshot_id, cellules.numero_ligne

),

checked as (

    select
        reponses.*,
        campagnes.campagne_annee,
        campagnes.campagne_cloture,
        -- Without e-mails, a response stands for itself.
        case
            when campagnes.sans_email then 'reponse:' || reponses.snapshot_id || ':' || reponses.numero_ligne
            else reponses.cle_repondant
        end as cle_repondant_campagne,
        case when reponses.cle_repondant in (select effacees.cle from effacees) then {{ motif_effacement() }}
        else concat_ws(
            '; ',
            case
                when reponses.horodateur_brut is null then 'Horodateur manquant'
                when reponses.horodateur is null then 'Horodateur illisible'
                when cast(reponses.horodateur as date)
                    not between campagnes.campagne_ouverture and campagnes.campagne_cloture
                    then 'Réponse hors période de la campagne (du '
                    || strftime(campagnes.campagne_ouverture, '%d/%m/%Y') || ' au '
                    || strftime(campagnes.campagne_cloture, '%d/%m/%Y') || ')'
            end,
            case when reponses.cle_repondant is null and not campagnes.sans_email then 'Adresse e-mail manquante' end,
            case
                when reponses.departement_brut is null then 'Département manquant'
                when reponses.departement is null then 'Département non reconnu'
                when reponses.departement like '%/%'
                    then 'Deux départements indiqués : non admis pour une réponse'
                when reponses.departement not in (select reseau.departement from reseau)
                    then 'Département hors réseau'
            end,
            notes_invalides.motifs_notes
        ) end as motifs
    from reponses
    inner join campagnes on campagnes.snapshot_id = reponses.snapshot_id
    left join notes_invalides
        on notes_invalides.snapshot_id = reponses.snapshot_id
        and notes_invalides.numero_ligne = reponses.numero_ligne

),

ranked as (

    select
        checked.*,
        motifs = '' as est_valide,
        -- Latest valid response first; the sheet row breaks ties between identical timestamps.
        row_number() over (
            partition by checked.campagne_annee, checked.cle_repondant_campagne, checked.motifs = ''
            order by checked.horodateur desc, checked.numero_ligne desc
        ) as rang_reponse
    from checked

),

final as (

    select
        -- ids
        snapshot_id,
        spreadsheet_title,
        tab,
        numero_ligne,
        cle_repondant_campagne as cle_repondant,

        -- campaign
        campagne_annee,
        campagne_cloture,

        -- dates
        horodateur,

        -- attributes
        departement,

        -- raw text, for whoever fixes the sheet
        horodateur_brut,
        departement_brut,

        -- quality
        nullif(motifs, '') as motif_quarantaine,
        est_valide,
        est_valide and rang_reponse > 1 as est_remplacee

    from ranked

)

select * from final
