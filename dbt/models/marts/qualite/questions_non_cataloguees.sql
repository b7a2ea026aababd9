{#- The columns (or Google Forms questions) of each campaign that match no question of the catalogue:
    landed raw, counted in nothing until the catalogue names them (the history then replays), and
    listed as a warning. Also a column answering a question another column already answers. Titles
    of questions only, never an answer. -#}

with

colonnes as (

    select * from {{ ref('int_questions_campagnes_matched') }}
    where question is null

),

final as (

    select
        cast(campagne_annee as integer) as annee,
        spreadsheet_title,
        tab as onglet,
        colonne,
        case when est_en_double then 'en double' else 'non cataloguée' end as motif
    from colonnes

)

select * from final
