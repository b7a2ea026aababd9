"""Indicator exports for the CAF: XLSX (one sheet per département and one for the network) and CSV.

Both are safe to open in a spreadsheet: a text cell that a spreadsheet could read as a formula
(starting with =, +, -, @, a tab or a carriage return) gets a leading single quote (OWASP "CSV
injection"), while numbers stay numbers (typed numeric cells in XLSX, unquoted in CSV).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from flows.pipeline.publish import open_published
from flows.storage import writing_atomically
from flows.vocabulary import ENSEMBLE

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NUMBER_FORMATS = {"compte": "0", "jours": "0.0##", "taux": "0.0%"}
CSV_HEADER = ("Année", "Département", "Nom du département", "Code indicateur", "Indicateur", "Nature", "Valeur",
              "Statut")
RATE_DECIMALS = 3  # a rate to one decimal of a percent (0.407 = 40,7 %): the precision the figures carry
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
MAX_SHEET_TITLE = 31  # Excel's limit on a sheet's name
MAX_PAGE_HEADER = 250  # Excel ignores a printed header longer than 255 characters
EXCEL_MAX_ROWS = 1_048_576
DETAIL_BATCH_ROWS = 10_000
INDICATOR_HEADERS = ("Indicateur", "Code indicateur")  # the French label first; the code to join other files

EXPORT_QUERY = """
    select
        i.annee,
        i.departement,
        coalesce(r.nom_departement, case when i.departement = 'ensemble' then 'Ensemble du réseau' end,
            i.departement) as nom_departement,
        i.indicateur,
        d.libelle,
        d.nature,
        d.ordre,
        d.description,
        i.valeur
    from bilan.indicateurs_annuels as i
    inner join bilan.definitions_indicateurs as d on d.indicateur = i.indicateur
    left join bilan.departements_reseau as r on r.departement = i.departement
    where i.annee <= ?
    order by i.departement = 'ensemble', i.departement, d.ordre, i.annee
"""


DETAIL_SUBJECTS = {
    "Questionnaire": "Résultats du questionnaire par question et par département, tels que publiés au bilan",
    "Actions détaillées": "Actions détaillées de l'année du bilan, telles que publiées (intitulés non publiés laissés "
                          "vides)",
}
# The published detail a CAF analyst asks for beside the indicators, as the bilan shows it (secret cells
# withheld, withheld titles empty); a sheet each, departement codes as text. The questionnaire keeps every year
# (its results are compared across years); the actions are the bilan's year, as its « Où le réseau a agi »: every
# year's list in every year's file made a national workbook of 200,000 rows that cost most of the nightly bilans.
DETAIL_SHEETS = {
    "Questionnaire": (
        ("Année", "Département", "Code département", "Question", "Réponse", "Répondants à la question",
         "Répondants", "Part"),
        """
        select q.annee, coalesce(r.nom_departement, 'Ensemble du réseau'), q.departement, q.libelle_question,
            q.reponse, q.repondants_question, q.repondants, round(q.part, 3), q.secret
        from bilan.reponses_questionnaire as q
        left join bilan.departements_reseau as r on r.departement = q.departement
        where q.annee <= ?
        order by q.annee, q.ordre_question, q.ordre_reponse, q.departement = 'ensemble', q.departement
        """,
    ),
    "Actions détaillées": (
        ("Année", "Date", "Département", "Code département", "Type d'action", "Intitulé", "Commune"),
        """
        select a.annee, a.date_action, coalesce(r.nom_departement, 'Actions communes'), a.departement,
            a.type_action, a.intitule, a.commune
        from bilan.actions_detaillees as a
        left join bilan.departements_reseau as r on r.departement = a.departement
        where a.annee = ?
        order by a.date_action, a.departement, a.type_action
        """,
    ),
}


@dataclass(frozen=True)
class Entete:
    """What the exports say about themselves: the network, the date of the figures, the year in progress."""

    reseau: str
    publie_le: str  # French date and time, Paris
    provisoire: int | None = None  # the year not over at the date of the figures

    def titre(self, annee: int) -> str:
        """One line naming the network, the year and the date of the figures."""
        return f"Promeneurs du Net — {self.reseau} — indicateurs jusqu'à {annee}, chiffres du {self.publie_le}"

    def mention(self) -> str | None:
        """« provisoire » with its reason, when a year is not over."""
        if self.provisoire is None:
            return None
        return f"Chiffres {self.provisoire} provisoires : l'année n'était pas terminée à la date des chiffres."


@dataclass(frozen=True)
class Ligne:
    """One indicator value of the published mart."""

    annee: int
    departement: str
    nom_departement: str
    indicateur: str
    libelle: str
    nature: str
    ordre: int
    description: str
    valeur: float


def neutralise(text: str) -> str:
    """Prefix a text a spreadsheet would evaluate as a formula with a single quote (OWASP)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def typed_value(value: float | None, nature: str) -> int | float | None:
    """Counts as integers, durations and rates as decimals: a number, never text; None when not measured."""
    if value is None:
        return None
    if nature == "compte" and float(value).is_integer():
        return int(value)
    if nature == "taux":
        return round(float(value), RATE_DECIMALS)
    return float(value)


