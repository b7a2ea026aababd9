-- Every (annee, departement) of indicateurs_annuels carries every indicator of the seed, and every
-- network département plus 'ensemble' is present for every year.
with

attendus as (

    select
        annees.annee,
        departements.departement,
        indicateurs.indicateur
    from (select distinct annee from {{ ref('indicateurs_annuels') }}) as annees
    cross join (
        select departement from {{ ref('stg_sheets__departements_reseau') }}
        union all
        select 'ensemble'
    ) as departements
    cross join {{ ref('indicateurs') }} as indicateurs

)

select attendus.*
from attendus
left join {{ ref('indicateurs_annuels') }} as indicateurs_annuels
    on indicateurs_annuels.annee = attendus.annee
    and indicateurs_annuels.departement = attendus.departement
    and indicateurs_annuels.indicateur = attendus.indicateur
where indicateurs_annuels.indicateur is null
