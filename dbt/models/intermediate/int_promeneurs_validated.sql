{#- Every roster row with its quarantine reasons (null when valid). A quarantined Promeneur never
    counts in any indicator.
    Profile and structure type are descriptive: matched against the lists in force (int_listes_resolved),
    an unknown or blank value leaves them null without quarantining the row (the Promeneur still counts
    as active, new, gone); int_cellules_signalees lists the cell for correction.
    Duplicates follow the identity rule (flows/identity.py): the same person is the same normalised
    e-mail, or the same name and structure when the e-mail is blank. The first row in sheet order is
    kept; a later row of the same person, or an ambiguous one (same name and structure as a row, one of
    the two without e-mail), is quarantined with the row number of the first.
    A row of a person who asked for erasure (pdn oubli; landed without its personal data) is quarantined
    for that reason alone. -#}

with

promeneurs as (

    select * from {{ ref('stg_sheets__promeneurs') }}

),

reseau as (

    select departement from {{ ref('stg_sheets__departements_reseau') }}

),

sync as (

    select * from {{ ref('stg_sheets__syncs') }}

),

listes as (

    select * from {{ ref('int_listes_resolved') }}

),

effacees as (

    select cle from {{ ref('stg_sheets__effacements') }}

),

identified as (

    select
        promeneurs.*,
        profils.valeur as profil,
        types_structure.valeur as type_structure,
        -- Without an address the identity falls back to name + structure: both keys are then equal.
        promeneurs.cle_promeneur is distinct from promeneurs.cle_nom_structure as a_email,
        coalesce(
            promeneurs.cle_promeneur in (select effacees.cle from effacees)
            or promeneurs.cle_nom_structure in (select effacees.cle from effacees),
            false
        ) as est_effacee
    from promeneurs
    left join listes as profils
        on profils.liste = 'Profil' and profils.cle = {{ normaliser_texte('promeneurs.profil_brut') }}
    left join listes as types_structure
        on types_structure.liste = 'Type de structure'
        and types_structure.cle = {{ normaliser_texte('promeneurs.type_structure_brut') }}

),

ranked as (

    select
        identified.*,
        case
            when identified.cle_promeneur is not null then row_number() over personne
        end as rang_doublon,
        case
            when identified.cle_promeneur is not null then first_value(identified.numero_ligne) over personne
        end as ligne_premiere_occurrence,
        -- A row without e-mail whose name and structure are also on a row with an e-mail.
        case
            when identified.cle_nom_structure is not null and not identified.a_email
                then min(identified.numero_ligne) filter (where identified.a_email) over nom_structure
        end as ligne_meme_nom_avec_email
    from identified
    window
        personne as (
            partition by identified.cle_promeneur
            order by identified.spreadsheet_title, identified.tab, identified.numero_ligne
        ),
        nom_structure as (partition by identified.cle_nom_structure)

),

checked as (

    select
        ranked.*,
        case when ranked.est_effacee then {{ motif_effacement() }} else concat_ws(
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
                when ranked.date_signature_charte < sync.date_min_plausible
                    then 'Date de signature de la charte invraisemblable (avant le '
                    || strftime(sync.date_min_plausible, '%d/%m/%Y') || ')'
                when ranked.date_signature_charte > sync.date_execution
                    then 'Date de signature de la charte postérieure à la synchronisation'
            end,
            case
                when ranked.date_sortie_brut is not null and ranked.date_sortie is null
                    then 'Date de sortie illisible'
                when ranked.date_sortie < sync.date_min_plausible
                    then 'Date de sortie invraisemblable (avant le '
                    || strftime(sync.date_min_plausible, '%d/%m/%Y') || ')'
                when ranked.date_sortie > sync.date_execution + to_months(sync.mois_sortie_future)
                    then 'Date de sortie invraisemblable (plus de ' || sync.mois_sortie_future
                    || ' mois après la synchronisation)'
                when ranked.date_sortie < ranked.date_signature_charte
                    then 'Date de sortie antérieure à la signature de la charte'
            end,
            case
                when ranked.rang_doublon > 1
                    then 'Promeneur en double : même personne que la ligne '
                    || ranked.ligne_premiere_occurrence
                when ranked.ligne_meme_nom_avec_email is not null
                    then 'Promeneur peut-être en double : même nom et même structure que la ligne '
                    || ranked.ligne_meme_nom_avec_email
                    || ', qui a une adresse e-mail (ajouter l''adresse ici ou supprimer la ligne en double)'
            end
        ) end as motifs
    from ranked
    cross join sync

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
