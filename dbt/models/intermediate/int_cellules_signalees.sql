{#- Cells to correct that do not make their row unusable: the row counts, the cell is listed (sheet,
    tab, row, column, reason; never its content) with a warning. Columns are named by the contract's
    label (flows/sources/contract.py), which the sheet's header matched.
    - A profile or structure type outside its list, or blank: the Promeneur counts, the value shows
      as « non reconnu » / « non renseigné » in the types.
    - A Promeneur the identity rule cannot decide (int_promeneurs_validated): an address shared by two full
      names, or the same full name and structure under another address or with first and last name swapped.
    - A public outside its list: the action counts, its public shows as « non reconnu ».
    - An action identical to an earlier row of its tab, isolated (not a pasted block): it counts, to check.
    - A row of the Listes tab that cannot be used (unknown or missing list, variants without a value,
      a variant another value already has).
    - A single-choice answer outside the catalogue's options counts under « Autre ».
    - A single choice answered differently in two columns of one title (a question recreated): the rightmost
      answer counts.
    - A title or a commune withheld from bilan.actions_detaillees (a formula, the erasure marker, contact
      details or a name: int_actions_detaillees_screened): the action is published without it, and the reason
      says which rule withheld it.
    A question header that names a person is shown as its position (« question 3 »). -#}

with

promeneurs as (

    select * from {{ ref('int_promeneurs_validated') }}

),

valeurs_promeneurs as (

    select
        spreadsheet_title, tab as onglet, numero_ligne, 'Profil' as colonne,
        case
            when profil_brut is null then 'Profil manquant : compté « non renseigné » dans les types de profils'
            else 'Profil hors liste : compté « non reconnu » (corriger la cellule, ou ajouter la valeur ou une '
                || 'variante dans l''onglet Listes)'
        end as motif
    from promeneurs
    where profil is null

    union all

    select
        spreadsheet_title, tab as onglet, numero_ligne, 'Type de structure' as colonne,
        case
            when type_structure_brut is null
                then 'Type de structure manquant : compté « non renseigné » dans les types de structures'
            else 'Type de structure hors liste : compté « non reconnu » (corriger la cellule, ou ajouter la '
                || 'valeur ou une variante dans l''onglet Listes)'
        end as motif
    from promeneurs
    where type_structure is null

),

-- Counted as two people, to check: both rows are listed, each naming the other.
identites as (

    select spreadsheet_title, tab as onglet, numero_ligne, identite_colonne as colonne, identite_motif as motif
    from promeneurs
    where identite_motif is not null

),

publics as (

    select
        spreadsheet_title, tab as onglet, numero_ligne, 'Public' as colonne,
        'Public hors liste : compté « non reconnu » (corriger la cellule, ou ajouter la valeur ou une variante '
        || 'dans l''onglet Listes)' as motif
    from {{ ref('int_activites_validated') }}
    where public = 'non reconnu'

),

-- Two individual meetings on the same day may be real: an isolated identical pair counts, and is checked.
actions_identiques as (

    select
        spreadsheet_title, tab as onglet, numero_ligne, 'Date' as colonne,
        'Action identique à la ligne ' || ligne_identique
        || ' : vérifier qu''il ne s''agit pas d''un doublon (comptée deux fois d''ici là)' as motif
    from {{ ref('int_activites_validated') }}
    where ligne_identique is not null

),

-- Withheld titles and communes, with the screen's reason (never the cell's content).
masquees as (

    select
        spreadsheet_title, tab as onglet, numero_ligne, 'Intitulé' as colonne,
        {{ phrase_motif_ecran('intitule_motif', "'Intitulé'") }} as motif
    from {{ ref('int_actions_detaillees_screened') }}
    where intitule_masque

    union all

    select
        spreadsheet_title, tab as onglet, numero_ligne, 'Commune' as colonne,
        {{ phrase_motif_ecran('commune_motif', "'Commune'") }} as motif
    from {{ ref('int_actions_detaillees_screened') }}
    where commune_masquee

),

-- Every way a known person's name may be written, for the screen of question headers (inlined, never stored).
motifs_noms as (

    {{ motifs_noms() }}

),

lignes_listes as (

    select * from {{ ref('stg_sheets__listes') }}
    where origine = 'tableur' and est_courante

),

