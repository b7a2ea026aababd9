"""Exports in a folder (`pdn sync --source`): CSV or XLSX files downloaded from Google Sheets or Excel.

A spreadsheet is '<title>.xlsx' or one '<title> - <tab>.csv' per tab. CSV files are read whatever their
encoding, separator and line ends (flows/sources/csv_export.py); anything that cannot be read as the
contract says is a French InputError naming the file.
"""

from __future__ import annotations

import logging
import os
import zipfile
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

from flows.errors import InputError
from flows.sources.config import SourceConfig, SpreadsheetSource
from flows.sources.contract import contract_for_tab, normalise_label
from flows.sources.csv_export import read_csv_export
from flows.sources.snapshot import (
    TabSnapshot,
    cell_text,
    expected_contracts,
    missing_tab_error,
    tab_from_rows,
)

log = logging.getLogger(__name__)


def _file_modified_time(path: Path) -> str:
    stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    return stamp.isoformat(timespec="seconds").replace("+00:00", "Z")


def _csv_tab(path: Path, spreadsheet: SpreadsheetSource, *context) -> TabSnapshot:
    """Read one CSV export only when its tab is wanted."""
    export = read_csv_export(path, f"Fichier « {path.name} »")
    return tab_from_rows(export.rows, spreadsheet, *context, reading_note=export.note)


def _read_xlsx_tabs(path: Path) -> dict[str, list[list[str]]]:
    """Every tab of an XLSX export as rows of text (typed cells rendered like the Sheets API)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as err:
        raise InputError(
            f"Fichier « {path.name} » : classeur Excel illisible ({type(err).__name__}) : fichier abîmé, protégé "
            "par un mot de passe, ou pas un .xlsx. Réenregistrez-le depuis Excel ou LibreOffice au format .xlsx."
        ) from None
    try:
        return {
            sheet.title: [[cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
            for sheet in workbook.worksheets
        }
    finally:
        workbook.close()


def _printable(name: str) -> str:
    """A file name as it can be shown: bytes that are not UTF-8 become '�'."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _matches_title(stem: str, title: str) -> str | None:
    """The tab part of '<title> - <tab>' when the title matches tolerantly (a title or tab may hold ' - ')."""
    parts = stem.split(" - ")
    for cut in range(1, len(parts)):
        if normalise_label(" - ".join(parts[:cut])) == normalise_label(title):
            return " - ".join(parts[cut:])
    return None


def _exports(folder: Path, title: str, suffix: str) -> list[Path]:
    """The files of one spreadsheet with that suffix; a name that is not UTF-8 is an error, not a skip."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != suffix or not path.is_file():
            continue
        name = path.name
        if name != _printable(name):
            # A name written by another system (latin-1 archive): recover it to see if it is one of ours.
            recovered = os.fsencode(name).decode("cp1252", "replace")
            stem = recovered.rsplit(".", 1)[0]
            if normalise_label(stem) == normalise_label(title) or _matches_title(stem, title) is not None:
                raise InputError(
                    f"Fichier « {_printable(name)} » : son nom n'est pas écrit en UTF-8 (archive créée sous "
                    "Windows ?). Renommez-le, par exemple « " + recovered + " », puis relancez."
                )
            continue
        found.append(path)
    return found


def _csv_tabs(folder: Path, title: str) -> dict[str, Path]:
    """CSV exports of one spreadsheet: files named '<title> - <tab>.csv', the title matched tolerantly."""
    tabs = {}
    for path in _exports(folder, title, ".csv"):
        tab = _matches_title(path.stem, title)
        if tab is not None:
            tabs[tab] = path
    return tabs


def extract_spreadsheet_files(folder: Path, spreadsheet: SpreadsheetSource) -> list[TabSnapshot]:
    """Read one spreadsheet from a folder of exports: '<title>.xlsx' or '<title> - <tab>.csv' files."""
    xlsx = [p for p in _exports(folder, spreadsheet.title, ".xlsx") if normalise_label(p.stem) == normalise_label(spreadsheet.title)]
    csv = _csv_tabs(folder, spreadsheet.title)
    spreadsheet_id = f"fichier:{spreadsheet.title}"
    if xlsx and csv:
        both = ", ".join(f"« {path.name} »" for path in [*xlsx, *csv.values()])
        raise InputError(
            f"Tableur « {spreadsheet.title} » : plusieurs exports du même tableur dans {folder} ({both}). "
            "Gardez soit le classeur .xlsx, soit les fichiers .csv, pour que le bon soit lu."
        )
    if len(xlsx) > 1:
        raise InputError(
            f"Tableur « {spreadsheet.title} » : plusieurs classeurs portent ce titre "
            f"({', '.join(f'« {p.name} »' for p in xlsx)}) : gardez-en un seul."
        )
    if xlsx:
        modified = _file_modified_time(xlsx[0])
        tabs = {name: partial(tab_from_rows, rows) for name, rows in _read_xlsx_tabs(xlsx[0]).items()}
    elif csv:
        modified = max(_file_modified_time(path) for path in csv.values())
        tabs = {name: partial(_csv_tab, path) for name, path in csv.items()}
    else:
        raise InputError(
            f"Tableur « {spreadsheet.title} » : aucun export trouvé dans {folder} "
            f"(attendu « {spreadsheet.title}.xlsx » ou « {spreadsheet.title} - <onglet>.csv »)."
        )
    snapshots = []
    for contract in expected_contracts(spreadsheet):
        matching = [name for name in tabs if contract_for_tab(name, spreadsheet.kind) is contract]
        if not matching:
            if contract.tab_optional:
                continue
            raise missing_tab_error(spreadsheet, contract, list(tabs))
        if len(matching) > 1:
            names = ", ".join(f"« {name} »" for name in matching)
            raise InputError(f"Tableur « {spreadsheet.title} » : plusieurs onglets correspondent ({names}) : gardez-en un.")
        snapshots.append(tabs[matching[0]](spreadsheet, spreadsheet_id, matching[0], contract, modified))
    return snapshots


def extract_files(folder: Path, config: SourceConfig) -> list[TabSnapshot]:
    """Read every configured spreadsheet from a folder of exports."""
    if not folder.is_dir():
        raise InputError(f"Dossier de sources introuvable : {folder}")
    snapshots = []
    for spreadsheet in config.spreadsheets:
        snapshots.extend(extract_spreadsheet_files(folder, spreadsheet))
    log.info("%d onglets lus depuis %s", len(snapshots), folder)
    return snapshots
