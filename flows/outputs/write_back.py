"""The « À corriger » tab ([retour] in sources.toml): what to fix, written back where the coordinator types.

After each sync that reached the quality gate (published or blocked), each declared Suivi and questionnaire
response spreadsheet gets one tab, rewritten whole, listing every quarantined row and flagged cell of that
spreadsheet with a link to it. Only places and reasons are written, never a cell's content. The data tabs are
never written to. A spreadsheet whose list has not changed since the last write costs no request at all.
With `pdn synchroniser --source DOSSIER`, the same lists go to `a-corriger.xlsx` beside the exports.

Nothing here raises: a failed write is a French warning in the run report and the summary, never a reason
not to publish (the publication is already done, or already refused, when this runs).
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from flows.ops.summary import ERASED_REASON
from flows.pipeline.run_report import RunReport, screened_rows
from flows.screen import known_names
from flows.settings import Settings
from flows.sources.config import SourceConfig, SpreadsheetSource, config_file_for, load_source_config
from flows.sources.contract import CONTRACTS, column_letter, map_header, normalise_label
from flows.storage import private_umask, write_text_atomically
from flows.vocabulary import CORRECTIONS_TAB

PARIS = ZoneInfo("Europe/Paris")
XLSX_NAME = "a-corriger.xlsx"
FINGERPRINTS_NAME = "a-corriger.json"  # in the private folder: spreadsheet key -> fingerprint of its last list
COLUMNS = ["Onglet", "Ligne", "Colonne", "Problème", "À faire", "Lien"]
NOTHING = "Rien à corriger"
PROTECTION = "Onglet écrit par la synchronisation : corrigez les données dans leurs onglets, pas ici."
TO_DELETE = "supprimer cette ligne"
EXPLANATION = (
    "Chaque ligne ci-dessous désigne une ligne ou une cellule d'un onglet de ce tableur. Corrigez-la dans son "
    "onglet (le lien y mène) : elle disparaîtra de cette liste à la synchronisation suivante. Cet onglet est "
    "réécrit à chaque synchronisation : n'y écrivez rien."
)

# Every quarantined row and flagged cell of the build, with the response's timestamp for questionnaire rows.
_PROBLEMS = """
    select q.spreadsheet_title, q.onglet, q.numero_ligne, null as colonne, q.motif, true as quarantaine,
        r.horodateur_brut
    from int_lignes_quarantaine as q
    left join int_reponses_validated as r
        on r.spreadsheet_title = q.spreadsheet_title and r.tab = q.onglet and r.numero_ligne = q.numero_ligne
    union all
    select c.spreadsheet_title, c.onglet, c.numero_ligne, c.colonne, c.motif, false, r.horodateur_brut
    from int_cellules_signalees as c
    left join int_reponses_validated as r
        on r.spreadsheet_title = c.spreadsheet_title and r.tab = c.onglet and r.numero_ligne = c.numero_ligne
"""
_SNAPSHOTS = """
    select s.spreadsheet_title, s.tab, s.spreadsheet_id, s.table_name, s.header_json, s.sheet_gid
    from snapshots as s join sync_snapshots as l using (snapshot_id)
    where l.sync_id = ?
"""


def cell_link(spreadsheet_id: str, gid: int, a1: str) -> str:
    """The address that opens a Google spreadsheet on one tab, at a cell (« D38 ») or a row (« 53:53 »)."""
    return f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit#gid={gid}&range={a1}"


@dataclass(frozen=True)
class Correction:
    """One line of the tab: a place (tab, row or timestamp, column) and what is wrong there, never the content."""

    onglet: str
    ligne: str  # the sheet row number, or « réponse du … » for a Forms response
    colonne: str  # "" for a whole row
    motif: str
    a_faire: str
    a1: str | None  # the range the link opens (« D38 », « 53:53 »); None when there is no sheet to open
    rubrique: str | None = None  # a heading: the Forms campaign whose responses have no sheet of their own

    def fields(self) -> list[str]:
        return [self.onglet, self.ligne, self.colonne, self.motif, self.a_faire]


@dataclass
class Target:
    """A spreadsheet that gets the tab: its key (or export prefix) and its lines."""

    key: str
    title: str
    corrections: list[Correction]

    def fingerprint(self) -> str:
        """What the written tab depends on, except the sync's date: an unchanged list is not written again."""
        lines = [[c.rubrique or "", *c.fields(), c.a1 or ""] for c in self.corrections]
        return hashlib.sha256(json.dumps([self.key, COLUMNS, lines]).encode()).hexdigest()


