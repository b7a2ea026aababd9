{#- Long form of the choice questions: one row per response line, question and chosen option.

    Google Forms writes checkbox answers as the chosen options joined with ', ' in form order, then
    the "Autre" free text. Several options contain ', ' themselves, so the cell is never split naively:
    it is cut on every comma into fragments, and an option matches when its own fragments, compared
    by matching key (case, accents, apostrophes, spaces ignored), equal consecutive fragments of the
    cell. The fragments no option covers, re-joined and stripped of separators, are the "Autre" text,
    kept verbatim (original case and accents). The single-choice question `echanges` is already
    canonical in staging. -#}

with

reponses as (

    select * from {{ ref('stg_sheets__reponses') }}

),

options_questionnaire as (

    select * from {{ ref('options_questionnaire') }}

),

reponses_cases as (

    {%- for question in ['supports', 'reseaux', 'publications'] %}
    select
        snapshot_id,
        numero_ligne,
        '{{ question }}' as question,
        string_split({{ question }}_brut, ',') as fragments
    from reponses
    where {{ question }}_brut is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

fragments as (

    select
        snapshot_id,
        numero_ligne,
        question,
        unnest(fragments) as fragment,
        generate_subscripts(fragments, 1) as position_fragment
    from reponses_cases

),

cles_reponses as (

    select
        snapshot_id,
        numero_ligne,
        question,
        list_transform(fragments, lambda f: coalesce({{ normaliser_texte('f') }}, '')) as cles
    from reponses_cases

),

options_cases as (

    select
        question,
        option,
        ordre,
        len(string_split(option, ',')) as nb_fragments,
        array_to_string(
            list_transform(string_split(option, ','), lambda f: coalesce({{ normaliser_texte('f') }}, '')),
            ', '
        ) as cle_option
    from options_questionnaire
    where question <> 'echanges'

),

longueurs as (

    select unnest(range(1, max(nb_fragments) + 1)) as longueur
    from options_cases

),

-- Every run of 1..n consecutive fragments of every cell, as a matching key.
candidats as (

    select
        cles_reponses.snapshot_id,
        cles_reponses.numero_ligne,
        cles_reponses.question,
        positions.debut,
        longueurs.longueur,
        array_to_string(
            cles_reponses.cles[positions.debut:positions.debut + longueurs.longueur - 1], ', '
        ) as cle_candidat
    from cles_reponses
    cross join unnest(range(1, len(cles_reponses.cles) + 1)) as positions (debut)
    inner join longueurs on positions.debut + longueurs.longueur - 1 <= len(cles_reponses.cles)

),

correspondances as (

    select
        candidats.*,
        options_cases.option,
        options_cases.ordre
    from candidats
    inner join options_cases
        on options_cases.question = candidats.question
        and options_cases.nb_fragments = candidats.longueur
        and options_cases.cle_option = candidats.cle_candidat

),

-- A match inside a longer match (an option that is a piece of another option) does not count.
correspondances_retenues as (

    select courte.*
    from correspondances as courte
    where not exists (
        select 1
        from correspondances as longue
        where
            longue.snapshot_id = courte.snapshot_id
            and longue.numero_ligne = courte.numero_ligne
            and longue.question = courte.question
            and longue.longueur > courte.longueur
            and longue.debut <= courte.debut
            and longue.debut + longue.longueur >= courte.debut + courte.longueur
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
    where not exists (
        select 1
        from fragments_couverts
        where
            fragments_couverts.snapshot_id = fragments.snapshot_id
            and fragments_couverts.numero_ligne = fragments.numero_ligne
            and fragments_couverts.question = fragments.question
            and fragments_couverts.position_fragment = fragments.position_fragment
    )
    group by fragments.snapshot_id, fragments.numero_ligne, fragments.question

),

rangs_autre as (

    select question, max(ordre) + 1 as ordre
    from options_questionnaire
    group by question

),

final as (

    select distinct
        snapshot_id,
        numero_ligne,
        question,
        option,
        ordre,
        cast(null as varchar) as texte_autre
    from correspondances_retenues

    union all

    select
        autres.snapshot_id,
        autres.numero_ligne,
        autres.question,
        'Autre' as option,
        rangs_autre.ordre,
        autres.texte_autre
    from autres
    inner join rangs_autre on rangs_autre.question = autres.question
    where autres.texte_autre <> ''

    union all

    select
        reponses.snapshot_id,
        reponses.numero_ligne,
        'echanges' as question,
        reponses.echanges as option,
        options_questionnaire.ordre,
        cast(null as varchar) as texte_autre
    from reponses
    inner join options_questionnaire
        on options_questionnaire.question = 'echanges'
        and options_questionnaire.option = reponses.echanges

)

select * from final