def year_status(year: int, revisions: dict[int, str], entete: Entete | None) -> str:
    """« provisoire », « révisé le … » or « définitif »: how far a year's figures can be relied on."""
    if entete is not None and year == entete.provisoire:
        return "provisoire"
    return revisions.get(year, "définitif")


class _Book:
    """The workbook being written, streamed row by row (xlsxwriter's constant-memory mode: a national detail
    sheet of a million rows costs no memory), with the few cell styles the exports use."""

    def __init__(self, path: Path):
        import xlsxwriter

        # Typed writes only (write_string, write_number…); the options are a second guard if one slipped.
        self.workbook = xlsxwriter.Workbook(str(path), {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False,
        })
        add = self.workbook.add_format
        self.formats = {
            "titre": add({"bold": True, "font_size": 13}), "gras": add({"bold": True}),
            "alerte": add({"bold": True, "font_color": "#B3261E"}), "note": add({"italic": True}),
            "date": add({"num_format": "DD/MM/YYYY"}), "part": add({"num_format": "0.0%"}),
            **{nature: add({"num_format": fmt}) for nature, fmt in NUMBER_FORMATS.items()},
        }
        self.titles: set[str] = set()

    def sheet(self, title: str):
        """A new sheet; a title already taken (two long names cut at 31 characters) gets a number."""
        unique, number = title, 2
        while unique.casefold() in self.titles:
            suffix = f" ({number})"
            unique, number = title[:MAX_SHEET_TITLE - len(suffix)] + suffix, number + 1
        self.titles.add(unique.casefold())
        return self.workbook.add_worksheet(unique)

    def text(self, sheet, row: int, column: int, text: str, style: str | None = None) -> None:
        """A text cell that can never become a formula (neutralised, and typed as a string); 1-based."""
        sheet.write_string(row - 1, column - 1, neutralise(text), self.formats.get(style))

    def number(self, sheet, row: int, column: int, value: float, style: str | None = None) -> None:
        sheet.write_number(row - 1, column - 1, value, self.formats.get(style))


def _print_setup(sheet, title: str, header_row: int) -> None:
    """Landscape A4, one page wide, header row repeated, the title block and page numbers in the margins."""
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(header_row - 1)
    text = title.replace("&", "&&")
    if len(text) > MAX_PAGE_HEADER:  # Excel drops a longer header (a national network's name is long)
        text = text[:MAX_PAGE_HEADER - 1].rstrip("&") + "…"
    sheet.set_header("&C" + text)
    sheet.set_footer("&RPage &P / &N")


def _title_lines(subject: str, annee: int, entete: Entete | None) -> list[tuple[str, str | None]]:
    """The title block above a table (network, years, date of the figures, « provisoire »), with each line's style."""
    lines = [(entete.titre(annee) if entete else f"Promeneurs du Net — indicateurs jusqu'à {annee}", "titre"),
             (subject, "gras")]
    if entete is not None:
        lines.append((f"Chiffres de l'entrepôt publié le {entete.publie_le} (heure de Paris).", None))
        if entete.mention():
            lines.append((entete.mention(), "alerte"))
    return lines


