{#- Long form of the answers to the catalogue's choice and scale questions: one row per response,
    question and chosen option. Generic over the catalogue (stg_catalogue__options).

    - A single choice or a scale note is the whole cell, matched to an option or one of its variants.
      A single choice matching no option counts under « Autre » (Forms' own « Autre : … »; listed in
      int_cellules_signalees); a scale note outside 1-5 quarantines its response (int_reponses_validated).
      A single choice asked in two columns of one title (a question deleted and recreated) counts the rightmost
      column's answer, the response's current one; int_cellules_signalees flags the columns' disagreement.
    - A Google Forms checkbox answer arrives as a list of choices: each is an option or « Autre ».
    - A response sheet writes checkbox answers as the chosen options joined with ', ' in form order, then
      the « Autre » text. Several options contain ', ' themselves, so the cell is never split naively: it is
      cut on every comma into fragments, and an option matches when its own fragments (compared by matching
      key) equal consecutive fragments of the cell; a match inside a longer match does not count. The
      fragments no option covers, re-joined, are the « Autre » text (kept verbatim, never published).
    Each cell is read on its own, with list functions over its fragments and its question's few options
    (one small join on campaign year and question, no join or window across cells): linear in answers. -#}

with

cellules as (

    select
        cellules.snapshot_id,
        cellules.numero_ligne,
        case when questions.type_question = 'choix_unique' then cellules.valeur_droite else cellules.valeur end
            as valeur,
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

-- The options each campaign year offered (an option matches only in the campaigns that offered it), one
-- row per spelling, with its matching key.
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

rangs_autre as (

    select question, max(ordre_option) + 1 as ordre_option
    from {{ ref('stg_catalogue__options') }}
    group by question

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

-- For checkbox cells, per campaign year and question: a look-up from a spelling's key, rebuilt from its
-- comma-separated pieces as a cell's runs of fragments are, to the options it stands for; and the lengths
-- (in fragments) of those spellings. A spelling with another number of commas than its option's label
-- never matches a run.
options_fragmentees as (

    select
        campagne_annee,
        question,
        map_from_entries(list({'key': cle, 'value': options})) as par_cle,
        list_distinct(list(nb_fragments)) as longueurs
    from (
        select
            campagne_annee,
            question,
            array_to_string(list_transform(string_split(cle_option, ','), lambda f: trim(f)), ', ') as cle,
            nb_fragments,
            list({'option': option, 'ordre': ordre_option} order by ordre_option) as options
        from options
        where len(string_split(cle_option, ',')) = nb_fragments
        group by all
    )
    group by campagne_annee, question

),

-- A response-sheet checkbox cell cut on commas: its fragments as typed, and their keys (the cell's key cut on
-- the same commas: one normalisation per cell, not per fragment).
coupees as (

    select
        snapshot_id,
        numero_ligne,
        campagne_annee,
        question,
        string_split(valeur, ',') as fragments,
        list_transform(string_split({{ normaliser_texte('valeur') }}, ','), lambda f: trim(f)) as cles
    from cellules
    where type_question = 'choix_multiple' and choix is null

),

-- Every run of consecutive fragments [debut, fin) as long as some option of the question, looked up by its
-- key: the matches, by start, then longest first (moins_longueur), then the option's rank.
correspondances as (

    select
        coupees.snapshot_id,
        coupees.numero_ligne,
        coupees.question,
        coupees.fragments,
        list_sort(flatten(list_transform(
            flatten(list_transform(
                options_fragmentees.longueurs,
                lambda longueur: list_transform(
                    range(1, len(coupees.cles) - longueur + 2),
                    lambda debut: {
                        'debut': debut,
                        'fin': debut + longueur,
                        'cle': array_to_string(coupees.cles[debut:debut + longueur - 1], ', ')
                    }
                )
            )),
            lambda run: list_transform(
                coalesce(options_fragmentees.par_cle[run.cle], []),
                lambda o: {
                    'debut': run.debut,
                    'moins_longueur': run.debut - run.fin,
                    'ordre': o.ordre,
                    'option': o.option,
                    'fin': run.fin
                }
            )
        ))) as trouvees
    from coupees
    left join options_fragmentees
        on options_fragmentees.campagne_annee = coupees.campagne_annee
        and options_fragmentees.question = coupees.question

),

-- A match inside an earlier-starting (or equal-starting, longer) match does not count: in that order, a match
-- counts when it ends after every match before it. The fragments no counted match covers, re-joined as typed,
-- are the « Autre » text.
cases_a_cocher as (

    select
        snapshot_id,
        numero_ligne,
        question,
        retenues,
        regexp_replace(
            array_to_string(
                list_filter(
                    fragments,
                    lambda f, position:
                        len(list_filter(retenues, lambda m: position >= m.debut and position < m.fin)) = 0
                ),
                ','
            ),
            '^[{{ caracteres_espaces() }},;]+|[{{ caracteres_espaces() }},;]+$',
            '',
            'g'
        ) as texte_autre
    from (
        select
            *,
            list_filter(
                coalesce(trouvees, []),
                lambda m, i: i = 1 or list_max(list_transform(trouvees[1:i - 1], lambda p: p.fin)) < m.fin
            ) as retenues
        from correspondances
    )

),

choix as (

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

    select
        snapshot_id,
        numero_ligne,
        question,
        unnest(list_transform(retenues, lambda m: m.option)) as option,
        unnest(list_transform(retenues, lambda m: m.ordre)) as ordre_option,
        cast(null as varchar) as texte_autre
    from cases_a_cocher

    union all

    select
        cases_a_cocher.snapshot_id,
        cases_a_cocher.numero_ligne,
        cases_a_cocher.question,
        'Autre' as option,
        rangs_autre.ordre_option,
        cases_a_cocher.texte_autre
    from cases_a_cocher
    inner join rangs_autre on rangs_autre.question = cases_a_cocher.question
    where cases_a_cocher.texte_autre <> ''

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
