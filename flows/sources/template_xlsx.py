"""`pdn modele --xlsx`: the same template as a new Excel workbook, with the same validations (openpyxl)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from flows.errors import InputError
from flows.settings import Settings
from flows.sources.config import SourceConfig
from flows.sources.contract import ACTIVITES, LISTES, TableContract, column_letter, normalise_label
from flows.sources.lists import LIST_NAMES
from flows.sources.snapshot import SHEETS_EPOCH
from flows.sources.template import (
    FLAG_FILL,
    FLAG_TEXT,
    RESERVED_ROWS,
    TEMPLATE_CONTRACTS,
    ColumnRule,
    ListBlock,
    column_rules,
    format_bound,
    formation_without_duration_formula,
    listes_layout,
    reader_bound,
    template_config,
    template_header,
)

_EXCEL_LAST_ROW = 1_048_576
_MIN_WIDTH = 14
_VARIANTS_WIDTH = 60  # free text: as wide as a short list of spellings, not as its longest cell


def dropdown_name(liste: str) -> str:
    """The workbook name of a list's dropdown source, e.g. liste_type_d_action."""
    return "liste_" + re.sub(r"[^a-z0-9]+", "_", normalise_label(liste)).strip("_")


def filled_values_formula(block: ListBlock) -> str:
    """A block's values down to its last filled row: Excel lists every blank cell of a source range in the
    dropdown, and its « ignore blank » then lets any text through."""
    first_cell = f"'Listes'!${block.column}${block.first_row}"
    return f"OFFSET({first_cell},0,0,COUNTA({block.reference()}),1)"


def _text_width(texts: list[str], minimum: int = _MIN_WIDTH) -> int:
    """A column width (in characters) that shows the longest text whole."""
    return max([minimum, *(len(text) + 2 for text in texts)])


def _excel_validation(rule: ColumnRule, date_min: date):
    """The openpyxl DataValidation of a column rule (its cells are added by the caller)."""
    from openpyxl.worksheet.datavalidation import DataValidation

    texts = {
        "prompt": rule.prompt,
        "promptTitle": rule.label[:32],  # Excel's limit
        "errorTitle": "Valeur refusée",
        "showInputMessage": True,
        "showErrorMessage": True,
        "allow_blank": True,
    }
    if rule.kind == "bloc":
        return DataValidation(type="list", formula1=dropdown_name(rule.block.liste), **texts, error=rule.prompt)
    if rule.kind == "choix":
        listed = '"' + ",".join(rule.choices) + '"'
        return DataValidation(type="list", formula1=listed, **texts, error="Valeur absente de la liste.")
    if rule.kind == "date":
        serial = str((date_min - SHEETS_EPOCH.date()).days)  # Excel's date serial, as Sheets counts it
        error = f"Une date à partir du {date_min:%d/%m/%Y} est attendue."
        return DataValidation(type="date", operator="greaterThanOrEqual", formula1=serial, **texts, error=error)
    kind = "whole" if rule.whole else "decimal"
    maximum = format_bound(rule.maximum, decimal_comma=False)
    error = f"Un nombre entre 0 et {reader_bound(rule.maximum)} est attendu."
    return DataValidation(type=kind, operator="between", formula1="0", formula2=maximum, **texts, error=error)


def _header_row(sheet, contract: TableContract) -> None:
    """Row 1: the contract's labels in bold, frozen, each column as wide as its label."""
    from openpyxl.styles import Font

    header = template_header(contract)
    sheet.append(header)
    sheet.freeze_panes = "A2"
    for index, label in enumerate(header):
        sheet.cell(1, index + 1).font = Font(bold=True)
        sheet.column_dimensions[column_letter(index)].width = _text_width([label + "  "])  # bold is wider


