{#- Valid actions of a type published in detail (seed types_action_publies), with their title and commune
    screened: what bilan.actions_detaillees publishes, and what int_cellules_signalees flags.
    A title or a commune is withheld (null, *_masque true) when it holds:
    - contact details: an e-mail address, a @handle or a phone number (contient_coordonnees);
    - a roster person's first and last names side by side, in either order (« Ernestine Vauquelin »,
      « VAUQUELIN Ernestine »), or a last name after a civility (« Mme Vauquelin »), compared as word keys
      (cle_mots: case, accents, apostrophes, hyphens and spacing do not matter) on word boundaries. A last
      name alone is not enough: many are also first names, words or places (Martin, Petit, Pascal, Moulin),
      and « Atelier au moulin de Saint-Martin » must stay published;
    - for a commune only, a digit: no commune name has one, a street address or a phone number has.
    Only the details the type's policy shows are read: a 'date' type publishes neither title nor commune. -#}

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

noms as (

    select * from {{ ref('stg_sheets__noms_promeneurs') }}

),

-- Every way a roster person's name may be written in a text, as a padded word key.
motifs_noms as (

    select distinct ' ' || cle_prenom || ' ' || cle_nom || ' ' as motif
    from noms
    where cle_prenom is not null and cle_nom is not null

    union

    select distinct ' ' || cle_nom || ' ' || cle_prenom || ' ' as motif
    from noms
    where cle_prenom is not null and cle_nom is not null

    union

    select distinct ' ' || civilites.civilite || ' ' || noms.cle_nom || ' ' as motif
    from noms
    cross join (
        values ('m'), ('mr'), ('mme'), ('mlle'), ('monsieur'), ('madame'), ('mademoiselle')
    ) as civilites (civilite)
    where noms.cle_nom is not null

),

publiees as (

    select
        activites.*,
        types_publies.details,
        case when types_publies.details = 'intitule' then intitules.intitule end as intitule_saisi,
        case when types_publies.details = 'intitule' then activites.commune end as commune_saisie
    from activites
    inner join types_publies on types_publies.type_action = activites.type_action
    left join intitules
        on intitules.snapshot_id = activites.snapshot_id
        and intitules.numero_ligne = activites.numero_ligne

),

screened as (

    select
        publiees.*,
        coalesce(
            {{ contient_coordonnees('intitule_saisi') }}
            or exists (
                select 1 from motifs_noms
                where contains(' ' || {{ cle_mots('publiees.intitule_saisi') }} || ' ', motifs_noms.motif)
            ),
            false
        ) as intitule_masque,
        coalesce(
            {{ contient_coordonnees('commune_saisie') }}
            or regexp_matches(commune_saisie, '[0-9]')
            or exists (
                select 1 from motifs_noms
                where contains(' ' || {{ cle_mots('publiees.commune_saisie') }} || ' ', motifs_noms.motif)
            ),
            false
        ) as commune_masquee
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
        case when not intitule_masque then intitule_saisi end as intitule,
        intitule_masque,
        case when not commune_masquee then commune_saisie end as commune,
        commune_masquee,

        -- measures
        case when details = 'intitule' then participants end as participants

    from screened

)

select * from final
