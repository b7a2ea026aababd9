{#- Years of the annual report: every year with at least one valid activity, or evaluated by a
    questionnaire campaign of the selected sync. -#}

with

activites as (

    select * from {{ ref('int_activites_validated') }}

),

campagnes as (

    select * from {{ ref('stg_sheets__campagnes') }}

),

annees as (

    select cast(year(date_activite) as integer) as annee from activites
    where est_valide

    union

    select campagne_annee as annee from campagnes
    where campagne_annee is not null

),

final as (

    select
        annee,
        make_date(annee, 1, 1) as debut_annee,
        make_date(annee, 12, 31) as fin_annee
    from annees

)

select * from final