# ----------------------------------------------------------------------------------------------
# The lists, per spreadsheet, from the private build and the raw history
# ----------------------------------------------------------------------------------------------


def _column_index(colonne: str, header: list[str], table_name: str) -> int | None:
    """The 0-based sheet column of a flagged cell: its header as typed, or the contract column it matched."""
    wanted = normalise_label(colonne)
    for index, label in enumerate(header):
        if normalise_label(label) == wanted:
            return index
    contract = next((c for c in CONTRACTS if c.table_name == table_name), None)
    field = contract and next((n for n, label in contract.columns.items() if normalise_label(label) == wanted), None)
    if not field:
        return None  # a withheld question header (« question 3 »): the link opens the row
    try:
        return map_header(header, contract, "").contract_positions.get(field)
    except Exception:  # noqa: BLE001 (a header the sync read already; a link to the row is enough)
        return None


def _what_to_do(motif: str, quarantined: bool) -> str:
    if ERASED_REASON in motif:
        return TO_DELETE
    if quarantined:
        return "corriger la ligne : elle n'est comptée nulle part d'ici là"
    return "corriger la cellule (la ligne est comptée)"


def _as_shown(timestamp: str) -> str:
    """A response's local submission time as Google Forms shows it (« 02/03/2020 10:15:00 »)."""
    try:
        return datetime.fromisoformat(timestamp).strftime("%d/%m/%Y %H:%M:%S")
    except ValueError:
        return timestamp


def _correction(problem: tuple, snapshot: tuple | None, form_campaign: str | None) -> Correction:
    title, onglet, row, colonne, motif, quarantined, timestamp = problem
    a_faire = _what_to_do(motif, quarantined)
    if ERASED_REASON in motif:
        motif = "Personne ayant demandé l'effacement de ses données"  # no name, no other detail
    if form_campaign is not None:  # no sheet: the response is found by its timestamp in the form's answers
        when = f"réponse du {_as_shown(timestamp)}" if timestamp else f"réponse n°{row}"
        return Correction(onglet, when, colonne or "", motif, a_faire, None, form_campaign)
    a1 = f"{row}:{row}"
    if colonne and snapshot is not None:
        index = _column_index(colonne, json.loads(snapshot[4] or "[]"), snapshot[3])
        a1 = f"{column_letter(index)}{row}" if index is not None else a1
    return Correction(onglet, str(row), colonne or "", motif, a_faire, a1)


def _target_key(source: SpreadsheetSource) -> str:
    return source.key or f"fichier:{source.title}"


def collect_targets(work_db: Path, raw_db: Path, sync_id: str, config: SourceConfig) -> list[Target]:
    """One target per declared Suivi and response spreadsheet, with its lines (Forms campaigns under the
    first Suivi's), in sheet order."""
    sheets = [s for s in config.spreadsheets if s.form_id is None]
    targets = {_target_key(s): Target(_target_key(s), s.title, []) for s in sheets}
    forms = {s.form_id: s.title for s in config.spreadsheets if s.form_id}
    suivi = next((_target_key(s) for s in sheets if s.kind == "suivi"), None)
    with duckdb.connect(str(raw_db), read_only=True) as raw:
        snapshots = {(r[0], r[1]): r for r in raw.execute(_SNAPSHOTS, [sync_id]).fetchall()}
    with duckdb.connect(str(work_db), read_only=True) as work:
        problems = work.execute(_PROBLEMS + " order by all").fetchall()
    for problem in problems:
        snapshot = snapshots.get((problem[0], problem[1]))
        key = snapshot[2] if snapshot else f"fichier:{problem[0]}"
        campaign = forms.get(key)
        target = targets.get(suivi) if campaign else targets.get(key)
        if target is None:  # Listes fournies, or a spreadsheet no longer declared
            continue
        target.corrections.append(_correction(problem, snapshot, campaign))
    for target in targets.values():  # a row to delete first, then tab order; Forms campaigns last
        target.corrections.sort(key=lambda c: (c.rubrique or "", c.a_faire != TO_DELETE))
    return list(targets.values())