def _title_block(book: _Book, sheet, subject: str, annee: int, entete: Entete | None) -> int:
    """The title block in the sheet's own cells, so that a copied sheet still says what it holds; returns the
    first row after it."""
    lines = _title_lines(subject, annee, entete)
    for row, (text, style) in enumerate(lines, start=1):
        book.text(sheet, row, 1, text, style)
    return len(lines) + 2  # a blank row between the block and the table


def _header(book: _Book, sheet, row: int, headers: list[str | int]) -> int:
    """The table's header row (years as numbers, labels as text), in bold; returns its row number."""
    for column, header in enumerate(headers, start=1):
        if isinstance(header, int):
            book.number(sheet, row, column, header, "gras")
        else:
            book.text(sheet, row, column, header, "gras")
    return row


def _status_row(book: _Book, sheet, row: int, years: list[int], first_year_column: int, revisions: dict[int, str],
                entete: Entete | None) -> bool:
    """Above the years' header, how far each year can be relied on (« provisoire », « révisé le … »), when one
    is not final: the header itself keeps the years as numbers. True when the row was written."""
    statuses = {year: year_status(year, revisions, entete) for year in years}
    if set(statuses.values()) <= {"définitif"}:
        return False
    book.text(sheet, row, 1, "Statut des chiffres", "note")
    for offset, year in enumerate(years):
        if statuses[year] != "définitif":
            book.text(sheet, row, first_year_column + offset, statuses[year], "alerte")
    return True


def read_lines(published_db: Path, annee: int) -> list[Ligne]:
    """Every indicator value up to `annee`, read-only from the published file."""
    with open_published(published_db) as con:
        rows = con.execute(EXPORT_QUERY, [int(annee)]).fetchall()
    return [Ligne(*row) for row in rows]


def _sheet_title(name: str, code: str) -> str:
    title = name if code == ENSEMBLE else f"{name} ({code})"
    return SHEET_FORBIDDEN.sub(" ", title).strip("'")[:MAX_SHEET_TITLE].strip("'") or code


def _revisions_sheet(book: _Book, revisions: dict[int, str], annee: int, entete: Entete | None) -> None:
    """A sheet saying which closed years were revised since their closing, and when."""
    sheet = book.sheet("Révisions")
    header = _header(book, sheet, _title_block(book, sheet, "Années closes révisées depuis leur clôture", annee,
                                               entete), ["Année", "Mention"])
    for row, (year, mention) in enumerate(sorted(revisions.items()), start=header + 1):
        book.number(sheet, row, 1, year)
        book.text(sheet, row, 2, f"Chiffres {mention}")
    sheet.set_column(1, 1, 40)


def _about_sheet(book: _Book, entete: Entete, annee: int) -> None:
    """The title block: network, years, date of the figures, and « provisoire » when a year is not over."""
    sheet = book.sheet("À propos")
    book.text(sheet, 1, 1, entete.titre(annee), "gras")
    book.text(sheet, 2, 1, f"Chiffres de l'entrepôt publié le {entete.publie_le} (heure de Paris).")
    if entete.mention():
        book.text(sheet, 3, 1, entete.mention(), "alerte")
    sheet.set_column(0, 0, 110)


def read_details(con, annee: int) -> dict[str, Iterator[tuple]]:
    """The rows of each detail sheet for `annee` (the questionnaire's up to it), streamed from an open connection
    to the published file (a mart missing from an older warehouse gives no sheet)."""
    tables = {name for (name,) in con.execute(
        "select table_name from information_schema.tables where table_schema = 'bilan'"
    ).fetchall()}
    return {title: _streamed(con, query, annee) for title, (_, query) in DETAIL_SHEETS.items()
            if query.split("from bilan.", 1)[1].split()[0] in tables}


