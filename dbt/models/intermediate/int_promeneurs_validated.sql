{#- Every roster row with its quarantine reasons (null when valid). A quarantined Promeneur never
    counts in any indicator. Duplicates (same cle_promeneur): the first row in sheet order is kept. -#}

with

promeneurs as (

    select * from {{ ref('stg_sheets__promeneurs') }}

),

reseau as (

    select departement from {{ ref('stg_sheets__departements_reseau') }}

),

ranked as (

    select
        promeneurs.*,
        case
            when promeneurs.cle_promeneur is not null
                then row_number() over (
                    partition by promeneurs.cle_promeneur
                    order by promeneurs.spreadsheet_title, promeneurs.tab, promeneurs.numero_ligne
                )
        end as rang_doublon
    from promeneurs

),

checked as (

    select
        ranked.*,
        concat_ws(
            '; ',
            case
                when ranked.departement_brut is null then 'Département manquant'
                when ranked.departement is null then 'Département non reconnu'
                when ranked.departement like '%/%'
                    then 'Deux départements indiqués : non admis pour un Promeneur'
                when ranked.departement not in (select reseau.departement from reseau)
                    then 'Département hors réseau'
            end,
            case
                when ranked.date_signature_charte_brut is null then 'Date de signature de la charte manquante'
                when ranked.date_signature_charte is null then 'Date de signature de la charte illisible'
            end,
            case
                when ranked.date_sortie_brut is not null and ranked.date_sortie is null
                    then 'Date de sortie illisible'
                when ranked.date_sortie < ranked.date_signature_charte
                    then 'Date de sortie antérieure à la signature de la charte'
            end,
            case
                when ranked.profil_brut is null then 'Profil manquant'
                when ranked.profil is null then 'Profil hors liste'
            end,
            case
                when ranked.type_structure_brut is null then 'Type de structure manquant'
                when ranked.type_structure is null then 'Type de structure hors liste'
            end,
            case when ranked.rang_doublon > 1 then 'Promeneur en double' end
        ) as motifs
    from ranked

),

final as (

    select
        -- ids
        snapshot_id,
        spreadsheet_title,
        tab,
        numero_ligne,
        cle_promeneur,

        -- attributes
        departement,
        commune,
        structure,
        type_structure,
        profil,

        -- dates
        date_signature_charte,
        date_sortie,

        -- raw text, for whoever fixes the sheet
        departement_brut,
        type_structure_brut,
        profil_brut,
        date_signature_charte_brut,
        date_sortie_brut,

        -- quality
        nullif(motifs, '') as motif_quarantaine,
        motifs = '' as est_valide

    from checked

)

select * from final
