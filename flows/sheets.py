"""Google Sheets extraction through gspread: few requests, bounded retries, French errors.

Per spreadsheet and sync: one Drive metadata call (modifiedTime; unchanged -> reuse the last snapshot)
and one values:batchGet of every tab. The Sheets metadata call (tab titles) is only made when the tab
titles remembered from the last snapshot no longer resolve.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import gspread
import requests
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from flows.contract import TableContract, contract_for_tab
from flows.errors import InputError
from flows.extract import TabSnapshot, cell_text, expected_contracts, missing_tab_error, tab_from_rows
from flows.settings import Settings
from flows.sources import SourceConfig, SpreadsheetSource

log = logging.getLogger(__name__)

READONLY_SCOPES = (
    "https://www.googleapis.com/auth/spreadsheets.readonly",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
)
GOOGLE_HOSTS = ("https://sheets.googleapis.com", "https://www.googleapis.com")
RETRYABLE = {408, 429, 500, 502, 503, 504}
VALUE_PARAMS = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER"}


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter and a total time limit (seconds)."""

    base: float = 1.0
    cap: float = 32.0
    total: float = 120.0
    quota_per_minute: int = 60

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        """Knobs for operators (and fast tests): PDN_SHEETS_RETRY_BASE/_CAP/_TOTAL, PDN_SHEETS_QUOTA."""
        return cls(
            base=float(os.environ.get("PDN_SHEETS_RETRY_BASE", cls.base)),
            cap=float(os.environ.get("PDN_SHEETS_RETRY_CAP", cls.cap)),
            total=float(os.environ.get("PDN_SHEETS_RETRY_TOTAL", cls.total)),
            quota_per_minute=int(os.environ.get("PDN_SHEETS_QUOTA", cls.quota_per_minute)),
        )


class SheetsUnavailable(InputError):
    """Google kept failing until the time limit: nothing is published (exit 2)."""


class PacedRetryingHTTPClient(HTTPClient):
    """gspread's HTTP client, paced under the per-minute quota and retrying transient errors within a bound.

    gspread's own BackOffHTTPClient never gives up and has no time limit, hence this one.
    """

    policy = RetryPolicy()
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request_count = 0
        self._sent: deque[float] = deque()

    def _pace(self, started: float, attempt: int, failure: Exception | None) -> None:
        """Wait, if needed, so that no 60-second window holds more requests than the quota."""
        now = self.clock()
        while self._sent and now - self._sent[0] >= 60:
            self._sent.popleft()
        if len(self._sent) >= self.policy.quota_per_minute:
            wait = 60 - (now - self._sent[0])
            self._check_deadline(started, wait, attempt, failure)
            self.sleep(wait)
            self._sent.popleft()
        self._sent.append(self.clock())

    def _check_deadline(self, started: float, wait: float, attempt: int, failure: Exception | None) -> None:
        """Give up rather than wait past the total time limit."""
        if self.clock() - started + wait <= self.policy.total:
            return
        last = f", dernière erreur : {_short(failure)}" if failure else ""
        raise SheetsUnavailable(
            f"Google Sheets ne répond pas correctement depuis {self.policy.total:.0f} s "
            f"({attempt} nouvelles tentatives{last}). "
            "Rien n'a été publié ; la prochaine synchronisation réessaiera."
        ) from failure

    def request(self, *args, **kwargs):
        started = self.clock()
        attempt = 0
        failure: Exception | None = None
        while True:
            self._pace(started, attempt, failure)
            self.request_count += 1
            try:
                return super().request(*args, **kwargs)
            except APIError as err:
                if err.code not in RETRYABLE:
                    raise
                failure = err
            except requests.RequestException as err:
                failure = err
            attempt += 1
            delay = random.uniform(0, min(self.policy.cap, self.policy.base * 2**attempt))
            self._check_deadline(started, delay, attempt, failure)
            log.warning("Google Sheets indisponible (%s), nouvel essai dans %.1f s", _short(failure), delay)
            self.sleep(delay)


def _short(error: Exception) -> str:
    if isinstance(error, APIError):
        return f"HTTP {error.code}"
    return type(error).__name__