def _streamed(con, query: str, annee: int) -> Iterator[tuple]:
    """A query's rows by batches, so a national detail table is never held whole in memory; run when first read."""
    result = con.execute(query, [int(annee)])
    while batch := result.fetchmany(DETAIL_BATCH_ROWS):
        yield from map(_withheld, batch)


def _withheld(row: tuple) -> tuple:
    """A questionnaire row under statistical secrecy shows « secret », never its counts (other rows as is)."""
    if len(row) != len(DETAIL_SHEETS["Questionnaire"][0]) + 1:
        return row
    return row[:-3] + (("secret", "secret") if row[-1] else row[-3:-1])


def _detail_sheets(book: _Book, title: str, rows: Iterable[tuple], annee: int, entete: Entete | None,
                   max_rows: int) -> None:
    """A detail table, on as many sheets as a sheet's row limit needs (« Actions détaillées (2) »…); text stays
    text (codes like 03, titles neutralised), numbers and dates typed."""
    per_sheet = max_rows - len(_title_lines(DETAIL_SUBJECTS[title], annee, entete)) - 2  # block, blank, header
    sheet, first_row = _detail_sheet(book, title, title, annee, entete)
    written, part = 0, 1
    for row in rows:
        if written == per_sheet:
            part += 1
            sheet, first_row = _detail_sheet(book, f"{title} ({part})", title, annee, entete)
            written = 0
        for column, value in enumerate(row):
            if isinstance(value, str):
                book.text(sheet, first_row + written, column + 1, value)
            elif hasattr(value, "strftime"):
                sheet.write_datetime(first_row + written - 1, column, value, book.formats["date"])
            elif value is not None:
                book.number(sheet, first_row + written, column + 1, value, "part" if isinstance(value, float) else None)
        written += 1


def _detail_sheet(book: _Book, sheet_title: str, title: str, annee: int, entete: Entete | None) -> tuple[object, int]:
    """A detail sheet's title block, header, panes, widths and print setup; returns it and its first data row."""
    sheet = book.sheet(sheet_title)
    header = _header(book, sheet, _title_block(book, sheet, DETAIL_SUBJECTS[title], annee, entete),
                     list(DETAIL_SHEETS[title][0]))
    sheet.freeze_panes(header, 0)
    for column, width in enumerate((8, 22, 10, 40, 40, 14, 12, 10)):
        sheet.set_column(column, column, width)
    if entete is not None:
        _print_setup(sheet, " — ".join(filter(None, [entete.titre(annee), entete.mention()])), header)
    return sheet, header + 1


def _indicator_sheet(book: _Book, own: list[Ligne], years: list[int], revisions: dict[int, str],
                     entete: Entete | None) -> None:
    """One département's (or the network's) sheet: the title block, then indicators down and years across."""
    code, name = own[0].departement, own[0].nom_departement
    sheet = book.sheet(_sheet_title(name, code))
    subject = f"Indicateurs : {name}" if code == ENSEMBLE else f"Indicateurs : {name} ({code})"
    first_row = _title_block(book, sheet, subject, max(years), entete)
    first_year = len(INDICATOR_HEADERS) + 1
    header = first_row + _status_row(book, sheet, first_row, years, first_year, revisions, entete)
    _header(book, sheet, header, [*INDICATOR_HEADERS, *years])
    indicators = list(dict.fromkeys((line.indicateur, line.libelle, line.nature) for line in own))
    values = {(line.indicateur, line.annee): line.valeur for line in own}
    for row, (indicateur, libelle, nature) in enumerate(indicators, start=header + 1):
        book.text(sheet, row, 1, libelle)
        book.text(sheet, row, 2, indicateur)
        for offset, year in enumerate(years):
            if values.get((indicateur, year)) is not None:  # not measured: an empty cell, never 0
                book.number(sheet, row, first_year + offset, typed_value(values[(indicateur, year)], nature), nature)
    sheet.freeze_panes(header, 2)
    sheet.set_column(0, 0, 46)
    sheet.set_column(1, 1, 34)
    if entete is not None:
        _print_setup(sheet, " — ".join(filter(None, [entete.titre(max(years)), entete.mention()])), header)


