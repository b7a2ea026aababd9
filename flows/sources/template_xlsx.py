"""`pdn modele --xlsx`: the same template as a new Excel workbook, with the same validations (openpyxl)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flows.errors import InputError
from flows.sources.config import SourceConfig
from flows.sources.contract import LISTES, column_letter
from flows.sources.lists import LIST_NAMES
from flows.sources.snapshot import SHEETS_EPOCH
from flows.sources.template import (
    RESERVED_ROWS,
    TEMPLATE_CONTRACTS,
    ColumnRule,
    column_rules,
    format_bound,
    listes_layout,
    template_header,
)

_EXCEL_LAST_ROW = 1_048_576


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
        return DataValidation(type="list", formula1=rule.block.reference(), **texts, error=rule.prompt)
    if rule.kind == "choix":
        listed = '"' + ",".join(rule.choices) + '"'
        return DataValidation(type="list", formula1=listed, **texts, error="Valeur absente de la liste.")
    if rule.kind == "date":
        serial = str((date_min - SHEETS_EPOCH.date()).days)  # Excel's date serial, as Sheets counts it
        error = f"Une date à partir du {date_min:%d/%m/%Y} est attendue."
        return DataValidation(type="date", operator="greaterThanOrEqual", formula1=serial, **texts, error=error)
    kind = "whole" if rule.whole else "decimal"
    maximum = format_bound(rule.maximum, decimal_comma=False)
    error = f"Un nombre entre 0 et {format_bound(rule.maximum)} est attendu."
    return DataValidation(type=kind, operator="between", formula1="0", formula2=maximum, **texts, error=error)


def write_workbook(path: Path, config: SourceConfig) -> list[str]:
    """Write the template as a new .xlsx (three tabs, frozen headers, `Listes` blocks, validations); French lines."""
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
        header = template_header(contract)
        sheet.append(header)
        sheet.freeze_panes = "A2"
        for index, label in enumerate(header):
            sheet.column_dimensions[column_letter(index)].width = max(14, len(label) + 4)
        if contract is LISTES:
            for row in rows:
                sheet.append([value or None for value in row])
            continue
        for rule in column_rules(contract, config, places):
            letter = column_letter(list(contract.columns).index(rule.field))
            validation = _excel_validation(rule, config.bounds.date_min)
            validation.add(f"{letter}2:{letter}{_EXCEL_LAST_ROW}")
            sheet.add_data_validation(validation)
            if rule.field == "departement":
                sheet.column_dimensions[letter].number_format = "@"  # "03" stays "03"
    workbook.save(path)
    return [
        f"Modèle écrit : {path}",
        f"  - onglets {', '.join(f'« {c.tab_titles[0]} »' for c in TEMPLATE_CONTRACTS)}, en-têtes figés en ligne 1",
        f"  - onglet « Listes » : {', '.join(LIST_NAMES)}, chacune suivie de {RESERVED_ROWS} lignes libres",
        "  - menus déroulants et contrôles de saisie sur les colonnes à valeurs imposées",
    ]
