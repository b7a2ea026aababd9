{#- The tabs of the declared spreadsheets and the files of the source folder that the sync did not read, each with
    the rule that set it aside (what would make it read): nothing the coordinator gave is dropped without a word.
    Names are metadata someone typed: screened like the run report (flows/sources/snapshot.py as_report): a
    withheld tab is shown by its position (« onglet n°3 ») when it has one, else by its withheld label. -#}

with

-- Every way a known person's name may be written: metadata is screened like free text (inlined, never stored).
motifs_noms as (

    {{ motifs_noms() }}

),

non_lus as (

    select * from {{ ref('stg_sheets__non_lus') }}

),

final as (

    select
        type,
        {{ filtrer_metadonnee('spreadsheet_title', 'tableur masqué') }} as spreadsheet_title,
        case
            when {{ motif_ecran('onglet_ou_fichier') }} is null then onglet_ou_fichier
            when type = 'onglet' and position is not null then 'onglet n°' || position
            else type || ' masqué ' || left(md5(onglet_ou_fichier), 4)
        end as onglet_ou_fichier,
        -- The rule quotes the titles it expected: a rule that would show a name gives way to its general form.
        {{ filtrer_metadonnee('motif', remplacement="case type when 'onglet' then 'son nom n''est pas celui "
            ~ "d''un onglet attendu : renommez-le ainsi s''il doit être lu' else 'ne correspond à aucun tableur "
            ~ "déclaré dans sources.toml' end") }} as motif
    from non_lus

)

select * from final
