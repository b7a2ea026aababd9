{#- Date and date-time cells, as Google Sheets exports them:
    - serial numbers, days since 1899-12-30, a fraction being the time of day ("43620", "43805.5"), only
      between 20000 and 80000 (1954-10-03 to 2119-01-10): a smaller number is a bare year or a count typed in a
      date column ("2019" would otherwise be 1905-07-11);
    - French day-first dates, day and month on 1 or 2 digits, optional time ("4/6/2019",
      "04/12/2019 10:32:15"); '.' or '-' separators are accepted as well;
    - ISO dates and date-times ("2019-06-04", "2019-06-04 10:32:15", "2019-06-04T10:32:15").
    Anything else, and impossible dates such as 31/02/2019, gives null.
    The order of day and month is decided per column of a file, not per cell (ordre_jour_mois): a model
    refuses a column that only reads month-first instead of reading some of its cells swapped. -#}

{% macro parser_horodatage(expression) -%}
    {%- set texte -%}
        {{ nettoyer_texte(expression) }}
    {%- endset -%}
    case
        when regexp_full_match({{ texte }}, '[0-9]{1,6}([.,][0-9]+)?')
            and cast(replace({{ texte }}, ',', '.') as double) between 20000 and 80000
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


{#- What one day/month/year cell proves about its column's order: 'jour_mois' when its first number
    cannot be a month (> 12, "25/12/2019"), 'mois_jour' when its second cannot ("12/25/2019"), null when
    both readings are possible ("04/06/2019") or the cell is not of that form (ISO, serial). -#}
{% macro preuve_ordre_date(expression) -%}
    case
        when regexp_full_match({{ nettoyer_texte(expression) }}, '[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}.*')
            then case
                when cast(regexp_extract({{ nettoyer_texte(expression) }}, '^([0-9]+)', 1) as integer) > 12
                    then 'jour_mois'
                when cast(regexp_extract({{ nettoyer_texte(expression) }}, '^[0-9]+[/.-]([0-9]+)', 1) as integer) > 12
                    then 'mois_jour'
            end
    end
{%- endmacro %}


{#- Order of day and month of a date column, decided once from all its cells (a window over `partition`,
    e.g. the snapshot): 'mois_jour' when some cell proves month-first and none proves day-first (an export
    re-saved by an English-locale program: the column is refused, never read swapped), else 'jour_mois'
    (the French default; with proofs both ways each month-first cell is an impossible date, so unreadable). -#}
{% macro ordre_jour_mois(expression, partition) -%}
    case
        when bool_or({{ preuve_ordre_date(expression) }} = 'mois_jour') over (partition by {{ partition }})
            and not coalesce(
                bool_or({{ preuve_ordre_date(expression) }} = 'jour_mois') over (partition by {{ partition }}), false
            )
            then 'mois_jour'
        else 'jour_mois'
    end
{%- endmacro %}


{#- True for a date cell missing its day: a bare year ("2019"), a month and year ("06/2019", "2019-06",
    "juin 2019", or French Excel's "juin-19" / "janv.-19"). Such a cell is an incomplete date, not an
    unreadable one, and never a serial number. -#}
{% macro est_date_incomplete(expression) -%}
    coalesce(
        regexp_full_match(
            {{ normaliser_texte(expression) }},
            '(19|20)[0-9]{2}|[0-9]{1,2}[/.-](19|20)[0-9]{2}|(19|20)[0-9]{2}[/.-][0-9]{1,2}'
            || '|(janv|fevr?|mars|avr|mai|juin|juil|aout|sept?|oct|nov|dec)[a-z]*[.]?[ -]?([0-9]{2}|(19|20)[0-9]{2})'
        ),
        false
    )
{%- endmacro %}