listes_inutilisables as (

    select
        spreadsheet_title, tab as onglet, numero_ligne,
        case when liste is null then 'Liste' else 'Valeur' end as colonne,
        case
            when liste_brut is null then 'Liste manquante : ligne ignorée'
            when liste is null
                then 'Liste inconnue (attendu : Profil, Type de structure, Type d''action ou Public) : ligne ignorée'
            else 'Valeur manquante : variantes ignorées'
        end as motif
    from lignes_listes
    where
        (liste is null and (valeur is not null or len(variantes) > 0))
        or (liste is not null and valeur is null and len(variantes) > 0)

),

-- A variant whose key already stands for another value of the list (a bundled one, or a later row).
variantes_prises as (

    select distinct
        lignes.spreadsheet_title, lignes.tab as onglet, lignes.numero_ligne, 'Variantes acceptées' as colonne,
        'Variante déjà rattachée à une autre valeur de la liste : ignorée' as motif
    from (select *, unnest(variantes) as variante from lignes_listes where liste is not null and valeur is not null)
        as lignes
    inner join {{ ref('int_listes_resolved') }} as de_la_valeur
        on de_la_valeur.liste = lignes.liste and de_la_valeur.cle = {{ normaliser_texte('lignes.valeur') }}
    inner join {{ ref('int_listes_resolved') }} as de_la_variante
        on de_la_variante.liste = lignes.liste and de_la_variante.cle = {{ normaliser_texte('lignes.variante') }}
    where de_la_variante.valeur <> de_la_valeur.valeur

),

autres_choix_uniques as (

    select
        choix.snapshot_id,
        choix.numero_ligne,
        choix.question,
        'Réponse hors des options du catalogue : comptée dans « Autre »' as motif
    from {{ ref('int_reponses_choix_unpivoted') }} as choix
    inner join {{ ref('stg_catalogue__questions') }} as questions on questions.question = choix.question
    where choix.option = 'Autre' and questions.type_question = 'choix_unique'

),

-- A single choice answered differently in two columns of one title: the rightmost counts (int_reponses_choix_unpivoted).
choix_uniques_divergents as (

    select
        cellules.snapshot_id,
        cellules.numero_ligne,
        colonnes.question,
        'Réponses différentes dans les colonnes de même titre (question supprimée puis recréée ?) : celle de la '
        || coalesce('colonne ' || cellules.lettre_droite || ', la plus à droite,', 'colonne la plus à droite')
        || ' est comptée, pas celle de la première colonne de ce titre' as motif
    from {{ ref('stg_sheets__reponses_cellules') }} as cellules
    inner join {{ ref('int_questions_campagnes_matched') }} as colonnes
        on colonnes.document_id = cellules.document_id
        and colonnes.cle_colonne = cellules.cle_colonne
    inner join {{ ref('stg_catalogue__questions') }} as questions on questions.question = colonnes.question
    where cellules.nb_reponses_differentes > 1 and questions.type_question = 'choix_unique'

),

reponses as (

    select
        reponses.spreadsheet_title,
        reponses.tab as onglet,
        signalees.numero_ligne,
        -- A header is typed by whoever made the form: screened, shown as its position when withheld.
        {{ filtrer_metadonnee('colonnes.colonne', remplacement="'question ' || colonnes.position") }} as colonne,
        signalees.motif
    from (select * from autres_choix_uniques union all select * from choix_uniques_divergents) as signalees
    inner join {{ ref('int_reponses_validated') }} as reponses
        on reponses.snapshot_id = signalees.snapshot_id
        and reponses.numero_ligne = signalees.numero_ligne
    inner join {{ ref('stg_sheets__campagnes') }} as campagnes on campagnes.snapshot_id = signalees.snapshot_id
    inner join {{ ref('int_questions_campagnes_matched') }} as colonnes
        on colonnes.document_id = campagnes.document_id
        and colonnes.question = signalees.question

),

final as (

    select * from valeurs_promeneurs
    union all
    select * from identites
    union all
    select * from publics
    union all
    select * from actions_identiques
    union all
    select * from masquees
    union all
    select * from listes_inutilisables
    union all
    select * from variantes_prises
    union all
    select * from reponses

)

select * from final
