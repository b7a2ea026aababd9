"""Exports in a folder (`pdn synchroniser --source`): CSV or XLSX files downloaded from Google Sheets or Excel.

A spreadsheet is '<title>.xlsx' or one '<title> - <tab>.csv' per tab. CSV files are read whatever their
encoding, separator and line ends (flows/sources/csv_export.py); anything that cannot be read as the
contract says is a French InputError naming the file.

Every file of the folder is accounted for: read, ignored by a documented rule (hidden and system files,
sub-folders, README, sources.toml, the récits it declares), or reported « non lu ». A browser saves a second
download of a file as '<name> (1).csv': of the numbered downloads of one export, the one whose content holds
the latest date is read (and the run report says so); when that cannot tell them apart, the run is refused.
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache, partial
from pathlib import Path

from flows.errors import InputError
from flows.sources.config import SourceConfig, SpreadsheetSource
from flows.sources.contract import normalise_label
from flows.sources.csv_export import read_csv_export
from flows.sources.snapshot import (
    SHEETS_EPOCH,
    TabSnapshot,
    UnreadItem,
    cell_text,
    plan_tabs,
    tab_from_rows,
)

log = logging.getLogger(__name__)

# « Suivi - Activités (1).csv »: what a browser names a second download of « Suivi - Activités.csv ».
_NUMBERED_DOWNLOAD = re.compile(r"^(?P<stem>.+?) \(\d+\)$")
# Files never read and never reported: the configuration, notes for people, what systems leave behind.
_IGNORED_NAMES = {"sources.toml", "readme", "readme.md", "readme.txt", "desktop.ini", "thumbs.db"}
_DAY_FIRST = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_SERIAL = re.compile(r"^\d{4,6}(?:\.\d+)?$")


@dataclass(frozen=True)
class FolderRead:
    """What a folder of exports gave: the tabs read, and the tabs and files not read."""

    snapshots: list[TabSnapshot]
    unread: list[UnreadItem]


def _file_modified_time(path: Path) -> str:
    stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    return stamp.isoformat(timespec="seconds").replace("+00:00", "Z")


def _joined_note(*notes: str | None) -> str | None:
    """Reading notes of one tab, in one sentence."""
    kept = [note for note in notes if note]
    return " ; ".join(kept) or None


def _csv_rows(path: Path) -> list[list[str]]:
    return read_csv_export(path, f"Fichier « {path.name} »").rows


def _csv_tab(path: Path, choice_note: str | None, spreadsheet: SpreadsheetSource, *context) -> TabSnapshot:
    """Read one CSV export only when its tab is wanted."""
    export = read_csv_export(path, f"Fichier « {path.name} »")
    return tab_from_rows(export.rows, spreadsheet, *context, reading_note=_joined_note(choice_note, export.note))


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


# Every file name is matched against every spreadsheet title: each label is normalised once per process.
_label = lru_cache(maxsize=4096)(normalise_label)


def _matches_title(stem: str, title: str) -> str | None:
    """The tab part of '<title> - <tab>' when the title matches tolerantly (a title or tab may hold ' - ')."""
    parts = stem.split(" - ")
    for cut in range(1, len(parts)):
        if _label(" - ".join(parts[:cut])) == _label(title):
            return " - ".join(parts[cut:])
    return None


def _download_stem(stem: str) -> str:
    """A file's stem without the « (1) » a browser adds to a second download."""
    match = _NUMBERED_DOWNLOAD.match(stem)
    return match.group("stem") if match else stem


def _listing(folder: Path) -> list[Path]:
    """The folder's files (not its sub-folders), sorted: listed once per read, not once per spreadsheet."""
    return [path for path in sorted(folder.iterdir()) if path.is_file()]


def _exports(files: list[Path], title: str, suffix: str) -> list[Path]:
    """The files of one spreadsheet with that suffix; a name that is not UTF-8 is an error, not a skip."""
    found = []
    for path in files:
        if path.suffix.lower() != suffix:
            continue
        name = path.name
        if name != _printable(name):
            # A name written by another system (latin-1 archive): recover it to see if it is one of ours.
            recovered = os.fsencode(name).decode("cp1252", "replace")
            stem = _download_stem(recovered.rsplit(".", 1)[0])
            if normalise_label(stem) == normalise_label(title) or _matches_title(stem, title) is not None:
                raise InputError(
                    f"Fichier « {_printable(name)} » : son nom n'est pas écrit en UTF-8 (archive créée sous "
                    "Windows ?). Renommez-le, par exemple « " + recovered + " », puis relancez."
                )
            continue
        found.append(path)
    return found