# ----------------------------------------------------------------------------------------------
# The tab's rows
# ----------------------------------------------------------------------------------------------


def tab_rows(target: Target, synced_at: datetime, link: Callable[[Correction], str]) -> list[list[str]]:
    """The whole tab: a dated title, the explanation, then the lines (or « Rien à corriger »)."""
    when = synced_at.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")
    rows = [[f"À corriger : synchronisation du {when} (heure de Paris)"], [EXPLANATION], []]
    if not target.corrections:
        return rows + [[NOTHING]]
    rows.append(COLUMNS)
    heading = None
    for correction in target.corrections:
        if correction.rubrique != heading:
            heading = correction.rubrique
            rows += [[], [f"{heading} (réponses lues par l'API Google Forms : retrouvez-les par leur date)"]]
        rows.append([*correction.fields(), link(correction)])
    return rows


# ----------------------------------------------------------------------------------------------
# Google Sheets: one read of the tab ids, one batchUpdate, one values write, per changed spreadsheet
# ----------------------------------------------------------------------------------------------

_METADATA_FIELDS = "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount)),protectedRanges(protectedRangeId,description))"


def _free_sheet_id(used: set[int]) -> int:
    """A sheetId for the new tab, chosen so that the same batch can protect it."""
    sheet_id = zlib.crc32(CORRECTIONS_TAB.encode()) & 0x7FFFFFFF
    while sheet_id in used:
        sheet_id = (sheet_id + 1) & 0x7FFFFFFF
    return sheet_id


def _layout_requests(metadata: dict[str, Any], rows: int) -> tuple[int, list[dict[str, Any]]]:
    """The tab's sheetId and the requests that create (or empty), size, format and protect it."""
    sheets = metadata.get("sheets", [])
    found = next((s for s in sheets if s["properties"]["title"] == CORRECTIONS_TAB), None)
    size = {"rowCount": max(rows + 20, 100), "columnCount": len(COLUMNS)}
    if found is None:
        sheet_id = _free_sheet_id({s["properties"].get("sheetId", 0) for s in sheets})
        requests = [
            {"addSheet": {"properties": {"sheetId": sheet_id, "title": CORRECTIONS_TAB, "gridProperties": size}}}
        ]
    else:
        sheet_id = found["properties"].get("sheetId", 0)
        grid = found["properties"].get("gridProperties", {})
        requests = [{"updateCells": {"range": {"sheetId": sheet_id}, "fields": "userEnteredValue"}}]
        if grid.get("rowCount", 0) < rows or grid.get("columnCount", 0) < len(COLUMNS):
            grow = {
                "rowCount": max(grid.get("rowCount", 0), size["rowCount"]),
                "columnCount": max(grid.get("columnCount", 0), len(COLUMNS)),
            }
            properties = {"sheetId": sheet_id, "gridProperties": grow}
            requests.append({"updateSheetProperties": {"properties": properties, "fields": "gridProperties"}})
    bold = {"userEnteredFormat": {"textFormat": {"bold": True}}}
    title_row = {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 1}
    requests.append({"repeatCell": {"range": title_row, "cell": bold, "fields": "userEnteredFormat.textFormat.bold"}})
    protected = found is not None and any(p.get("description") == PROTECTION for p in found.get("protectedRanges", []))
    if not protected:  # a warning only: the coordinator may still delete the tab or type in it
        protection = {"range": {"sheetId": sheet_id}, "description": PROTECTION, "warningOnly": True}
        requests.append({"addProtectedRange": {"protectedRange": protection}})
    return sheet_id, requests


