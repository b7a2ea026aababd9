{#- The reference lists in force for the sync built: one row per list and matching key (the key of a
    value or of an accepted variant, see normaliser_texte), with the value it stands for.
    Precedence, so that a typing never changes meaning by accident:
    - the bundled lists decide first: their values keep their spelling and their variants;
    - a tab entry whose value is a bundled spelling extends that value (its variants are added to it);
    - otherwise the most recent sync's tab wins, a value before a variant, then the first row;
    - a value stays recognised after it leaves the tab (syncs up to the one built all count). -#}

with

entrees as (

    select * from {{ ref('stg_sheets__listes') }}
    where liste is not null and valeur is not null

),

-- Every spelling an entry claims: its value, then each of its variants.
revendications as (

    select
        liste, origine, lance_le, est_courante, numero_ligne, valeur,
        {{ normaliser_texte('valeur') }} as cle,
        false as est_variante
    from entrees

    union all

    select
        liste, origine, lance_le, est_courante, numero_ligne, valeur,
        {{ normaliser_texte('variante') }} as cle,
        true as est_variante
    from (select *, unnest(variantes) as variante from entrees)

),

fournies as (

    select * from revendications
    where origine = 'fournie'
    qualify row_number() over (
        partition by liste, cle order by lance_le desc, est_variante, numero_ligne
    ) = 1

),

-- A tab entry whose value is a bundled spelling stands for that bundled value.
tableur as (

    select
        revendications.*,
        coalesce(fournies.valeur, revendications.valeur) as valeur_cible
    from revendications
    left join fournies
        on fournies.liste = revendications.liste
        and fournies.cle = {{ normaliser_texte('revendications.valeur') }}
    where revendications.origine = 'tableur'

),

candidates as (

    select liste, cle, valeur as valeur_cible, 0 as priorite, lance_le, est_variante, numero_ligne, est_courante
    from fournies

    union all

    select liste, cle, valeur_cible, 1 as priorite, lance_le, est_variante, numero_ligne, est_courante
    from tableur

),

resolues as (

    select
        liste,
        cle,
        {{ normaliser_texte('valeur_cible') }} as cle_valeur,
        est_variante
    from candidates
    qualify row_number() over (
        partition by liste, cle order by priorite, lance_le desc, est_variante, numero_ligne
    ) = 1

),

-- One spelling per value (the bundled one, else the latest tab's), its origin and whether the lists of
-- the sync built still hold it.
valeurs as (

    select
        liste,
        {{ normaliser_texte('valeur_cible') }} as cle_valeur,
        first(valeur_cible order by priorite, lance_le desc, numero_ligne) as valeur,
        case when min(priorite) = 0 then 'fournie' else 'tableur' end as origine,
        bool_or(est_courante) as est_en_vigueur
    from candidates
    group by liste, {{ normaliser_texte('valeur_cible') }}

),

-- An action type's indicator comes from the bundled lists only: a type added in the tab feeds none.
indicateurs as (

    select
        liste,
        {{ normaliser_texte('valeur') }} as cle_valeur,
        first(indicateur order by lance_le desc, numero_ligne) as indicateur
    from entrees
    where origine = 'fournie' and indicateur is not null
    group by liste, {{ normaliser_texte('valeur') }}

),

final as (

    select
        resolues.liste,
        resolues.cle,
        valeurs.valeur,
        indicateurs.indicateur,
        valeurs.origine,
        resolues.est_variante,
        valeurs.est_en_vigueur
    from resolues
    inner join valeurs on valeurs.liste = resolues.liste and valeurs.cle_valeur = resolues.cle_valeur
    left join indicateurs on indicateurs.liste = resolues.liste and indicateurs.cle_valeur = resolues.cle_valeur

)

select * from final
