{#- Every response row with its campaign, its quarantine reasons (null when valid) and whether a
    later valid response of the same respondent to the same campaign supersedes it. Superseded
    responses are not errors: they are simply not counted. -#}

{%- set interets = {
    'interet_reseaux_sociaux': 'être présent sur les réseaux sociaux',
    'interet_reseau_pdn': 'faire partie du réseau Promeneurs du Net',
    'interet_formations': 'les formations',
    'interet_journees_echanges': "les journées d''échanges",
} -%}

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

checked as (

    select
        reponses.*,
        campagnes.campagne_annee,
        campagnes.campagne_cloture,
        concat_ws(
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
            case when reponses.cle_repondant is null then 'Adresse e-mail manquante' end,
            case
                when reponses.departement_brut is null then 'Département manquant'
                when reponses.departement is null then 'Département non reconnu'
                when reponses.departement like '%/%'
                    then 'Deux départements indiqués : non admis pour une réponse'
                when reponses.departement not in (select reseau.departement from reseau)
                    then 'Département hors réseau'
            end,
            case
                when reponses.echanges_brut is not null and reponses.echanges is null
                    then 'Nombre d''échanges hors liste'
            end,
            {%- for colonne, libelle in interets.items() %}
            case
                when reponses.{{ colonne }}_brut is not null
                    and (reponses.{{ colonne }} is null or reponses.{{ colonne }} not between 1 and 5)
                    then 'Intérêt « {{ libelle }} » : pas un entier de 1 à 5'
            end{% if not loop.last %},{% endif %}
            {%- endfor %}
        ) as motifs
    from reponses
    inner join campagnes on campagnes.snapshot_id = reponses.snapshot_id

),

ranked as (

    select
        checked.*,
        motifs = '' as est_valide,
        -- Latest valid response first; the sheet row breaks ties between identical timestamps.
        row_number() over (
            partition by checked.campagne_annee, checked.cle_repondant, checked.motifs = ''
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
        cle_repondant,

        -- campaign
        campagne_annee,
        campagne_cloture,

        -- dates
        horodateur,

        -- attributes
        departement,
        echanges,
        interet_reseaux_sociaux,
        interet_reseau_pdn,
        interet_formations,
        interet_journees_echanges,

        -- raw text, for whoever fixes the sheet
        horodateur_brut,
        departement_brut,
        echanges_brut,

        -- quality
        nullif(motifs, '') as motif_quarantaine,
        est_valide,
        est_valide and rang_reponse > 1 as est_remplacee

    from ranked

)

select * from final
