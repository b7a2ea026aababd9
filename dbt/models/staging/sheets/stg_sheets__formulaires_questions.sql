{#- Questions of the Google Forms read by the selected sync, with the title each question id had when
    its form was first read (up to this sync, so that a replay sees what that sync saw): a question is
    matched to the catalogue by that first title, so rewording it later does not break the match. -#}

with

sync as (

    select * from {{ ref('stg_sheets__syncs') }}

),

-- Every read of those forms by this sync or an earlier one.
historique as (

    select
        questions.snapshot_id,
        snapshots.spreadsheet_id as document_id,
        snapshots.extracted_at,
        questions.question_id,
        questions.titre,
        questions.position
    from {{ source('raw', 'formulaires_questions') }} as questions
    inner join {{ source('raw', 'snapshots') }} as snapshots on snapshots.snapshot_id = questions.snapshot_id
    where questions.snapshot_id in (
        select sync_snapshots.snapshot_id
        from {{ source('raw', 'sync_snapshots') }} as sync_snapshots
        inner join {{ source('raw', 'syncs') }} as syncs on syncs.sync_id = sync_snapshots.sync_id
        where syncs.started_at <= (select lance_le from sync)
    )

),

renamed as (

    select
        -- ids
        snapshot_id,
        document_id,
        question_id,

        -- question
        {{ nettoyer_texte('titre') }} as titre,
        position,
        first_value({{ nettoyer_texte('titre') }}) over (
            partition by document_id, question_id order by extracted_at, snapshot_id
        ) as premier_titre

    from historique

)

select * from renamed
where snapshot_id in (select snapshot_id from {{ ref('stg_sheets__snapshots') }})