def _csv_tabs(files: list[Path], title: str) -> dict[str, list[Path]]:
    """CSV exports of one spreadsheet by tab: files named '<title> - <tab>.csv' (or a numbered download of one)."""
    tabs: dict[str, list[Path]] = {}
    for path in _exports(files, title, ".csv"):
        tab = _matches_title(path.stem, title)
        if tab is not None:
            tabs.setdefault(_download_stem(tab), []).append(path)
    return tabs


def _cell_date(text: str) -> datetime | None:
    """A date as a cell shows it (dd/mm/yyyy, ISO, or a serial number from a workbook), else None."""
    text = text.strip()
    try:
        if match := _DAY_FIRST.match(text):
            day, month, year, hour, minute, second = (int(part or 0) for part in match.groups())
            return datetime(year, month, day, hour, minute, second)
        if _SERIAL.match(text):
            return SHEETS_EPOCH + timedelta(days=float(text))
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _is_date_column(label: str) -> bool:
    key = normalise_label(label)
    return key == "horodateur" or key.startswith("date")


def latest_date(rows: list[list[str]]) -> datetime | None:
    """The latest date a tab holds in its Date, Horodateur and « Date … » columns (None when none reads)."""
    header = next((row for row in rows if any(cell.strip() for cell in row)), [])
    columns = [index for index, label in enumerate(header) if _is_date_column(label)]
    below = rows[rows.index(header) + 1 :] if header else []
    dates = [_cell_date(row[i]) for row in below for i in columns if i < len(row) and row[i].strip()]
    return max((d for d in dates if d is not None), default=None)


def _newest_download(paths: list[Path], dated: Callable[[Path], datetime | None]) -> tuple[Path, str | None]:
    """Of several downloads of one export, the one holding the latest date, and the note saying so; else refused."""
    if len(paths) == 1:
        return paths[0], None
    paths = sorted(paths, key=lambda path: (_NUMBERED_DOWNLOAD.match(path.stem) is not None, path.name))
    dates = {path: dated(path) for path in paths}
    names = " et ".join(f"« {path.name} »" for path in paths)
    if any(date is None for date in dates.values()):
        raise InputError(
            f"Fichiers {names} : deux téléchargements du même export, et l'un d'eux n'a aucune date lisible : "
            "impossible de savoir lequel est à jour. Supprimez le fichier périmé (ou renommez le bon sans le "
            "« (1) »), puis relancez."
        )
    newest = max(dates.values())
    winners = [path for path, date in dates.items() if date == newest]
    if len(winners) > 1:
        raise InputError(
            f"Fichiers {names} : deux téléchargements du même export, dont la date la plus récente est la même "
            f"({newest:%d/%m/%Y}) : impossible de savoir lequel est à jour. Supprimez le fichier périmé, puis relancez."
        )
    others = ", ".join(f"« {path.name} »" for path in paths if path != winners[0])
    return winners[0], f"lu : « {winners[0].name} », plus récent que {others}"


def _workbook_latest_date(path: Path) -> datetime | None:
    dates = [d for d in map(latest_date, _read_xlsx_tabs(path).values()) if d is not None]
    return max(dates, default=None)


