-- Personal data stops at raw: no relation built by dbt has a name or e-mail column, and the published
-- schemas (bilan, qualite) carry no free text either (titles, comments, communes, "Autre" answers, raw
-- cells), but for the title and commune of bilan.actions_detaillees, screened in int_actions_detaillees_screened.
-- depends_on: {{ ref('stg_sheets__promeneurs') }}
-- depends_on: {{ ref('stg_sheets__activites') }}
-- depends_on: {{ ref('stg_sheets__reponses') }}
-- depends_on: {{ ref('indicateurs_annuels') }}
-- depends_on: {{ ref('activites') }}
-- depends_on: {{ ref('effectifs_mensuels') }}
-- depends_on: {{ ref('reponses_questionnaire') }}
-- depends_on: {{ ref('definitions_indicateurs') }}
-- depends_on: {{ ref('quarantaine') }}
-- depends_on: {{ ref('lignes_lues') }}
-- depends_on: {{ ref('controles_indicateurs') }}
-- depends_on: {{ ref('controles_effectifs') }}
-- depends_on: {{ ref('controles_evolution') }}
-- depends_on: {{ ref('interets_questionnaire') }}
-- depends_on: {{ ref('types_par_departement') }}
-- depends_on: {{ ref('departements_reseau') }}
-- depends_on: {{ ref('actions_detaillees') }}

select
    table_schema,
    table_name,
    column_name
from information_schema.columns
where
    table_catalog = current_database()
    and (
        (
            lower(column_name) in ('nom', 'prenom', 'email', 'e_mail', 'adresse_email', 'adresse_e_mail')
            -- the departements seed's `nom` is a place name
            and table_name <> 'departements'
        )
        or (
            table_schema in ('bilan', 'qualite')
            and (
                lower(column_name) in ('intitule', 'commentaire', 'commentaires', 'texte_autre', 'commune')
                or lower(column_name) like '%\_brut' escape '\'
            )
            and not (
                table_schema = 'bilan' and table_name = 'actions_detaillees'
                and lower(column_name) in ('intitule', 'commune')
            )
        )
    )
