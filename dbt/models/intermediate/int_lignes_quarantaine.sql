{#- Every quarantined sheet row, by spreadsheet, tab and row number, with its reasons. Never the row's
    content: the flow copies this into the run report for the coordinator to fix the sheet. -#}

with

promeneurs as (

    select * from {{ ref('int_promeneurs_validated') }}

),

activites as (

    select * from {{ ref('int_activites_validated') }}

),

reponses as (

    select * from {{ ref('int_reponses_validated') }}

),

unioned as (

    select spreadsheet_title, tab, numero_ligne, motif_quarantaine from promeneurs
    where not est_valide

    union all

    select spreadsheet_title, tab, numero_ligne, motif_quarantaine from activites
    where not est_valide

    union all

    select spreadsheet_title, tab, numero_ligne, motif_quarantaine from reponses
    where not est_valide

),

final as (

    select
        spreadsheet_title,
        tab as onglet,
        numero_ligne,
        motif_quarantaine as motif
    from unioned

)

select * from final
