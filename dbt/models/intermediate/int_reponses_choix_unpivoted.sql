{#- Long form of the answers to the catalogue's choice and scale questions: one row per response,
    question and chosen option. Generic over the catalogue (stg_catalogue__options).

    - A single choice or a scale note is the whole cell, matched to an option or one of its variants.
      A single choice matching no option counts under « Autre » (Forms' own « Autre : … »; listed in
      int_cellules_signalees); a scale note outside 1-5 quarantines its response (int_reponses_validated).
    - A Google Forms checkbox answer arrives as a list of choices: each is an option or « Autre ».
    - A response sheet writes checkbox answers as the chosen options joined with ', ' in form order, then
      the « Autre » text. Several options contain ', ' themselves, so the cell is never split naively: it is
      cut on every comma into fragments, and an option matches when its own fragments (compared by matching
      key) equal consecutive fragments of the cell; a match inside a longer match does not count. The
      fragments no option covers, re-joined, are the « Autre » text (kept verbatim, never published).
    Every step is a join or a window over the cells: linear in the number of answers. -#}

with

cellules as (

    select
        cellules.snapshot_id,
        cellules.numero_ligne,
        cellules.valeur,
        cellules.choix,
        colonnes.question,
        colonnes.campagne_annee,
        questions.type_question
    from {{ ref('stg_sheets__reponses_cellules') }} as cellules
    inner join {{ ref('int_questions_campagnes_matched') }} as colonnes
        on colonnes.document_id = cellules.document_id
        and colonnes.cle_colonne = cellules.cle_colonne
    inner join {{ ref('stg_catalogue__questions') }} as questions on questions.question = colonnes.question
    where questions.type_question in ('choix_unique', 'choix_multiple', 'echelle')

),

-- Options by campaign year: an option matches only in the campaigns that offered it.
options as (

    select
        annees.campagne_annee,
        options.question,
        options.option,
        options.ordre_option,
        options.nb_fragments,
        unnest(options.cles_option) as cle_option
    from {{ ref('stg_catalogue__options') }} as options
    inner join (select distinct campagne_annee from cellules) as annees
        on annees.campagne_annee
        between coalesce(options.premiere_annee, annees.campagne_annee)
        and coalesce(options.derniere_annee, annees.campagne_annee)

),

-- A single choice, a scale note, or one choice of a Forms checkbox list: matched whole.
valeurs_entieres as (

    select snapshot_id, numero_ligne, campagne_annee, question, type_question, valeur
    from cellules
    where type_question <> 'choix_multiple'

    union all

    select snapshot_id, numero_ligne, campagne_annee, question, type_question, unnest(choix) as valeur
    from cellules
    where type_question = 'choix_multiple' and choix is not null

),

entieres as (

    select
        valeurs_entieres.*,
        options.option,
        options.ordre_option
    from valeurs_entieres
    left join options
        on options.campagne_annee = valeurs_entieres.campagne_annee
        and options.question = valeurs_entieres.question
        and options.cle_option = {{ normaliser_texte('valeurs_entieres.valeur') }}
    -- A scale note that is not 1-5 counts nowhere (its response is quarantined).
    where options.option is not null or valeurs_entieres.type_question <> 'echelle'

),

-- Response-sheet checkbox cells, cut on commas.
cases_a_cocher as (

    select
        snapshot_id,
        numero_ligne,
        campagne_annee,
        question,
        string_split(valeur, ',') as fragments,
        list_transform(string_split(valeur, ','), lambda f: coalesce({{ normaliser_texte('f') }}, '')) as cles
    from cellules
    where type_question = 'choix_multiple' and choix is null

),

options_fragmentees as (

    select
        campagne_annee,
        question,
        option,
        ordre_option,
        nb_fragments,
        -- the option's key rebuilt from its own comma-separated pieces, as a cell's candidates are
        array_to_string(list_transform(string_split(cle_option, ','), lambda f: trim(f)), ', ') as cle_option
    from options

),

longueurs as (

    select distinct campagne_annee, question, nb_fragments as longueur from options_fragmentees

),

-- Every run of consecutive fragments as long as some option of the question, as a matching key.
candidats as (

    select
        cases_a_cocher.snapshot_id,
        cases_a_cocher.numero_ligne,
        cases_a_cocher.campagne_annee,
        cases_a_cocher.question,
        positions.debut,
        longueurs.longueur,
        array_to_string(cases_a_cocher.cles[positions.debut:positions.debut + longueurs.longueur - 1], ', ')
            as cle_candidat
    from cases_a_cocher
    cross join unnest(range(1, len(cases_a_cocher.cles) + 1)) as positions (debut)
    inner join longueurs
        on longueurs.campagne_annee = cases_a_cocher.campagne_annee
        and longueurs.question = cases_a_cocher.question
        and positions.debut + longueurs.longueur - 1 <= len(cases_a_cocher.cles)

),

correspondances as (

    select
        candidats.*,
        options_fragmentees.option,
        options_fragmentees.ordre_option
    from candidats
    inner join options_fragmentees
        on options_fragmentees.campagne_annee = candidats.campagne_annee
        and options_fragmentees.question = candidats.question
        and options_fragmentees.nb_fragments = candidats.longueur
        and options_fragmentees.cle_option = candidats.cle_candidat

),

-- A match inside an earlier-starting (or equal-starting, longer) match does not count: ordered by start
-- then length descending, a match is contained when a predecessor already reaches its end.
correspondances_retenues as (

    select * from correspondances
    qualify coalesce(
        max(debut + longueur) over (
            partition by snapshot_id, numero_ligne, question
            order by debut, longueur desc
            rows between unbounded preceding and 1 preceding
        ) < debut + longueur,
        true
    )

),

fragments_couverts as (

    select distinct
        snapshot_id,
        numero_ligne,
        question,
        unnest(range(debut, debut + longueur)) as position_fragment
    from correspondances_retenues

),

fragments as (

    select
        snapshot_id,
        numero_ligne,
        question,
        unnest(fragments) as fragment,
        generate_subscripts(fragments, 1) as position_fragment
    from cases_a_cocher

),

autres as (

    select
        fragments.snapshot_id,
        fragments.numero_ligne,
        fragments.question,
        regexp_replace(
            string_agg(fragments.fragment, ',' order by fragments.position_fragment),
            '^[{{ caracteres_espaces() }},;]+|[{{ caracteres_espaces() }},;]+$',
            '',
            'g'
        ) as texte_autre
    from fragments
    left join fragments_couverts
        on fragments_couverts.snapshot_id = fragments.snapshot_id
        and fragments_couverts.numero_ligne = fragments.numero_ligne
        and fragments_couverts.question = fragments.question
        and fragments_couverts.position_fragment = fragments.position_fragment
    where fragments_couverts.position_fragment is null
    group by fragments.snapshot_id, fragments.numero_ligne, fragments.question

),

rangs_autre as (

    select question, max(ordre_option) + 1 as ordre_option
    from {{ ref('stg_catalogue__options') }}
    group by question

),

choix as (

    select snapshot_id, numero_ligne, question, option, ordre_option, cast(null as varchar) as texte_autre
    from correspondances_retenues

    union all

    select snapshot_id, numero_ligne, question, option, ordre_option, cast(null as varchar) as texte_autre
    from entieres
    where option is not null

    union all

    select entieres.snapshot_id, entieres.numero_ligne, entieres.question, 'Autre' as option,
        rangs_autre.ordre_option, entieres.valeur as texte_autre
    from entieres
    inner join rangs_autre on rangs_autre.question = entieres.question
    where entieres.option is null

    union all

    select autres.snapshot_id, autres.numero_ligne, autres.question, 'Autre' as option,
        rangs_autre.ordre_option, autres.texte_autre
    from autres
    inner join rangs_autre on rangs_autre.question = autres.question
    where autres.texte_autre <> ''

),

final as (

    select
        snapshot_id,
        numero_ligne,
        question,
        option,
        min(ordre_option) as ordre_option,
        string_agg(texte_autre, ', ') as texte_autre
    from choix
    group by snapshot_id, numero_ligne, question, option

)

select * from final