def write_google_tab(client, target: Target, synced_at: datetime) -> None:
    """Rewrite the tab of one spreadsheet: one metadata read, one batchUpdate, one values write."""
    http = client.http_client
    metadata = http.fetch_sheet_metadata(target.key, {"fields": _METADATA_FIELDS})
    gids = {s["properties"]["title"]: s["properties"].get("sheetId", 0) for s in metadata.get("sheets", [])}

    def link(correction: Correction) -> str:
        gid = gids.get(correction.onglet)
        if correction.a1 is None or gid is None:
            return ""
        return cell_link(target.key, gid, correction.a1)

    rows = tab_rows(target, synced_at, link)
    _, requests = _layout_requests(metadata, len(rows))
    http.batch_update(target.key, {"requests": requests})
    values = {"range": f"'{CORRECTIONS_TAB}'!A1", "majorDimension": "ROWS", "values": rows}
    http.values_batch_update(target.key, {"valueInputOption": "RAW", "data": [values]})


def _failure(error: Exception, account: str | None) -> str:
    """Why a write failed, and the fix, in French (never the error's own text: it may quote a response)."""
    from gspread.exceptions import APIError

    who = f"le compte de service {account}" if account else "le compte de service"
    share = f"partagez le tableur avec {who} en tant qu'« Éditeur » (pas « Lecteur »)"
    if isinstance(error, APIError) and error.code == 403:
        return f"Google a refusé l'écriture (HTTP 403) : {share}"
    if isinstance(error, APIError) and error.code == 429:
        return "quota de requêtes Google dépassé (HTTP 429) : la prochaine synchronisation réessaiera"
    if isinstance(error, APIError):
        return f"Google a répondu HTTP {error.code} : la prochaine synchronisation réessaiera"
    return "Google injoignable (réseau) : la prochaine synchronisation réessaiera"