def _fill_listes(workbook, sheet, rows: list[list[str]], places) -> None:
    """The `Listes` blocks, a name per list giving its filled values, and columns as wide as their values."""
    from openpyxl.workbook.defined_name import DefinedName

    for row in rows:
        sheet.append([value or None for value in row])
    for liste, place in places.items():
        workbook.defined_names.add(DefinedName(dropdown_name(liste), attr_text=filled_values_formula(place.block)))
    positions = {name: index for index, name in enumerate(LISTES.columns)}
    for name, index in positions.items():
        texts = [row[index] for row in rows] + [LISTES.columns[name] + "  "]
        width = _VARIANTS_WIDTH if name == "variantes" else _text_width(texts)
        sheet.column_dimensions[column_letter(index)].width = width


def _flag_formation_without_duration(sheet) -> None:
    """The duration cell of a Formation turns red while empty: a validation only checks what is typed."""
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import Font, PatternFill

    positions = {name: index for index, name in enumerate(ACTIVITES.columns)}
    letter = column_letter(positions["duree_jours"])
    fill = PatternFill(start_color=FLAG_FILL, end_color=FLAG_FILL, fill_type="solid")
    rule = FormulaRule(formula=[formation_without_duration_formula(positions)], fill=fill, font=Font(color=FLAG_TEXT))
    sheet.conditional_formatting.add(f"{letter}2:{letter}{_EXCEL_LAST_ROW}", rule)


def write_workbook(path: Path, config: SourceConfig) -> list[str]:
    """Write the template as a new .xlsx (three tabs, bold frozen headers, `Listes` blocks, validations, the
    Formation flag); French lines."""
    from openpyxl import Workbook

    if path.suffix.lower() != ".xlsx":
        raise InputError(f"{path.name} : le modèle s'écrit dans un fichier .xlsx (par exemple « Suivi.xlsx »).")
    if path.exists():
        raise InputError(f"Le fichier {path} existe déjà : choisissez un autre nom, ou déplacez-le d'abord.")
    if not path.parent.is_dir():
        raise InputError(f"Le dossier {path.parent} n'existe pas.")
    rows, places = listes_layout()
    workbook = Workbook()
    workbook.remove(workbook.active)
    for contract in TEMPLATE_CONTRACTS:
        sheet = workbook.create_sheet(contract.tab_titles[0])
        _header_row(sheet, contract)
        if contract is LISTES:
            _fill_listes(workbook, sheet, rows, places)
            continue
        for rule in column_rules(contract, config, places):
            letter = column_letter(list(contract.columns).index(rule.field))
            validation = _excel_validation(rule, config.bounds.date_min)
            validation.add(f"{letter}2:{letter}{_EXCEL_LAST_ROW}")
            sheet.add_data_validation(validation)
            dimension = sheet.column_dimensions[letter]
            dimension.width = max(dimension.width, _text_width(rule.offered()))
            if rule.field == "departement":
                dimension.number_format = "@"  # "03" stays "03"
        if contract is ACTIVITES:
            _flag_formation_without_duration(sheet)
    workbook.save(path)
    duration = ACTIVITES.columns["duree_jours"]
    return [
        f"Modèle écrit : {path}",
        f"  - onglets {', '.join(f'« {c.tab_titles[0]} »' for c in TEMPLATE_CONTRACTS)}, en-têtes en gras figés en ligne 1",
        f"  - onglet « Listes » : {', '.join(LIST_NAMES)}, chacune suivie de {RESERVED_ROWS} lignes libres",
        "  - menus déroulants et contrôles de saisie sur les colonnes à valeurs imposées",
        f"  - « {duration} » surlignée en rouge tant qu'une Formation n'a pas de durée",
    ]


def write_template(path: Path, settings: Settings) -> list[str]:
    """`pdn modele --xlsx`: the workbook for the network of PDN_SOURCES, else for the sample's (no Google call)."""
    config = template_config(settings)
    lines = write_workbook(path, config)
    if settings.sources_file is None:
        lines.append(
            f"  - départements {', '.join(config.departements)} et bornes de l'échantillon fourni (PDN_SOURCES "
            "n'est pas défini : indiquez-y le chemin de votre sources.toml pour ceux de votre réseau)"
        )
    return lines
