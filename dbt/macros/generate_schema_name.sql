{#- Marts land in the schema named in dbt_project.yml (`bilan`, `qualite`), verbatim, not prefixed
    with the target schema: the published file exposes exactly these names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
