{#- Statistical secrecy of the questionnaire, one rule for every questionnaire mart: a minimum group size.

    A group is (annee, question, departement), departement being a network département or 'ensemble' (the
    sum of the départements); its size is how many of its respondents answered the question. `groupes`
    names a relation with one row per group and the columns annee, question, departement,
    repondants_question and seuil_confidentialite (K). Returns the same rows with `secret`:
    - a group of at least K respondents is shown whole, its small answers included;
    - a group of fewer than K respondents is secret whole; when it is 'ensemble', so is every group of
      that question and year;
    - complement: 'ensemble' minus the shown départements gives a lone secret département back, so when
      'ensemble' is shown and exactly one département group is secret, the smallest shown département
      group is secret too. An empty secret group has nothing to give back and calls for no complement. -#}
{% macro secret_des_groupes(groupes) -%}
    select
        annee,
        question,
        departement,
        repondants_question,
        seuil_confidentialite,
        trop_petit
        or ensemble_trop_petit
        or (departement <> 'ensemble' and nb_departements_a_proteger = 1 and rang_parmi_affiches = 1)
            as secret
    from (
        select
            tailles.*,
            bool_or(departement = 'ensemble' and trop_petit) over question_annee as ensemble_trop_petit,
            count(*) filter (where departement <> 'ensemble' and trop_petit and repondants_question > 0)
                over question_annee as nb_departements_a_proteger,
            -- rank 1 among the shown départements is the smallest one (then the first code)
            row_number() over (
                partition by annee, question, departement = 'ensemble', trop_petit
                order by repondants_question, departement
            ) as rang_parmi_affiches
        from (
            select
                *,
                repondants_question < seuil_confidentialite as trop_petit
            from {{ groupes }}
        ) as tailles
        window question_annee as (partition by annee, question)
    ) as groupes_ranges
{%- endmacro %}
