{#- Every activity row with its quarantine reasons (null when valid) and the indicator it feeds.
    A two-département action ('03/63') is valid only when both départements are in the network.
    The type of action decides what the row counts for: outside its list, the row is quarantined. The
    public is descriptive: outside its list it shows as 'non reconnu' and the cell is listed
    (int_cellules_signalees). A type added in the Listes tab counts, with no indicator of the bilan.
    Dates: the order of day and month is decided once per tab snapshot from all its cells (ordre_jour_mois);
    a column that only reads month-first is refused whole, never read swapped. A cell missing its day
    (« 2019 », « 06/2019 ») is an incomplete date.
    Nothing counts twice. An action is its date, département, type, title, commune and participants; among
    rows valid on their own:
    - a row identical to a row of another spreadsheet (a copy of the Suivi declared as a second one) is a copy;
    - a row of a pasted block is a copy: it and a neighbour repeat two consecutive rows found the same number
      of rows (at least 2) above, in the same tab;
    a copy is quarantined naming the kept row, the first of the same action by spreadsheet title, tab and row.
    An isolated identical pair in one tab (two individual meetings the same day may be real) counts, and the
    later row is listed as a cell to check (ligne_identique). Which rows count, and so every figure, does
    not depend on the order of the rows. -#}

with

activites as (

    select * from {{ ref('stg_sheets__activites') }}

),

listes as (

    select * from {{ ref('int_listes_resolved') }}

),

sync as (

    select * from {{ ref('stg_sheets__syncs') }}

),

reseau as (

    select departement from {{ ref('stg_sheets__departements_reseau') }}

),

-- Each distinct cell text is normalised and matched once: a column repeats a few hundred values over its rows,
-- and the regular expressions were most of this model's time.
types_lus as (

    select lus.brut, types_action.valeur as type_action, types_action.indicateur
    from (select distinct type_action_brut as brut from activites) as lus
    inner join listes as types_action
        on types_action.liste = 'Type d''action' and types_action.cle = {{ normaliser_texte('lus.brut') }}

),

publics_lus as (

    select lus.brut, publics.valeur as public
    from (select distinct public_brut as brut from activites) as lus
    inner join listes as publics
        on publics.liste = 'Public' and publics.cle = {{ normaliser_texte('lus.brut') }}

),

-- The order of day and month of each tab snapshot, from its distinct date cells (the same proofs as from all).
ordres as (

    select distinct
        lus.snapshot_id,
        {{ ordre_jour_mois('lus.date_brut', 'lus.snapshot_id') }} as ordre_dates
    from (select distinct snapshot_id, date_brut from activites) as lus

),

matched as (

    select
        activites.*,
        types_lus.type_action,
        types_lus.indicateur,
        publics_lus.public,
        ordres.ordre_dates
    from activites
    left join types_lus on types_lus.brut = activites.type_action_brut
    left join publics_lus on publics_lus.brut = activites.public_brut
    inner join ordres on ordres.snapshot_id = activites.snapshot_id

),

checked as (

    select
        activites.*,
        concat_ws(
            '; ',
            case
                when activites.date_brut is null then 'Date manquante'
                when activites.ordre_dates = 'mois_jour'
                    then 'Dates au format américain (mois/jour) : réenregistrez l''export au format français'
                when activites.date_activite is null and {{ est_date_incomplete('activites.date_brut') }}
                    then 'Date incomplète (jour, mois et année attendus)'
                when activites.date_activite is null then 'Date illisible'
                when activites.date_activite < sync.date_min_plausible
                    then 'Date invraisemblable (avant le ' || strftime(sync.date_min_plausible, '%d/%m/%Y') || ')'
                when activites.date_activite > sync.date_execution
                    then 'Date invraisemblable (postérieure à la synchronisation : action à venir ?)'
            end,
            case
                when activites.departement_brut is null then 'Département manquant'
                -- A code turned into a date by a spreadsheet program ('mars-63' for '03/63') is never read.
                when activites.departement is null and regexp_matches(activites.departement_brut, '[0-9]')
                    then 'Département illisible (transformé en date par un tableur ? saisir le code, ex. 63 ou 03/63)'
                when activites.departement is null then 'Département non reconnu'
                -- Both codes of a two-département action must be in the network.
                when split_part(activites.departement, '/', 1) not in (select r.departement from reseau as r)
                    or (
                        activites.departement like '%/%'
                        and split_part(activites.departement, '/', 2)
                        not in (select r.departement from reseau as r)
                    )
                    then 'Département hors réseau'
            end,
            case
                when activites.type_action_brut is null then 'Type d''action manquant'
                when activites.type_action is null then 'Type d''action hors liste'
            end,
            case
                when activites.participants_brut is not null
                    and (activites.participants is null or activites.participants < 0)
                    then 'Participants : pas un nombre entier positif ou nul'
                when activites.participants > sync.participants_max
                    then 'Participants : nombre invraisemblable (plus de ' || sync.participants_max || ')'
            end,
            case
                when activites.duree_jours_brut is not null
                    and (activites.duree_jours is null or activites.duree_jours < 0)
                    then 'Durée illisible'
                when activites.duree_jours > sync.duree_jours_max
                    then 'Durée (jours) invraisemblable (plus de '
                    || replace(cast(sync.duree_jours_max as varchar), '.0', '') || ' jours)'
                when activites.indicateur = 'sessions_formation' and coalesce(activites.duree_jours, 0) = 0
                    then 'Durée manquante pour une Formation'
            end
        ) as motifs
    from matched as activites
    cross join sync

),

-- The matching key of each distinct title and commune, computed once (they repeat over the rows).
textes as (

    select texte, {{ normaliser_texte('texte') }} as cle
    from (select intitule as texte from activites union select commune from activites)

),

-- Rows valid on their own, with the action they record and their position among them in their tab.
comparees as (

    select
        checked.snapshot_id,
        checked.spreadsheet_title,
        checked.tab,
        checked.numero_ligne,
        -- Blank title, commune or participants are equal to blank: '∅' cannot be typed as a whole key part.
        concat_ws(
            chr(31),
            checked.date_activite,
            checked.departement,
            checked.type_action,
            coalesce(intitules.cle, '∅'),
            coalesce(communes.cle, '∅'),
            coalesce(cast(checked.participants as varchar), '∅')
        ) as cle_action,
        row_number() over (partition by checked.snapshot_id order by checked.numero_ligne) as position
    from checked
    left join textes as intitules on intitules.texte = checked.intitule
    left join textes as communes on communes.texte = checked.commune
    where checked.motifs = ''

),

-- For each row: the kept row of its action, and the first row of its action in its own tab.
rangees as (

    select
        *,
        first({'titre': spreadsheet_title, 'onglet': tab, 'ligne': numero_ligne}) over (
            partition by cle_action order by spreadsheet_title, tab, numero_ligne
        ) as gardee,
        min(numero_ligne) over (partition by snapshot_id, cle_action) as premiere_ligne_onglet
    from comparees

),

-- Same action at least 2 rows above in the same tab, with the distance between the two.
paires as (

    select
        suivante.snapshot_id,
        suivante.numero_ligne,
        suivante.position,
        suivante.position - precedente.position as ecart
    from comparees as suivante
    inner join comparees as precedente
        on precedente.snapshot_id = suivante.snapshot_id
        and precedente.cle_action = suivante.cle_action
        and suivante.position - precedente.position >= 2

),

-- Rows of a pasted block: a neighbour repeats the row at the same distance above.
dans_un_bloc as (

    select distinct paires.snapshot_id, paires.numero_ligne
    from paires
    inner join paires as voisine
        on voisine.snapshot_id = paires.snapshot_id
        and voisine.ecart = paires.ecart
        and abs(voisine.position - paires.position) = 1

),

doublons as (

    select
        rangees.snapshot_id,
        rangees.numero_ligne,
        case
            when rangees.gardee.titre < rangees.spreadsheet_title or dans_un_bloc.numero_ligne is not null
                then 'Action en double : même action que ' || rangees.gardee.titre || ', '
                    || rangees.gardee.onglet || ', ligne ' || rangees.gardee.ligne
        end as motif_doublon,
        case
            when rangees.numero_ligne > rangees.premiere_ligne_onglet then rangees.premiere_ligne_onglet
        end as ligne_identique
    from rangees
    left join dans_un_bloc
        on dans_un_bloc.snapshot_id = rangees.snapshot_id and dans_un_bloc.numero_ligne = rangees.numero_ligne

),

final as (

    select
        -- ids
        checked.snapshot_id,
        checked.spreadsheet_title,
        checked.tab,
        checked.numero_ligne,

        -- dates
        checked.date_activite,

        -- attributes
        checked.departement,
        checked.departement like '%/%' as est_bidepartementale,
        checked.commune,
        checked.type_action,
        checked.indicateur,
        -- A descriptive value outside its list does not make the action invalid: it shows as such.
        case when checked.public_brut is not null then coalesce(checked.public, 'non reconnu') end as public,

        -- measures
        checked.participants,
        checked.duree_jours,

        -- raw text, for whoever fixes the sheet
        checked.date_brut,
        checked.departement_brut,
        checked.type_action_brut,
        checked.participants_brut,
        checked.duree_jours_brut,

        -- quality
        nullif(coalesce(doublons.motif_doublon, checked.motifs), '') as motif_quarantaine,
        checked.motifs = '' and doublons.motif_doublon is null as est_valide,
        -- A counted row identical to an earlier one of its tab (not a copy): listed as a cell to check.
        case when doublons.motif_doublon is null then doublons.ligne_identique end as ligne_identique

    from checked
    left join doublons
        on doublons.snapshot_id = checked.snapshot_id and doublons.numero_ligne = checked.numero_ligne

)

select * from final