class EmulatorSession(requests.Session):
    """Sends every Google API call to a local emulator, like Google's *_EMULATOR_HOST convention."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        for host in GOOGLE_HOSTS:
            if url.startswith(host):
                url = self.base_url + url[len(host) :]
                break
        return super().request(method, url, *args, **kwargs)


def service_account_credentials(settings: Settings):
    """Read-only service-account credentials: the key file, else the Prefect Secret block named by PDN_GOOGLE_SECRET_BLOCK."""
    from google.oauth2.service_account import Credentials

    block = os.environ.get("PDN_GOOGLE_SECRET_BLOCK")
    if settings.credentials_file is None and block:
        from prefect.blocks.system import Secret

        try:
            info = Secret.load(block).get()
            info = json.loads(info) if isinstance(info, str) else info
            return Credentials.from_service_account_info(info, scopes=list(READONLY_SCOPES))
        except (ValueError, KeyError, TypeError):
            # Never quote the block's content: it is the key.
            raise InputError(f"Le bloc Prefect « {block} » ne contient pas une clé de compte de service lisible.") from None
    if settings.credentials_file is None:
        raise InputError(
            "Aucun compte de service Google : définissez GOOGLE_APPLICATION_CREDENTIALS "
            "(chemin du fichier de clé JSON) ou PDN_GOOGLE_SECRET_BLOCK (bloc Secret de Prefect), "
            "ou lisez des exports avec « pdn sync --source DOSSIER »."
        )
    try:
        return Credentials.from_service_account_file(str(settings.credentials_file), scopes=list(READONLY_SCOPES))
    except (OSError, ValueError, KeyError):
        # The exception text could quote the key file: say only which file is unusable.
        raise InputError(
            f"Le fichier de clé du compte de service ({settings.credentials_file.name}) est illisible."
        ) from None


def open_client(settings: Settings) -> gspread.Client:
    """A gspread client: anonymous against the emulator, else the service account (read-only scopes)."""
    PacedRetryingHTTPClient.policy = RetryPolicy.from_env()
    if settings.sheets_api_url:
        from google.auth.credentials import AnonymousCredentials

        return gspread.Client(
            auth=AnonymousCredentials(),
            session=EmulatorSession(settings.sheets_api_url),
            http_client=PacedRetryingHTTPClient,
        )
    return gspread.Client(auth=service_account_credentials(settings), http_client=PacedRetryingHTTPClient)


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
    tabs: list[str]


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
            select snapshots.snapshot_id, snapshots.tab, snapshots.modified_time
            from snapshots join syncs using (sync_id) join latest using (started_at)
            where snapshots.spreadsheet_id = ?
            order by snapshots.tab
            """,
            [spreadsheet_id, spreadsheet_id],
        ).fetchall()
    if not rows:
        return None
    return LastSnapshot(modified_time=rows[0][2], snapshot_ids=[r[0] for r in rows], tabs=[r[1] for r in rows])


def _quoted_range(tab: str) -> str:
    return "'" + tab.replace("'", "''") + "'"


def _resolve_tabs(
    client: gspread.Client, spreadsheet: SpreadsheetSource, guesses: list[str] | None
) -> dict[TableContract, str]:
    """Map each expected tab to its title: from `guesses` when given, else from the Sheets metadata call."""
    contracts = expected_contracts(spreadsheet)
    if guesses is not None:
        resolved = {c: t for c in contracts for t in guesses if contract_for_tab(t, spreadsheet.kind) is c}
        if len(resolved) == len(contracts):
            return resolved
    metadata = client.http_client.fetch_sheet_metadata(spreadsheet.key)
    titles = [sheet["properties"]["title"] for sheet in metadata.get("sheets", [])]
    resolved = {}
    for contract in contracts:
        title = next((t for t in titles if contract_for_tab(t, spreadsheet.kind) is contract), None)
        if title is None:
            raise missing_tab_error(spreadsheet, contract, titles)
        resolved[contract] = title
    return resolved


def read_spreadsheet(
    client: gspread.Client, spreadsheet: SpreadsheetSource, guesses: list[str] | None, modified_time: str | None
) -> list[TabSnapshot]:
    """One values:batchGet of every expected tab, as unformatted values with serial-number dates.

    Tab titles are first guessed (last snapshot's titles, else the template's); a 400 means a guessed
    tab does not exist, so the titles are then looked up with the Sheets metadata call.
    """
    tabs = _resolve_tabs(client, spreadsheet, guesses)
    try:
        response = client.http_client.values_batch_get(
            spreadsheet.key, [_quoted_range(t) for t in tabs.values()], params=dict(VALUE_PARAMS)
        )
    except APIError as err:
        if err.code != 400 or guesses is None:
            raise
        return read_spreadsheet(client, spreadsheet, None, modified_time)
    snapshots = []
    for (contract, tab), value_range in zip(tabs.items(), response.get("valueRanges", [])):
        rows = [[cell_text(value) for value in row] for row in value_range.get("values", [])]
        snapshots.append(tab_from_rows(rows, spreadsheet, spreadsheet.key, tab, contract, modified_time))
    return snapshots


def template_tabs(spreadsheet: SpreadsheetSource) -> list[str]:
    """The tab titles of the templates we give the coordinator."""
    return [contract.tab_titles[0] for contract in expected_contracts(spreadsheet)]


def extract_sheets(
    config: SourceConfig, settings: Settings, full: bool
) -> tuple[list[TabSnapshot], list[str], int]:
    """Read every configured spreadsheet; unchanged ones reuse their last snapshot unless `full`."""
    client = open_client(settings)
    # The address the coordinator must share the sheets with (None against the emulator).
    account = getattr(getattr(client.http_client, "auth", None), "service_account_email", None)
    snapshots: list[TabSnapshot] = []
    reused: list[str] = []
    for spreadsheet in config.spreadsheets:
        if not spreadsheet.key:
            raise InputError(f"Tableur « {spreadsheet.title} » : la clé (« cle ») manque dans la configuration.")
        try:
            drive = client.http_client.get_file_drive_metadata(spreadsheet.key)
            modified_time = drive.get("modifiedTime")
            last = last_snapshots(settings.raw_db, spreadsheet.key)
            if last and not full and modified_time and last.modified_time == modified_time:
                log.info("Tableur « %s » inchangé depuis la dernière lecture : instantané réutilisé", spreadsheet.title)
                reused.extend(last.snapshot_ids)
                continue
            guesses = last.tabs if last else template_tabs(spreadsheet)
            snapshots.extend(read_spreadsheet(client, spreadsheet, guesses, modified_time))
        except APIError as err:
            if err.code in (403, 404):
                raise access_error(spreadsheet, err.code, account) from None
            raise InputError(
                f"Tableur « {spreadsheet.title} » : Google Sheets a répondu HTTP {err.code}."
            ) from None
    return snapshots, reused, client.http_client.request_count
