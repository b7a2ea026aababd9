{#- Complementary statistical secrecy, one rule for every questionnaire mart: a cell is secret when it is
    itself too small (`secret_primaire`), or when it is the smallest visible département cell of a group in
    which exactly one other département cell is secret while 'ensemble' is shown (otherwise the secret
    could be recovered as ensemble minus the visible cells). Expects the columns nb_departements_secrets,
    ensemble_secret and rang_parmi_visibles computed over the group. -#}
{% macro secret_avec_complement(secret_primaire) -%}
    {{ secret_primaire }}
    or (
        departement <> 'ensemble'
        and nb_departements_secrets = 1
        and not ensemble_secret
        and rang_parmi_visibles = 1
    )
{%- endmacro %}
