-- A figure is null only when it was never measured: a questionnaire indicator in a year that no
-- campaign evaluates. Any other null (or a 0 standing for "not measured") is a bug.
with

campagnes as (

    select distinct campagne_annee as annee from {{ ref('stg_sheets__campagnes') }}
    where campagne_annee is not null

)

select
    indicateurs_annuels.annee,
    indicateurs_annuels.departement,
    indicateurs_annuels.indicateur,
    indicateurs_annuels.valeur
from {{ ref('indicateurs_annuels') }} as indicateurs_annuels
inner join {{ ref('indicateurs') }} as indicateurs using (indicateur)
where
    (indicateurs_annuels.valeur is null)
    <> (indicateurs.domaine = 'questionnaire'
        and indicateurs_annuels.annee not in (select annee from campagnes))
