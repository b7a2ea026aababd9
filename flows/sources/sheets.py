"""Google Sheets extraction through gspread: few requests, bounded retries, French errors.

Per spreadsheet and sync: one Drive metadata call (modifiedTime; unchanged -> reuse the last snapshot);
when it changed, one Sheets metadata call (every tab's title: a tab added since, such as « Activités 2020 »
or the « Réponses au formulaire 2 » of a re-linked form, is read too, and a tab no contract reads is
reported « non lu ») and one values:batchGet of the tabs to read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import gspread
from gspread.exceptions import APIError

from flows.errors import InputError
from flows.settings import Settings
from flows.sources.config import SourceConfig, SpreadsheetSource
from flows.sources.forms import FormsReader
from flows.sources.google import FORMS_SCOPES, SHEETS_SCOPES, open_client
from flows.sources.snapshot import TabSnapshot, UnreadItem, cell_text, plan_tabs, tab_from_rows

log = logging.getLogger(__name__)

VALUE_PARAMS = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER"}


def access_error(spreadsheet: SpreadsheetSource, code: int, account: str | None) -> InputError:
    """French message for 403/404: name the spreadsheet and say whom to share it with."""
    share = f"avec le compte de service {account}" if account else "avec l'adresse e-mail du compte de service"
    reason = "n'est pas partagé" if code == 403 else "est introuvable (clé erronée ou tableur supprimé) ou n'est pas partagé"
    return InputError(
        f"Le tableur « {spreadsheet.title} » (clé {spreadsheet.key}) {reason} : "
        f"ouvrez-le dans Google Sheets, cliquez sur « Partager » et ajoutez-le en lecture {share}."
    )


@dataclass(frozen=True)
class LastSnapshot:
    """What the raw history remembers of a spreadsheet's last landed read."""

    modified_time: str | None
    snapshot_ids: list[str]


def last_snapshots(raw_db: Path, spreadsheet_id: str) -> LastSnapshot | None:
    """The latest sync's snapshots of this spreadsheet, if it was ever landed."""
    if not raw_db.exists():
        return None
    with duckdb.connect(str(raw_db), read_only=True) as con:
        rows = con.execute(
            """
            with latest as (
                select max(syncs.started_at) as started_at
                from snapshots join syncs using (sync_id)
                where snapshots.spreadsheet_id = ?
            )
            select snapshots.snapshot_id, snapshots.modified_time
            from snapshots join syncs using (sync_id) join latest using (started_at)
            where snapshots.spreadsheet_id = ?
            order by snapshots.tab
            """,
            [spreadsheet_id, spreadsheet_id],
        ).fetchall()
    if not rows:
        return None
    return LastSnapshot(modified_time=rows[0][1], snapshot_ids=[r[0] for r in rows])


def _quoted_range(tab: str) -> str:
    return "'" + tab.replace("'", "''") + "'"


@dataclass(frozen=True)
class SheetRead:
    """One spreadsheet's read: its tabs read, and its tabs no contract reads."""

    snapshots: list[TabSnapshot]
    unread: list[UnreadItem]


def read_spreadsheet(client: gspread.Client, spreadsheet: SpreadsheetSource, modified_time: str | None) -> SheetRead:
    """The tab titles and ids (Sheets metadata), then one values:batchGet of the tabs to read, as unformatted
    values with serial-number dates."""
    metadata = client.http_client.fetch_sheet_metadata(
        spreadsheet.key, {"fields": "sheets.properties(title,sheetId)"}
    )
    titles = [sheet["properties"]["title"] for sheet in metadata.get("sheets", [])]
    # Each tab's id, kept with its snapshot: the quality page links a flagged cell to it, even in later syncs
    # that reuse this read.
    gids = {sheet["properties"]["title"]: sheet["properties"].get("sheetId", 0) for sheet in metadata.get("sheets", [])}
    planned, unread = plan_tabs(spreadsheet, titles)
    response = client.http_client.values_batch_get(
        spreadsheet.key, [_quoted_range(title) for _, title in planned], params=dict(VALUE_PARAMS)
    )
    snapshots = []
    for (contract, tab), value_range in zip(planned, response.get("valueRanges", [])):
        rows = [[cell_text(value) for value in row] for row in value_range.get("values", [])]
        snapshot = tab_from_rows(rows, spreadsheet, spreadsheet.key, tab, contract, modified_time)
        snapshot.sheet_gid = gids.get(tab)
        snapshots.append(snapshot)
    return SheetRead(snapshots, unread)


@dataclass(frozen=True)
class GoogleRead:
    """What one sync read: new snapshots, earlier ones reused, Google requests made (Forms among them), and the
    tabs or files of the sources not read."""

    snapshots: list[TabSnapshot]
    reused: list[str]
    requests: int
    forms_requests: int
    unread: list[UnreadItem] = field(default_factory=list)


def read_sheet(client: gspread.Client, spreadsheet: SpreadsheetSource, raw_db: Path, full: bool) -> tuple[SheetRead, list[str]]:
    """One spreadsheet: its tabs, or its last snapshot when Drive says it has not changed (unless `full`)."""
    if not spreadsheet.key:
        raise InputError(f"Tableur « {spreadsheet.title} » : la clé (« cle ») manque dans la configuration.")
    try:
        drive = client.http_client.get_file_drive_metadata(spreadsheet.key)
        modified_time = drive.get("modifiedTime")
        last = last_snapshots(raw_db, spreadsheet.key)
        if last and not full and modified_time and last.modified_time == modified_time:
            log.info("Tableur « %s » inchangé depuis la dernière lecture : instantané réutilisé", spreadsheet.title)
            return SheetRead([], []), last.snapshot_ids
        return read_spreadsheet(client, spreadsheet, modified_time), []
    except APIError as err:
        if err.code in (403, 404):
            raise access_error(spreadsheet, err.code, client.service_account_email) from None
        raise InputError(f"Tableur « {spreadsheet.title} » : Google Sheets a répondu HTTP {err.code}.") from None


def scopes_for(config: SourceConfig) -> tuple[str, ...]:
    """The least scopes this configuration needs: Sheets and Drive metadata, Forms only for Forms campaigns."""
    forms = any(source.form_id for source in config.spreadsheets)
    sheets = any(not source.form_id for source in config.spreadsheets)
    return (SHEETS_SCOPES if sheets else ()) + (FORMS_SCOPES if forms else ())


def extract_google(config: SourceConfig, settings: Settings, full: bool) -> GoogleRead:
    """Read every configured spreadsheet and form; unchanged ones reuse their last read unless `full`."""
    client = open_client(settings, scopes_for(config))
    forms = FormsReader(client, settings.google.forms_page_size)
    snapshots: list[TabSnapshot] = []
    reused: list[str] = []
    unread: list[UnreadItem] = []
    for source in config.spreadsheets:
        if source.form_id:
            snapshot, earlier = forms.read(source, settings.raw_db, full)
            snapshots += [snapshot] if snapshot else []
            reused += earlier
        else:
            fresh, earlier = read_sheet(client, source, settings.raw_db, full)
            snapshots += fresh.snapshots
            unread += fresh.unread
            reused += earlier
    http = client.http_client
    return GoogleRead(snapshots, reused, http.request_count, http.forms_request_count, unread)
