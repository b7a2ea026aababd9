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

from flows.pipeline.publish import open_published
from flows.storage import writing_atomically
from flows.vocabulary import ENSEMBLE

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NUMBER_FORMATS = {"compte": "0", "jours": "0.0##", "taux": "0.0%"}
CSV_HEADER = ("Année", "Département", "Nom du département", "Code indicateur", "Indicateur", "Nature", "Valeur")
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

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
    return float(value)


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


def write_xlsx(lines: list[Ligne], path: Path) -> Path:
    """One sheet per département then the network: indicators down, years across; a definitions sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    years = sorted({line.annee for line in lines})
    departements = list(dict.fromkeys(line.departement for line in lines))
    bold = Font(bold=True)
    for code in departements:
        own = [line for line in lines if line.departement == code]
        sheet = workbook.create_sheet(_sheet_title(own[0].nom_departement, code))
        headers = ["Code indicateur", "Indicateur", "Nature"] + [str(year) for year in years]
        for column, header in enumerate(headers, start=1):
            _text_cell(sheet, 1, column, header).font = bold
        indicators = list(dict.fromkeys((line.indicateur, line.libelle, line.nature) for line in own))
        values = {(line.indicateur, line.annee): line.valeur for line in own}
        for row, (indicateur, libelle, nature) in enumerate(indicators, start=2):
            _text_cell(sheet, row, 1, indicateur)
            _text_cell(sheet, row, 2, libelle)
            _text_cell(sheet, row, 3, nature)
            for offset, year in enumerate(years):
                if values.get((indicateur, year)) is not None:  # not measured: an empty cell, never 0
                    cell = sheet.cell(row=row, column=4 + offset, value=typed_value(values[(indicateur, year)], nature))
                    cell.number_format = NUMBER_FORMATS.get(nature, "General")
        sheet.freeze_panes = "D2"
        sheet.column_dimensions["A"].width = 34
        sheet.column_dimensions["B"].width = 46
        sheet.column_dimensions["C"].width = 10
    definitions = workbook.create_sheet("Définitions")
    for column, header in enumerate(("Code indicateur", "Indicateur", "Nature", "Définition"), start=1):
        _text_cell(definitions, 1, column, header).font = bold
    unique = {line.indicateur: line for line in lines}.values()
    for row, line in enumerate(sorted(unique, key=lambda line: line.ordre), start=2):
        texts = (line.indicateur, line.libelle, line.nature, line.description)
        for column, text in enumerate(texts, start=1):
            _text_cell(definitions, row, column, text)
    definitions.column_dimensions["A"].width = 34
    definitions.column_dimensions["B"].width = 46
    definitions.column_dimensions["D"].width = 100
    with writing_atomically(path) as partial:
        workbook.save(partial)
    return path


def _csv_number(value: int | float | None) -> str:
    """A number as French Excel reads it: decimal comma, shortest exact digits; empty when not measured."""
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else repr(value).replace(".", ",")


def write_csv(lines: list[Ligne], path: Path) -> Path:
    """Long form, one row per year, département and indicator (French Excel: ';', decimal comma, BOM)."""
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
            ])
    return path


def write_exports(published_db: Path, annee: int, out_dir: Path) -> tuple[Path, Path]:
    """Write bilan-<année>.xlsx and bilan-<année>.csv (every year up to `annee`) into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = read_lines(published_db, annee)
    return (
        write_xlsx(lines, out_dir / f"bilan-{annee}.xlsx"),
        write_csv(lines, out_dir / f"bilan-{annee}.csv"),
    )
