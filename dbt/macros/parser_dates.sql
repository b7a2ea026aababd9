{#- Date and date-time cells, as Google Sheets exports them:
    - serial numbers, days since 1899-12-30, a fraction being the time of day ("43620", "43805.5");
    - French day-first dates, day and month on 1 or 2 digits, optional time ("4/6/2019",
      "04/12/2019 10:32:15"); '.' or '-' separators are accepted as well;
    - ISO dates and date-times ("2019-06-04", "2019-06-04 10:32:15", "2019-06-04T10:32:15").
    Anything else, and impossible dates such as 31/02/2019, gives null. -#}

{% macro parser_horodatage(expression) -%}
    {%- set texte -%}
        {{ nettoyer_texte(expression) }}
    {%- endset -%}
    case
        when regexp_full_match({{ texte }}, '[0-9]{1,6}([.,][0-9]+)?')
            then timestamp '1899-12-30'
                + to_seconds(cast(round(cast(replace({{ texte }}, ',', '.') as double) * 86400) as bigint))
        when regexp_full_match(
            {{ texte }}, '[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}( [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?)?'
        )
            then try_strptime(
                regexp_replace({{ texte }}, '^([0-9]+)[/.-]([0-9]+)[/.-]', '\1/\2/'),
                ['%d/%m/%Y %H:%M:%S', '%d/%m/%Y %H:%M', '%d/%m/%Y']
            )
        when regexp_full_match(
            {{ texte }}, '[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?'
        )
            then try_strptime(
                replace({{ texte }}, 'T', ' '),
                ['%Y-%m-%d %H:%M:%S.%f', '%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%d']
            )
    end
{%- endmacro %}


{% macro parser_date(expression) -%}
    cast({{ parser_horodatage(expression) }} as date)
{%- endmacro %}
