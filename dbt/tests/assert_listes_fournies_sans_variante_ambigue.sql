{#- The bundled lists must never make one spelling stand for two values of a list: every value and
    variant key is unique within its list (a collision would silently count rows under the first). -#}

with

ecritures as (

    select liste, valeur, valeur as ecriture from {{ ref('listes') }}
    union all
    select liste, valeur, trim(unnest(string_split(variantes, '|'))) as ecriture from {{ ref('listes') }}
    where variantes is not null

)

select
    liste,
    {{ normaliser_texte('ecriture') }} as cle,
    count(distinct valeur) as valeurs
from ecritures
group by all
having count(distinct valeur) > 1
