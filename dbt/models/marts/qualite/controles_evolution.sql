{#- Each measured indicator next to its value the year before, so the gate can flag implausible jumps.
    variation_relative is null when there is no previous year, it was not measured or it was 0. -#}

with

indicateurs_annuels as (

    select * from {{ ref('indicateurs_annuels') }}
    where valeur is not null

),

final as (

    select
        courante.annee,
        courante.departement,
        courante.indicateur,
        courante.valeur,
        precedente.valeur as valeur_annee_precedente,
        (courante.valeur - precedente.valeur) / nullif(precedente.valeur, 0) as variation_relative
    from indicateurs_annuels as courante
    left join indicateurs_annuels as precedente
        on precedente.annee = courante.annee - 1
        and precedente.departement = courante.departement
        and precedente.indicateur = courante.indicateur

)

select * from final
