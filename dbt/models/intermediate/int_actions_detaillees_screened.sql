{#- Valid actions of a type published in detail (seed types_action_publies), with their title and commune
    screened: what bilan.actions_detaillees publishes, and what int_cellules_signalees flags.
    A title or a commune is withheld (null, *_masque true, *_motif saying why) when the screen of
    flows/screen.py (macros/donnees_personnelles.sql) finds in it, as a reader sees it (soft hyphens and
    word joiners dropped, Cyrillic or Greek look-alike letters read as Latin, case and accents ignored,
    hashtags and camelCase split):
    - a spreadsheet formula: it starts with = + - @, a tab or a carriage return ('formule');
    - the erasure marker « [effacé] » ('efface');
    - contact details: an e-mail address, a @handle or a French phone number in any usual format ('coordonnees');
    - a known person's first and last names side by side, in either order, or run together (« Ernestine
      Vauquelin », « VAUQUELIN Ernestine », « #ErnestineVauquelin »), or a last name after a civility
      (« Mme Vauquelin »), on word boundaries ('nom'). A last name alone is not enough: many are also first
      names, words or places (Martin, Petit, Pascal, Moulin), and « Atelier au moulin de Saint-Martin » must
      stay published;
    - for a commune only, a digit: no commune name has one, a street address or a phone number has ('chiffre').
    Only the details the type's policy shows are read: a 'date' type publishes neither title nor commune, a
    'commune' type (the network's meetings) its commune only. -#}

with

activites as (

    select * from {{ ref('int_activites_validated') }}
    where est_valide

),

types_publies as (

    select * from {{ ref('types_action_publies') }}

),

intitules as (

    select snapshot_id, numero_ligne, intitule from {{ ref('stg_sheets__activites') }}

),

-- Every way a known person's name may be written in a text, as a word key (never stored: inlined).
motifs_noms as (

    {{ motifs_noms() }}

),

publiees as (

    select
        activites.*,
        types_publies.details,
        case when types_publies.details = 'intitule' then intitules.intitule end as intitule_saisi,
        case when types_publies.details in ('intitule', 'commune') then activites.commune end as commune_saisie
    from activites
    inner join types_publies on types_publies.type_action = activites.type_action
    left join intitules
        on intitules.snapshot_id = activites.snapshot_id
        and intitules.numero_ligne = activites.numero_ligne

),

screened as (

    select
        publiees.*,
        {{ motif_ecran('intitule_saisi') }} as intitule_motif,
        coalesce(
            {{ motif_ecran('commune_saisie') }},
            case when regexp_matches(commune_saisie, '[0-9]') then 'chiffre' end
        ) as commune_motif
    from publiees

),

final as (

    select
        -- ids
        snapshot_id,
        spreadsheet_title,
        tab,
        numero_ligne,

        -- dates
        date_activite,

        -- attributes
        departement,
        type_action,
        details,
        case when intitule_motif is null then intitule_saisi end as intitule,
        intitule_motif is not null as intitule_masque,
        intitule_motif,
        case when commune_motif is null then commune_saisie end as commune,
        commune_motif is not null as commune_masquee,
        commune_motif,

        -- measures
        case when details = 'intitule' then participants end as participants

    from screened

)

select * from final
