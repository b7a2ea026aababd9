"""Indicator exports for the CAF: XLSX (one sheet per département and one for the network) and CSV.

Both are safe to open in a spreadsheet: a text cell that a spreadsheet could read as a formula
(starting with =, +, -, @, a tab or a carriage return) gets a leading single quote (OWASP "CSV
injection"), while numbers stay numbers (typed numeric cells in XLSX, unquoted in CSV).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from openpyxl.styles import Font

from flows.pipeline.publish import open_published
from flows.storage import writing_atomically
from flows.vocabulary import ENSEMBLE

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NUMBER_FORMATS = {"compte": "0", "jours": "0.0##", "taux": "0.0%"}
CSV_HEADER = ("Année", "Département", "Nom du département", "Code indicateur", "Indicateur", "Nature", "Valeur",
              "Statut")
RATE_DECIMALS = 3  # a rate to one decimal of a percent (0.407 = 40,7 %): the precision the figures carry
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
TITLE_FONT = Font(bold=True, size=13)
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
    "Actions détaillées": "Actions détaillées, telles que publiées au bilan (intitulés non publiés laissés vides)",
}
# The published detail a CAF analyst asks for beside the indicators, as the bilan shows it (secret cells
# withheld, withheld titles empty); a sheet each, departement codes as text.
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
        where a.annee <= ?
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


def _print_setup(sheet, title: str, header_row: int) -> None:
    """Landscape A4, one page wide, header row repeated, the title block and page numbers in the margins."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.oddHeader.center.text = title.replace("&", "&&")
    sheet.oddFooter.right.text = "Page &P / &N"


def _title_block(sheet, subject: str, annee: int, entete: Entete | None) -> int:
    """The title block above a table, in the sheet's own cells (network, years, date of the figures,
    « provisoire »), so that a copied sheet still says what it holds; returns the first row after it."""
    lines = [(entete.titre(annee) if entete else f"Promeneurs du Net — indicateurs jusqu'à {annee}", TITLE_FONT),
             (subject, Font(bold=True))]
    if entete is not None:
        lines.append((f"Chiffres de l'entrepôt publié le {entete.publie_le} (heure de Paris).", None))
        if entete.mention():
            lines.append((entete.mention(), Font(bold=True, color="B3261E")))
    for row, (text, font) in enumerate(lines, start=1):
        cell = _text_cell(sheet, row, 1, text)
        if font is not None:
            cell.font = font
    return len(lines) + 2  # a blank row between the block and the table


def _header(sheet, row: int, headers: list[str | int], bold) -> int:
    """The table's header row (years as numbers, labels as text); returns its row number."""
    for column, header in enumerate(headers, start=1):
        cell = sheet.cell(row=row, column=column, value=header) if isinstance(header, int) else \
            _text_cell(sheet, row, column, header)
        cell.font = bold
    return row


def _status_row(sheet, row: int, years: list[int], first_year_column: int, revisions: dict[int, str],
                entete: Entete | None) -> bool:
    """Above the years' header, how far each year can be relied on (« provisoire », « révisé le … »), when one
    is not final: the header itself keeps the years as numbers. True when the row was written."""
    statuses = {year: year_status(year, revisions, entete) for year in years}
    if set(statuses.values()) <= {"définitif"}:
        return False
    _text_cell(sheet, row, 1, "Statut des chiffres").font = Font(italic=True)
    for offset, year in enumerate(years):
        if statuses[year] != "définitif":
            _text_cell(sheet, row, first_year_column + offset, statuses[year]).font = Font(bold=True, color="B3261E")
    return True


def read_lines(published_db: Path, annee: int) -> list[Ligne]:
    """Every indicator value up to `annee`, read-only from the published file."""
    with open_published(published_db) as con:
        rows = con.execute(EXPORT_QUERY, [int(annee)]).fetchall()
    return [Ligne(*row) for row in rows]