def _load_fingerprints(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_google(settings: Settings, targets: list[Target], synced_at: datetime) -> list[dict]:
    """Write each changed spreadsheet's tab; one entry per spreadsheet for the run report."""
    from flows.sources.google import WRITE_SCOPES, open_client

    path = settings.private_dir / FINGERPRINTS_NAME
    fingerprints = _load_fingerprints(path)
    outcomes, client, account = [], None, None
    for target in targets:
        outcome = {"tableur": target.title, "lignes": len(target.corrections)}
        fingerprint = target.fingerprint()
        if fingerprints.get(target.key) == fingerprint:
            outcomes.append(outcome | {"etat": "inchange"})
            continue
        try:
            if client is None:
                client = open_client(settings, WRITE_SCOPES)
                account = client.service_account_email
            write_google_tab(client, target, synced_at)
        except Exception as error:  # noqa: BLE001 (a write-back never stops the sync)
            fingerprints.pop(target.key, None)
            outcomes.append(outcome | {"etat": "echec", "message": _failure(error, account)})
            continue
        fingerprints[target.key] = fingerprint
        outcomes.append(outcome | {"etat": "ecrit"})
    with private_umask():
        write_text_atomically(path, json.dumps(fingerprints, indent=2))
    return outcomes


# ----------------------------------------------------------------------------------------------
# Files: a-corriger.xlsx beside the exports
# ----------------------------------------------------------------------------------------------


def _sheet_name(title: str, used: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique."""
    name = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:31] or "Tableur"
    base, n = name, 2
    while name in used:
        name = f"{base[:27]} ({n})"
        n += 1
    used.add(name)
    return name


def write_xlsx(folder: Path, targets: list[Target], synced_at: datetime) -> Path:
    """One sheet per spreadsheet (export prefix), the same lines as the Google tab, the cell's reference as link."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    for target in targets:
        sheet = book.create_sheet(_sheet_name(target.title, used))
        rows = tab_rows(target, synced_at, lambda c: f"{c.onglet}!{c.a1}" if c.a1 else "")
        for row in rows:
            sheet.append(row)
        sheet["A1"].font = Font(bold=True)
        for letter, width in zip("ABCDEF", (22, 10, 18, 60, 40, 24)):
            sheet.column_dimensions[letter].width = width
    path = folder / XLSX_NAME
    partial = path.with_name(f".{XLSX_NAME}.partiel")
    book.save(partial)
    partial.replace(path)  # never a half-written file where the coordinator looks
    return path


# ----------------------------------------------------------------------------------------------
# After the sync
# ----------------------------------------------------------------------------------------------


def _outcomes(settings: Settings, source_dir: Path | None, sync_id: str, synced_at: datetime) -> list[dict]:
    """Write the tab of every declared spreadsheet, or a-corriger.xlsx; [] when [retour] is off."""
    config = load_source_config(config_file_for(settings.sources_file, source_dir))
    if not config.retour.actif:
        return []
    targets = collect_targets(settings.build_db, settings.raw_db, sync_id, config)
    if source_dir is None:
        return write_google(settings, targets, synced_at)
    write_xlsx(source_dir, targets, synced_at)
    return [{"tableur": t.title, "lignes": len(t.corrections), "etat": "ecrit"} for t in targets]


def problem_links(work_db: Path, raw_db: Path, sync_id: str) -> list[dict]:
    """Every quarantined row and flagged cell of a Google spreadsheet, with the link to its place (the tab's id
    as landed with the snapshot); rows of exported files and Forms responses have no sheet to open."""
    with duckdb.connect(str(raw_db), read_only=True) as raw:
        snapshots = {(r[0], r[1]): r for r in raw.execute(_SNAPSHOTS, [sync_id]).fetchall()}
    with duckdb.connect(str(work_db), read_only=True) as work:
        problems = work.execute(_PROBLEMS).fetchall()
    links = []
    for problem in problems:
        snapshot = snapshots.get((problem[0], problem[1]))
        if snapshot is None or snapshot[5] is None:
            continue
        a1 = _correction(problem, snapshot, None).a1
        links.append({"tableur": problem[0], "onglet": problem[1], "ligne": problem[2], "colonne": problem[3],
                      "lien": cell_link(snapshot[2], snapshot[5], a1)})
    return links


def _link_listed_places(settings: Settings, report: RunReport, sync_id: str) -> None:
    """Give each quarantined row and flagged cell of the run report the link to its cell, for the quality page
    (matched on the same screened titles as the report's rows)."""
    links = screened_rows(problem_links(settings.build_db, settings.raw_db, sync_id), known_names(settings.raw_db))
    by_place = {(link["tableur"], link["onglet"], link["ligne"], link["colonne"]): link["lien"] for link in links}
    for row in [*report.quarantaine, *report.cellules_signalees]:
        link = by_place.get((row["tableur"], row["onglet"], row["ligne"], row.get("colonne")))
        if link:  # a file or Forms source keeps its rows as they were
            row["lien"] = link


def write_back_after_sync(settings: Settings, report: RunReport, source_dir: Path | None, replay: str | None) -> None:
    """Once the gate has decided (published or blocked): links to the cells in the run report's lists (Google
    sources), and, when [retour] is on, the « À corriger » tabs (or a-corriger.xlsx), their outcome in
    `report.a_corriger` (titles screened). Never raises."""
    if "controle" not in report.durees_secondes or report.statut not in ("publie", "bloque"):
        return  # stopped before the gate: the build holds no complete list
    try:
        _link_listed_places(settings, report, replay or report.run_id)
    except Exception:  # noqa: BLE001 (a link is a convenience: the place is in the row anyway)
        pass
    try:
        outcomes = _outcomes(settings, source_dir, replay or report.run_id, datetime.fromisoformat(report.debut))
    except Exception:  # noqa: BLE001 (never a reason to fail a sync; no content in logs: the type only)
        where = XLSX_NAME if source_dir is not None else "onglets « À corriger »"
        message = f"écriture impossible ({where}) : la prochaine synchronisation réessaiera"
        outcomes = [{"tableur": None, "lignes": 0, "etat": "echec", "message": message}]
    report.a_corriger = screened_rows(outcomes, known_names(settings.raw_db))
