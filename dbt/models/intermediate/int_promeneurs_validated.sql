{#- Every roster row with its quarantine reasons (null when valid). A quarantined Promeneur never
    counts in any indicator.
    Profile and structure type are descriptive: matched against the lists in force (int_listes_resolved),
    an unknown or blank value leaves them null without quarantining the row (the Promeneur still counts
    as active, new, gone); int_cellules_signalees lists the cell for correction.
    Periods, not rows: a valid row is one period [charter, exit] of a person (flows/identity.py: the same
    normalised e-mail, or the same name and structure when the e-mail is blank). A person may have several
    (left and came back; moved département = an exit in one and a charter in the other): periods that do not
    overlap all count. Of rows whose periods overlap, the first by content (charter, exit, département,
    profile, structure type; sheet position only between identical rows) is kept and each other names it:
    « même personne que la ligne N », plus « périodes qui se chevauchent » when the dates differ. Ranking by
    content, not by sheet order, keeps every figure the same whatever the order of the rows.
    Dates as Activités reads them (macros/parser_dates.sql): the order of day and month is decided once per
    column (charter, exit) per tab snapshot; a column that only reads month-first is refused whole (« dates au
    format américain »), never read swapped; a cell missing its day (« 2019 », « 06/2019 ») is incomplete.
    Only rows without another reason are compared: a row with an unreadable date has no period yet.
    A row without e-mail whose name and structure match a row with one is quarantined as ambiguous.
    A shared mailbox is not one person: rows of one address carrying different full names (cle_nom: the words of
    the name in any order) are one person per full name, whose key is then the address's completed by the name's.
    What the rule cannot decide is counted and flagged on both rows (int_cellules_signalees), among valid rows:
    one address with two full names (« adresse partagée par deux personnes »), the same full name and structure
    under two addresses, or without address with first and last name swapped (« la même personne ? »).
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
        -- The order of day and month, decided per column of the tab snapshot from all its cells.
        {{ ordre_jour_mois('promeneurs.date_signature_charte_brut', 'promeneurs.snapshot_id') }} as ordre_charte,
        {{ ordre_jour_mois('promeneurs.date_sortie_brut', 'promeneurs.snapshot_id') }} as ordre_sortie,
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

-- An address carrying several full names (in either order): a mailbox shared by several people.
adresses_partagees as (

    select cle_promeneur
    from identified
    where a_email and cle_nom is not null and not est_effacee
    group by cle_promeneur
    having count(distinct cle_nom) > 1

),

-- Reasons that a row has on its own (everything but the identity rule).
checked as (

    select
        identified.*,
        -- The person: the address (else name + structure), and the full name too when the address is shared.
        case
            when identified.cle_promeneur in (select adresses_partagees.cle_promeneur from adresses_partagees)
                then identified.cle_promeneur || ':' || coalesce(identified.cle_nom, '')
            else identified.cle_promeneur
        end as cle_personne,
        case when identified.est_effacee then {{ motif_effacement() }} else concat_ws(
            '; ',
            case
                when identified.departement_brut is null then 'Département manquant'
                when identified.departement is null then 'Département non reconnu'
                when identified.departement like '%/%'
                    then 'Deux départements indiqués : non admis pour un Promeneur'
                when identified.departement not in (select reseau.departement from reseau)
                    then 'Département hors réseau'
            end,
            case
                when identified.date_signature_charte_brut is null then 'Date de signature de la charte manquante'
                when identified.ordre_charte = 'mois_jour'
                    then 'Date de signature de la charte au format américain (mois/jour) : réenregistrez '
                    || 'l''export au format français'
                when identified.date_signature_charte is null
                    and {{ est_date_incomplete('identified.date_signature_charte_brut') }}
                    then 'Date de signature de la charte incomplète (jour, mois et année attendus)'
                when identified.date_signature_charte is null then 'Date de signature de la charte illisible'
                when identified.date_signature_charte < sync.date_min_plausible
                    then 'Date de signature de la charte invraisemblable (avant le '
                    || strftime(sync.date_min_plausible, '%d/%m/%Y') || ')'
                when identified.date_signature_charte > sync.date_execution
                    then 'Date de signature de la charte postérieure à la synchronisation'
            end,
            case
                when identified.date_sortie_brut is not null and identified.ordre_sortie = 'mois_jour'
                    then 'Date de sortie au format américain (mois/jour) : réenregistrez l''export au format '
                    || 'français'
                when identified.date_sortie is null and {{ est_date_incomplete('identified.date_sortie_brut') }}
                    then 'Date de sortie incomplète (jour, mois et année attendus)'
                when identified.date_sortie_brut is not null and identified.date_sortie is null
                    then 'Date de sortie illisible'
                when identified.date_sortie < sync.date_min_plausible
                    then 'Date de sortie invraisemblable (avant le '
                    || strftime(sync.date_min_plausible, '%d/%m/%Y') || ')'
                when identified.date_sortie > sync.date_execution + to_months(sync.mois_sortie_future)
                    then 'Date de sortie invraisemblable (plus de ' || sync.mois_sortie_future
                    || ' mois après la synchronisation)'
                when identified.date_sortie < identified.date_signature_charte
                    then 'Date de sortie antérieure à la signature de la charte'
            end
        ) end as motifs_ligne
    from identified
    cross join sync

),

-- The periods to compare: rows of an identified person with no reason of their own, ranked by content.
periodes as (

    select
        snapshot_id,
        numero_ligne,
        spreadsheet_title,
        tab,
        cle_personne,
        date_signature_charte,
        date_sortie,
        row_number() over (
            partition by cle_personne
            order by
                date_signature_charte, date_sortie nulls last, departement, profil nulls last,
                type_structure nulls last, spreadsheet_title, tab, numero_ligne
        ) as rang
    from checked
    where motifs_ligne = '' and cle_personne is not null

),

-- For each period that overlaps a better-ranked one of the same person: the best-ranked of those.
chevauchements as (

    select
        suivante.snapshot_id,
        suivante.numero_ligne,
        arg_min(
            {
                'titre': gardee.spreadsheet_title,
                'onglet': gardee.tab,
                'ligne': gardee.numero_ligne,
                'memes_dates': gardee.date_signature_charte = suivante.date_signature_charte
                    and gardee.date_sortie is not distinct from suivante.date_sortie
            },
            gardee.rang
        ) as gardee
    from periodes as suivante
    inner join periodes as gardee
        on gardee.cle_personne = suivante.cle_personne
        and gardee.rang < suivante.rang
        and gardee.date_signature_charte <= coalesce(suivante.date_sortie, date '9999-12-31')
        and suivante.date_signature_charte <= coalesce(gardee.date_sortie, date '9999-12-31')
    group by suivante.snapshot_id, suivante.numero_ligne

),

-- A row without e-mail whose name and structure are also on a row with an e-mail: the first such row.
avec_email as (

    select
        cle_nom_structure,
        -- A struct compares field by field: the first row in sheet order.
        min({'titre': spreadsheet_title, 'onglet': tab, 'ligne': numero_ligne}) as ligne
    from identified
    where a_email and cle_nom_structure is not null
    group by cle_nom_structure

),

motives as (

    select
        checked.*,
        case when checked.est_effacee then checked.motifs_ligne else concat_ws(
            '; ',
            nullif(checked.motifs_ligne, ''),
            case
                when chevauchements.gardee is not null
                    then 'Promeneur en double : même personne que '
                    || {{ reference_ligne('chevauchements.gardee.titre', 'chevauchements.gardee.onglet',
                        'chevauchements.gardee.ligne', 'checked.spreadsheet_title', 'checked.tab') }}
                    || case when not chevauchements.gardee.memes_dates then
                        ', périodes qui se chevauchent : '
                        || case
                            when chevauchements.gardee.titre = checked.spreadsheet_title
                                and chevauchements.gardee.onglet = checked.tab
                                then 'lignes ' || least(chevauchements.gardee.ligne, checked.numero_ligne)
                                || ' et ' || greatest(chevauchements.gardee.ligne, checked.numero_ligne)
                            else 'ligne ' || checked.numero_ligne || ' et '
                                || chevauchements.gardee.titre || ', ' || chevauchements.gardee.onglet
                                || ', ligne ' || chevauchements.gardee.ligne
                        end
                        || ' (corriger une date de signature ou de sortie, ou supprimer la ligne en double)'
                    else '' end
                when not checked.a_email and avec_email.ligne is not null
                    then 'Promeneur peut-être en double : même nom et même structure que '
                    || {{ reference_ligne('avec_email.ligne.titre', 'avec_email.ligne.onglet', 'avec_email.ligne.ligne',
                        'checked.spreadsheet_title', 'checked.tab') }}
                    || ', qui a une adresse e-mail (ajouter l''adresse ici ou supprimer la ligne en double)'
            end
        ) end as motifs
    from checked
    left join chevauchements
        on chevauchements.snapshot_id = checked.snapshot_id
        and chevauchements.numero_ligne = checked.numero_ligne
    left join avec_email
        on avec_email.cle_nom_structure = checked.cle_nom_structure
        and not checked.a_email

),

-- Counted rows that may be one person, or two behind one address: compared by full name, address, structure.
comparables as (

    select
        snapshot_id, spreadsheet_title, tab, numero_ligne, cle_promeneur, cle_nom, a_email,
        {{ normaliser_texte('structure') }} as cle_structure
    from motives
    where motifs = '' and cle_nom is not null

),

-- Pairs of such rows, one equi-join per case: a join on « either case » compared every row with every other
-- (a quadratic cost: 10 s of the 4× benchmark's build). The two cases never hold for the same pair, and neither
-- pairs a row with itself (its name, or its address, differs).
paires_possibles as (

    -- one address, two full names
    select
        ici.snapshot_id, ici.numero_ligne, autre.spreadsheet_title, autre.tab, autre.numero_ligne as ligne_autre,
        true as partagee
    from comparables as ici
    inner join comparables as autre
        on autre.cle_promeneur = ici.cle_promeneur
        and autre.cle_nom <> ici.cle_nom
    where ici.a_email and autre.a_email

    union all

    -- one full name and structure, two addresses (or, without address, two orders of the name)
    select
        ici.snapshot_id, ici.numero_ligne, autre.spreadsheet_title, autre.tab, autre.numero_ligne as ligne_autre,
        false as partagee
    from comparables as ici
    inner join comparables as autre
        on autre.cle_nom = ici.cle_nom
        and autre.cle_structure = ici.cle_structure
        and autre.a_email = ici.a_email
        and autre.cle_promeneur <> ici.cle_promeneur

),

-- For each such row, the other row it is flagged with: a shared address first, then the first in sheet order.
possibles as (

    select
        snapshot_id,
        numero_ligne,
        arg_min(
            {'titre': spreadsheet_title, 'onglet': tab, 'ligne': ligne_autre, 'partagee': partagee},
            {
                'rang': case when partagee then 0 else 1 end,
                'titre': spreadsheet_title,
                'onglet': tab,
                'ligne': ligne_autre
            }
        ) as autre
    from paires_possibles
    group by snapshot_id, numero_ligne

),

signalees as (

    select
        motives.*,
        case when possibles.autre is not null then
            case when possibles.autre.partagee or motives.a_email then 'E-mail' else 'Nom' end
        end as identite_colonne,
        case
            when possibles.autre.partagee
                then 'Adresse partagée par deux personnes : '
                || {{ deux_lignes('possibles.autre.titre', 'possibles.autre.onglet', 'possibles.autre.ligne',
                    'motives.spreadsheet_title', 'motives.tab', 'motives.numero_ligne') }}
                || ' (noms différents : comptées comme deux personnes ; corriger le nom si c''est la même)'
            when motives.a_email
                then 'Même nom et même structure que '
                || {{ reference_ligne('possibles.autre.titre', 'possibles.autre.onglet', 'possibles.autre.ligne',
                    'motives.spreadsheet_title', 'motives.tab') }}
                || ' avec une autre adresse : la même personne ? (comptée deux fois d''ici là ; si oui, garder '
                || 'une seule adresse)'
            when possibles.autre is not null
                then 'Même nom et même structure que '
                || {{ reference_ligne('possibles.autre.titre', 'possibles.autre.onglet', 'possibles.autre.ligne',
                    'motives.spreadsheet_title', 'motives.tab') }}
                || ', prénom et nom inversés : la même personne ? (comptée deux fois d''ici là ; si oui, '
                || 'supprimer une des lignes ou ajouter l''adresse)'
        end as identite_motif
    from motives
    left join possibles
        on possibles.snapshot_id = motives.snapshot_id
        and possibles.numero_ligne = motives.numero_ligne

),

final as (

    select
        -- ids
        snapshot_id,
        spreadsheet_title,
        tab,
        numero_ligne,
        cle_personne as cle_promeneur,

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
        motifs = '' as est_valide,
        identite_colonne,
        identite_motif

    from signalees

)

select * from final