def _sheet_title(name: str, code: str) -> str:
    title = name if code == ENSEMBLE else f"{name} ({code})"
    return SHEET_FORBIDDEN.sub(" ", title).strip("'")[:31] or code


def _text_cell(sheet, row: int, column: int, text: str):
    """A text cell that can never become a formula (neutralised, and typed as a string)."""
    cell = sheet.cell(row=row, column=column)
    cell.value = neutralise(text)
    cell.data_type = "s"
    return cell


def _revisions_sheet(workbook, revisions: dict[int, str], bold, annee: int, entete: Entete | None) -> None:
    """A sheet saying which closed years were revised since their closing, and when."""
    sheet = workbook.create_sheet("Révisions")
    header = _header(sheet, _title_block(sheet, "Années closes révisées depuis leur clôture", annee, entete),
                     ["Année", "Mention"], bold)
    for row, (year, mention) in enumerate(sorted(revisions.items()), start=header + 1):
        sheet.cell(row=row, column=1, value=year)
        _text_cell(sheet, row, 2, f"Chiffres {mention}")
    sheet.column_dimensions["B"].width = 40


def _about_sheet(workbook, entete: Entete, annee: int, bold) -> None:
    """The title block: network, years, date of the figures, and « provisoire » when a year is not over."""
    sheet = workbook.create_sheet("À propos")
    _text_cell(sheet, 1, 1, entete.titre(annee)).font = bold
    _text_cell(sheet, 2, 1, f"Chiffres de l'entrepôt publié le {entete.publie_le} (heure de Paris).")
    if entete.mention():
        _text_cell(sheet, 3, 1, entete.mention()).font = Font(bold=True, color="B3261E")
    sheet.column_dimensions["A"].width = 110


def read_details(published_db: Path, annee: int) -> dict[str, list[tuple]]:
    """The rows of each detail sheet up to `annee` (a mart missing from an older warehouse gives no sheet)."""
    found = {}
    with open_published(published_db) as con:
        tables = {name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'bilan'"
        ).fetchall()}
        for title, (_, query) in DETAIL_SHEETS.items():
            table = query.split("from bilan.", 1)[1].split()[0]
            if table in tables:
                found[title] = [_withheld(row) for row in con.execute(query, [int(annee)]).fetchall()]
    return found


def _withheld(row: tuple) -> tuple:
    """A questionnaire row under statistical secrecy shows « secret », never its counts (other rows as is)."""
    if len(row) != len(DETAIL_SHEETS["Questionnaire"][0]) + 1:
        return row
    return row[:-3] + (("secret", "secret") if row[-1] else row[-3:-1])


def _detail_sheet(workbook, title: str, rows: list[tuple], bold, annee: int, entete: Entete | None) -> None:
    """One detail sheet: text stays text (codes like 03, titles neutralised), numbers and dates typed."""
    sheet = workbook.create_sheet(title)
    header = _header(sheet, _title_block(sheet, DETAIL_SUBJECTS[title], annee, entete), list(DETAIL_SHEETS[title][0]),
                     bold)
    for row_number, row in enumerate(rows, start=header + 1):
        for column, value in enumerate(row, start=1):
            if isinstance(value, str):
                _text_cell(sheet, row_number, column, value)
            elif value is not None:
                cell = sheet.cell(row=row_number, column=column, value=value)
                if hasattr(value, "strftime"):
                    cell.number_format = "DD/MM/YYYY"
                elif isinstance(value, float):
                    cell.number_format = "0.0%"
    sheet.freeze_panes = f"A{header + 1}"
    for letter, width in zip("ABCDEFGH", (8, 22, 10, 40, 40, 14, 12, 10)):
        sheet.column_dimensions[letter].width = width
    if entete is not None:
        _print_setup(sheet, " — ".join(filter(None, [entete.titre(annee), entete.mention()])), header)


