"""Google APIs: credentials, the emulator session, and one HTTP client that paces and retries every call."""

from __future__ import annotations

import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable

import gspread
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import AuthorizedSession
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from flows.errors import InputError
from flows.settings import GoogleSettings, Settings

log = logging.getLogger(__name__)

# Least scopes, per kind of source; the nightly sync asks only for those its configuration needs.
SHEETS_SCOPES = (
    "https://www.googleapis.com/auth/spreadsheets.readonly",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
)
FORMS_SCOPES = (
    "https://www.googleapis.com/auth/forms.body.readonly",
    "https://www.googleapis.com/auth/forms.responses.readonly",
)
DOCS_SCOPES = ("https://www.googleapis.com/auth/documents.readonly",)
READONLY_SCOPES = SHEETS_SCOPES
# The only writes the project makes, each with a client of its own (the reads keep the read-only scopes):
# `pdn modele` formats the Suivi spreadsheet; with [retour] on, the sync rewrites each spreadsheet's
# « À corriger » tab (flows/outputs/write_back.py).
WRITE_SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
GOOGLE_HOSTS = (
    "https://sheets.googleapis.com",
    "https://www.googleapis.com",
    "https://forms.googleapis.com",
    "https://docs.googleapis.com",
)
RETRYABLE = {408, 429, 500, 502, 503, 504}


class SheetsUnavailable(InputError):
    """Google kept failing until the time limit: nothing is published (exit 2)."""


class PacedRetryingHTTPClient(HTTPClient):
    """gspread's HTTP client, paced under the per-minute quota and retrying transient errors within a bound.

    gspread's own BackOffHTTPClient never gives up and has no time limit, hence this one.
    """

    policy = GoogleSettings()
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request_count = 0
        self.forms_request_count = 0  # of which Google Forms API calls
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
        if self.clock() - started + wait <= self.policy.retry_total:
            return
        last = f", dernière erreur : {_short(failure)}" if failure else ""
        raise SheetsUnavailable(
            f"Google Sheets ne répond pas correctement depuis {self.policy.retry_total:.0f} s "
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
            self.forms_request_count += str(kwargs.get("endpoint", args[1] if len(args) > 1 else "")).startswith(
                "https://forms.googleapis.com"
            )
            try:
                return super().request(*args, **kwargs)
            except RefreshError:
                raise InputError(
                    "Clé refusée par Google : le compte de service n'a pas obtenu de jeton d'accès "
                    "(clé révoquée ou supprimée dans la console Google Cloud, ou compte désactivé). "
                    "Créez une nouvelle clé JSON et indiquez-la dans GOOGLE_APPLICATION_CREDENTIALS."
                ) from None
            except APIError as err:
                if err.code not in RETRYABLE:
                    raise
                failure = err
            except requests.RequestException as err:
                failure = err
            attempt += 1
            delay = random.uniform(0, min(self.policy.retry_cap, self.policy.retry_base * 2**attempt))
            self._check_deadline(started, delay, attempt, failure)
            log.warning("Google Sheets indisponible (%s), nouvel essai dans %.1f s", _short(failure), delay)
            self.sleep(delay)


def _short(error: Exception) -> str:
    if isinstance(error, APIError):
        return f"HTTP {error.code}"
    return type(error).__name__


class EmulatorSession(AuthorizedSession):
    """Sends every Google API call to a local emulator, like Google's *_EMULATOR_HOST convention.

    Calls carry the configured credentials when there are some (the key file's `token_uri` then says
    where tokens come from), and none otherwise.
    """

    def __init__(self, base_url: str, credentials=None) -> None:
        from google.auth.credentials import AnonymousCredentials

        super().__init__(credentials or AnonymousCredentials())
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        for host in GOOGLE_HOSTS:
            if url.startswith(host):
                url = self.base_url + url[len(host) :]
                break
        return super().request(method, url, *args, **kwargs)


def service_account_credentials(google: GoogleSettings, scopes: tuple[str, ...]):
    """Service-account credentials with `scopes`: the key file, else the Prefect Secret block PDN_GOOGLE_SECRET_BLOCK."""
    from google.oauth2.service_account import Credentials

    if google.credentials_file is None and google.secret_block:
        from prefect.blocks.system import Secret

        try:
            info = Secret.load(google.secret_block).get()
            info = json.loads(info) if isinstance(info, str) else info
            return Credentials.from_service_account_info(info, scopes=list(scopes))
        except (ValueError, KeyError, TypeError):
            # Never quote the block's content: it is the key.
            raise InputError(
                f"Le bloc Prefect « {google.secret_block} » ne contient pas une clé de compte de service lisible."
            ) from None
    if google.credentials_file is None:
        raise InputError(
            "Aucun compte de service Google : définissez GOOGLE_APPLICATION_CREDENTIALS "
            "(chemin du fichier de clé JSON) ou PDN_GOOGLE_SECRET_BLOCK (bloc Secret de Prefect), "
            "ou lisez des exports avec « pdn synchroniser --source DOSSIER »."
        )
    try:
        return Credentials.from_service_account_file(str(google.credentials_file), scopes=list(scopes))
    except (OSError, ValueError, KeyError):
        # The exception text could quote the key file: say only which file is unusable.
        raise InputError(
            f"Le fichier de clé du compte de service ({google.credentials_file.name}) est illisible."
        ) from None


def open_client(settings: Settings, scopes: tuple[str, ...] = SHEETS_SCOPES) -> gspread.Client:
    """A gspread client whose HTTP client paces and retries every Google call (Sheets, Drive, Forms, Docs).

    Against the emulator, calls are anonymous unless a service account is configured.
    """
    google = settings.google
    PacedRetryingHTTPClient.policy = google
    has_key = google.credentials_file is not None or google.secret_block is not None
    credentials = service_account_credentials(google, scopes) if has_key or not google.api_url else None
    session = EmulatorSession(google.api_url, credentials) if google.api_url else AuthorizedSession(credentials)
    client = gspread.Client(auth=credentials, session=session, http_client=PacedRetryingHTTPClient)
    # The address the coordinator must share files with (None when anonymous).
    client.service_account_email = getattr(credentials, "service_account_email", None)
    return client