def _definitions_sheet(book: _Book, lines: list[Ligne], annee: int, entete: Entete | None) -> None:
    """Each indicator once: its French label, code, nature and definition."""
    sheet = book.sheet("Définitions")
    header = _header(book, sheet, _title_block(book, sheet, "Définitions des indicateurs", annee, entete),
                     [*INDICATOR_HEADERS, "Nature", "Définition"])
    unique = {line.indicateur: line for line in lines}.values()
    for row, line in enumerate(sorted(unique, key=lambda line: line.ordre), start=header + 1):
        for column, text in enumerate((line.libelle, line.indicateur, line.nature, line.description), start=1):
            book.text(sheet, row, column, text)
    sheet.set_column(0, 0, 46)
    sheet.set_column(1, 1, 34)
    sheet.set_column(3, 3, 100)


def write_xlsx(
    lines: list[Ligne], path: Path, revisions: dict[int, str] | None = None, entete: Entete | None = None,
    details: dict[str, Iterable[tuple]] | None = None, max_rows: int = EXCEL_MAX_ROWS,
) -> Path:
    """One sheet per département then the network: indicators down (French label first, then the code), years
    across as numbers; a definitions sheet; the questionnaire's results and the detailed actions as published
    (`details`). Every table sheet opens with its title block; the table's header row follows it.

    `revisions`: « révisé le … » by closed year revised since its closing, above each year's header and a sheet;
    `entete`: the title block (each sheet's printed header, and an « À propos » sheet), « provisoire » included;
    `max_rows`: rows a sheet may hold (Excel's limit); a longer detail table continues on a numbered sheet."""
    revisions = revisions or {}
    years = sorted({line.annee for line in lines})
    annee = max(years)
    with writing_atomically(path) as partial:
        book = _Book(partial)
        for code in dict.fromkeys(line.departement for line in lines):
            _indicator_sheet(book, [line for line in lines if line.departement == code], years, revisions, entete)
        _definitions_sheet(book, lines, annee, entete)
        for title, rows in (details or {}).items():
            _detail_sheets(book, title, rows, annee, entete, max_rows)
        if revisions:
            _revisions_sheet(book, revisions, annee, entete)
        if entete is not None:
            _about_sheet(book, entete, annee)
        book.workbook.close()
    return path


def _csv_number(value: int | float | None) -> str:
    """A number as French Excel reads it: decimal comma, shortest exact digits; empty when not measured."""
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else repr(value).replace(".", ",")


def write_csv(
    lines: list[Ligne], path: Path, revisions: dict[int, str] | None = None, entete: Entete | None = None
) -> Path:
    """Long form, one row per year, département and indicator (French Excel: ';', decimal comma, BOM); the
    last column says whether the year is « provisoire », « révisé le … » or « définitif »."""
    revisions = revisions or {}
    with writing_atomically(path) as partial, open(partial, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow(CSV_HEADER)
        for line in lines:
            writer.writerow([
                line.annee,
                neutralise(line.departement),
                neutralise(line.nom_departement),
                neutralise(line.indicateur),
                neutralise(line.libelle),
                neutralise(line.nature),
                _csv_number(typed_value(line.valeur, line.nature)),
                year_status(line.annee, revisions, entete),
            ])
    return path


def write_exports(
    published_db: Path, annee: int, out_dir: Path, revisions: dict[int, str] | None = None,
    entete: Entete | None = None,
) -> tuple[Path, Path]:
    """Write bilan-<année>.xlsx and bilan-<année>.csv (every year up to `annee`) into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = read_lines(published_db, annee)
    with open_published(published_db) as con:  # the detail rows stream from it while the workbook is written
        xlsx = write_xlsx(lines, out_dir / f"bilan-{annee}.xlsx", revisions, entete, read_details(con, annee))
    return xlsx, write_csv(lines, out_dir / f"bilan-{annee}.csv", revisions, entete)