def _indicator_sheet(workbook, own: list[Ligne], years: list[int], revisions: dict[int, str],
                     entete: Entete | None, bold) -> None:
    """One département's (or the network's) sheet: the title block, then indicators down and years across."""
    code, name = own[0].departement, own[0].nom_departement
    sheet = workbook.create_sheet(_sheet_title(name, code))
    subject = f"Indicateurs : {name}" if code == ENSEMBLE else f"Indicateurs : {name} ({code})"
    first_row = _title_block(sheet, subject, max(years), entete)
    first_year = len(INDICATOR_HEADERS) + 1
    header = first_row + _status_row(sheet, first_row, years, first_year, revisions, entete)
    _header(sheet, header, [*INDICATOR_HEADERS, *years], bold)
    indicators = list(dict.fromkeys((line.indicateur, line.libelle, line.nature) for line in own))
    values = {(line.indicateur, line.annee): line.valeur for line in own}
    for row, (indicateur, libelle, nature) in enumerate(indicators, start=header + 1):
        _text_cell(sheet, row, 1, libelle)
        _text_cell(sheet, row, 2, indicateur)
        for offset, year in enumerate(years):
            if values.get((indicateur, year)) is not None:  # not measured: an empty cell, never 0
                cell = sheet.cell(row=row, column=first_year + offset,
                                  value=typed_value(values[(indicateur, year)], nature))
                cell.number_format = NUMBER_FORMATS.get(nature, "General")
    sheet.freeze_panes = f"C{header + 1}"
    sheet.column_dimensions["A"].width = 46
    sheet.column_dimensions["B"].width = 34
    if entete is not None:
        _print_setup(sheet, " — ".join(filter(None, [entete.titre(max(years)), entete.mention()])), header)


def write_xlsx(
    lines: list[Ligne], path: Path, revisions: dict[int, str] | None = None, entete: Entete | None = None,
    details: dict[str, list[tuple]] | None = None,
) -> Path:
    """One sheet per département then the network: indicators down (French label first, then the code), years
    across as numbers; a definitions sheet; the questionnaire's results and the detailed actions as published
    (`details`). Every table sheet opens with its title block; the table's header row follows it.

    `revisions`: « révisé le … » by closed year revised since its closing, above each year's header and a sheet;
    `entete`: the title block (each sheet's printed header, and an « À propos » sheet), « provisoire » included."""
    revisions = revisions or {}
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    years = sorted({line.annee for line in lines})
    departements = list(dict.fromkeys(line.departement for line in lines))
    bold = Font(bold=True)
    for code in departements:
        own = [line for line in lines if line.departement == code]
        _indicator_sheet(workbook, own, years, revisions, entete, bold)
    annee = max(years)
    definitions = workbook.create_sheet("Définitions")
    header = _header(definitions, _title_block(definitions, "Définitions des indicateurs", annee, entete),
                     [*INDICATOR_HEADERS, "Nature", "Définition"], bold)
    unique = {line.indicateur: line for line in lines}.values()
    for row, line in enumerate(sorted(unique, key=lambda line: line.ordre), start=header + 1):
        texts = (line.libelle, line.indicateur, line.nature, line.description)
        for column, text in enumerate(texts, start=1):
            _text_cell(definitions, row, column, text)
    definitions.column_dimensions["A"].width = 46
    definitions.column_dimensions["B"].width = 34
    definitions.column_dimensions["D"].width = 100
    for title, rows in (details or {}).items():
        _detail_sheet(workbook, title, rows, bold, annee, entete)
    if revisions:
        _revisions_sheet(workbook, revisions, bold, annee, entete)
    if entete is not None:
        _about_sheet(workbook, entete, annee, bold)
    with writing_atomically(path) as partial:
        workbook.save(partial)
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
    return (
        write_xlsx(lines, out_dir / f"bilan-{annee}.xlsx", revisions, entete, read_details(published_db, annee)),
        write_csv(lines, out_dir / f"bilan-{annee}.csv", revisions, entete),
    )
