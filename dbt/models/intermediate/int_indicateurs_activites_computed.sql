{#- Activity indicators per year and activity département: one count per valid activity in the
    indicator of its type, plus the days of every Formation in jours_formation. Rows keep the
    two-département code ('03/63'): indicateurs_annuels shows them only inside 'ensemble', and
    controles_indicateurs reports them separately. -#}

with

activites as (

    select * from {{ ref('int_activites_validated') }}
    where est_valide

),

mesures as (

    select
        cast(year(date_activite) as integer) as annee,
        departement,
        indicateur,
        1.0 as valeur
    from activites
    -- a type added in the coordinator's Listes tab feeds no indicator (it is listed in bilan.activites)
    where indicateur is not null

    union all

    select
        cast(year(date_activite) as integer) as annee,
        departement,
        'jours_formation' as indicateur,
        duree_jours as valeur
    from activites
    where indicateur = 'sessions_formation'

),

final as (

    select
        annee,
        case when grouping(departement) = 1 then 'ensemble' else departement end as departement,
        indicateur,
        cast(sum(valeur) as double) as valeur
    from mesures
    group by grouping sets ((annee, departement, indicateur), (annee, indicateur))

)

select * from final
