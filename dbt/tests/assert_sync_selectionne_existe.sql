-- The sync to build (var sync_id, or the latest) must exist in raw.main.syncs; otherwise every mart
-- would silently come out empty.
select 'aucune synchronisation sélectionnée' as probleme
where not exists (select 1 from {{ ref('stg_sheets__syncs') }})
