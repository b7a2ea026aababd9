{#- Numbers typed in French: decimal comma ("0,5"), spaces as thousands separators ("1 200").
    Anything that is not a plain number (text, "NaN", "inf") gives null. -#}

{% macro parser_decimal(expression) -%}
    {%- set texte -%}
        regexp_replace(cast({{ expression }} as varchar), '{{ classe_espaces() }}', '', 'g')
    {%- endset -%}
    case
        when regexp_full_match({{ texte }}, '[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)')
            then cast(replace({{ texte }}, ',', '.') as double)
    end
{%- endmacro %}


{#- A whole number ("12", "12,0"); null when the cell is not a number or has a fractional part. -#}
{% macro parser_entier(expression) -%}
    case
        when {{ parser_decimal(expression) }} = floor({{ parser_decimal(expression) }})
            and abs({{ parser_decimal(expression) }}) < 1e15
            then cast({{ parser_decimal(expression) }} as bigint)
    end
{%- endmacro %}