def _spreadsheet_exports(
    folder: Path, spreadsheet: SpreadsheetSource, files: list[Path] | None = None
) -> tuple[dict[str, Callable], str, set[Path]]:
    """Each tab of one spreadsheet's exports (a reader), their modified time, and every file they come from."""
    files = _listing(folder) if files is None else files
    xlsx = [
        path for path in _exports(files, spreadsheet.title, ".xlsx")
        if normalise_label(_download_stem(path.stem)) == normalise_label(spreadsheet.title)
    ]
    csv = _csv_tabs(files, spreadsheet.title)
    if xlsx and csv:
        both = ", ".join(f"« {path.name} »" for path in [*xlsx, *(p for paths in csv.values() for p in paths)])
        raise InputError(
            f"Tableur « {spreadsheet.title} » : plusieurs exports du même tableur dans le dossier « {folder.name} » ({both}). "
            "Gardez soit le classeur .xlsx, soit les fichiers .csv, pour que le bon soit lu."
        )
    if xlsx:
        workbook, note = _newest_download(xlsx, _workbook_latest_date)
        tabs = {
            name: partial(tab_from_rows, rows, reading_note=note) for name, rows in _read_xlsx_tabs(workbook).items()
        }
        return tabs, _file_modified_time(workbook), set(xlsx)
    if csv:
        chosen = {tab: _newest_download(paths, lambda p: latest_date(_csv_rows(p))) for tab, paths in csv.items()}
        tabs = {tab: partial(_csv_tab, path, note) for tab, (path, note) in chosen.items()}
        modified = max(_file_modified_time(path) for path, _ in chosen.values())
        return tabs, modified, {path for paths in csv.values() for path in paths}
    raise InputError(
        f"Tableur « {spreadsheet.title} » : aucun export trouvé dans le dossier « {folder.name} » "
        f"(attendu « {spreadsheet.title}.xlsx » ou « {spreadsheet.title} - <onglet>.csv »)."
    )


def read_spreadsheet_files(
    folder: Path, spreadsheet: SpreadsheetSource, listing: list[Path] | None = None
) -> tuple[list[TabSnapshot], list[UnreadItem], set[Path]]:
    """One spreadsheet from a folder of exports (`listing`: its files, when already listed): its tabs read, its
    tabs not read, and the files it claims."""
    tabs, modified, files = _spreadsheet_exports(folder, spreadsheet, listing)
    planned, unread = plan_tabs(spreadsheet, list(tabs))
    if not any(path.suffix.lower() == ".xlsx" for path in files):  # one file per tab: no tab order to show
        unread = [replace(item, position=None) for item in unread]
    spreadsheet_id = f"fichier:{spreadsheet.title}"
    snapshots = [tabs[title](spreadsheet, spreadsheet_id, title, contract, modified) for contract, title in planned]
    return snapshots, unread, files


def _ignored(path: Path, recits: set[Path]) -> bool:
    """A file read by nothing and reported by nothing, by a documented rule (README.md of the sample folder)."""
    name = path.name
    return (
        name.startswith((".", "~$"))  # hidden files; Office's lock files while a workbook is open
        or not path.is_file()  # sub-folders (an « archives » folder) are not looked into
        or name.lower() in _IGNORED_NAMES
        or path.resolve() in recits
    )


def read_folder(folder: Path, config: SourceConfig) -> FolderRead:
    """Read every configured spreadsheet from a folder of exports, and account for every other file."""
    if not folder.is_dir():
        raise InputError(f"Dossier de sources introuvable : « {folder.name} » (pdn synchroniser --source).")
    snapshots: list[TabSnapshot] = []
    unread: list[UnreadItem] = []
    claimed: set[Path] = set()
    listing = _listing(folder)
    for spreadsheet in config.spreadsheets:
        read, not_read, files = read_spreadsheet_files(folder, spreadsheet, listing)
        snapshots += read
        unread += not_read
        claimed |= files
    recits = {recit.fichier.resolve() for recit in config.recits if recit.fichier}
    titles = ", ".join(f"« {source.title} »" for source in config.spreadsheets)
    unread += [
        UnreadItem(
            "fichier", _printable(path.name),
            f"ne correspond à aucun tableur déclaré dans sources.toml ({titles}) : un export se nomme "
            "« <titre> - <onglet>.csv » ou « <titre>.xlsx »",
        )
        for path in sorted(folder.iterdir())
        if path not in claimed and not _ignored(path, recits)
    ]
    log.info("%d onglets lus depuis %s, %d onglet(s) ou fichier(s) non lu(s)", len(snapshots), folder, len(unread))
    return FolderRead(snapshots, unread)


def extract_files(folder: Path, config: SourceConfig) -> list[TabSnapshot]:
    """The tabs read from a folder of exports (read_folder says what was not read)."""
    return read_folder(folder, config).snapshots
