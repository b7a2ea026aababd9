{#- The bundled lists must never make one spelling stand for two rows of a list: every value and variant
    key belongs to one value (a collision would silently count rows under the first), and a value is listed
    once (which also makes liste + valeur unique). -#}

with

ecritures as (

    select liste, valeur, valeur as ecriture, true as est_valeur from {{ ref('listes') }}
    union all
    select liste, valeur, trim(unnest(string_split(variantes, '|'))) as ecriture, false as est_valeur
    from {{ ref('listes') }}
    where variantes is not null

)

select
    liste,
    {{ normaliser_texte('ecriture') }} as cle,
    count(distinct valeur) as valeurs,
    count(*) filter (where est_valeur) as lignes_valeur
from ecritures
group by all
having count(distinct valeur) > 1 or count(*) filter (where est_valeur) > 1
