"""One entry point for configuration: every PDN_* environment variable is read here (see .env.example).

`load_settings()` returns one frozen object with a section per concern (Google, alerts, operations); a
value that cannot be read is a French InputError naming the variable, never a Python traceback.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
DBT_PROJECT_DIR = REPO_ROOT / "dbt"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

# Tools here must not phone home: calls out hang or fail on a closed network.
QUIET_TOOLS_ENV = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
}

# DuckDB's own default is 80 % of RAM, kept until the build ends; capped, dbt's build spills to the private build
# folder instead (bench/RESULTS.md: at 4x the national network, 4.4 GiB -> 1.8 GiB for the whole sync).
DEFAULT_DUCKDB_MEMORY_LIMIT = "1GB"
_MEMORY_SIZE = re.compile(r"(\d+(?:[.,]\d+)?) ?([kmgt]i?b|[kmgt]o|%)", re.IGNORECASE)
DEFAULT_CRON = "0 4 * * *"  # 04:00 Paris time: after the hour that DST skips or repeats


# Prefect's temporary server (a `pdn synchroniser` with no PREFECT_API_URL) creates and migrates its database on a cold
# PREFECT_HOME: 40 s and more on a loaded 2-core machine, against Prefect's own 20 s default. Still overridable.
EPHEMERAL_STARTUP_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
TOOL_DEFAULTS_ENV = {EPHEMERAL_STARTUP_TIMEOUT: "300"}


def silence_telemetry() -> None:
    """Turn off every tool's usage reporting for this process and its children, and set the project's defaults
    for their other settings (each still overridable from the environment)."""
    for name, value in (QUIET_TOOLS_ENV | TOOL_DEFAULTS_ENV).items():
        os.environ.setdefault(name, value)


def _text(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _path(name: str) -> Path | None:
    value = _text(name)
    return Path(value).expanduser() if value else None


def _number(name: str, default: float, *, minimum: float = 0.0, whole: bool = False) -> float:
    """A number from the environment (decimal comma accepted), or a French error naming the variable."""
    from flows.errors import InputError

    value = _text(name)
    if value is None:
        return default
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        number = float("nan")
    if not number >= minimum or (whole and not number.is_integer()):
        kind = "un nombre entier" if whole else "un nombre"
        raise InputError(f"{name} doit être {kind} supérieur ou égal à {minimum:g} (lu : « {value} »).")
    return number


def _memory_size(name: str, default: str) -> str:
    """A memory size as DuckDB reads it (« 1GB », « 500MB », « 2GiB », « 25% » of RAM, French « 500 Mo » too),
    or a French error naming the variable."""
    from flows.errors import InputError

    value = _text(name)
    if value is None:
        return default
    match = _MEMORY_SIZE.fullmatch(value)
    if match is None:
        raise InputError(
            f"{name} doit être une taille de mémoire, par exemple 1GB, 500MB ou 25% (lu : « {value} »)."
        )
    number, unit = match.groups()
    return number.replace(",", ".") + re.sub("o$", "b", unit.lower())


def _flag(name: str, default: bool) -> bool:
    value = _text(name)
    return default if value is None else value.lower() in {"1", "true", "yes", "oui", "on", "vrai"}


@dataclass(frozen=True)
class GoogleSettings:
    """How Google is reached: the emulator (tests, demos) or a service account; retry and pacing bounds."""

    api_url: str | None = None  # PDN_SHEETS_API_URL: every Google call goes to this local emulator
    credentials_file: Path | None = None  # GOOGLE_APPLICATION_CREDENTIALS
    secret_block: str | None = None  # PDN_GOOGLE_SECRET_BLOCK: a Prefect Secret block holding the key
    retry_base: float = 1.0  # seconds; bounded exponential backoff with full jitter
    retry_cap: float = 32.0
    retry_total: float = 120.0  # give up (exit 2) after this many seconds of failures
    quota_per_minute: int = 60  # Google's per-user read quota: requests are paced under it
    forms_page_size: int = 5000  # responses per forms.responses.list call (Google's maximum)


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go (secrets included: only ever from the environment, never from a file under git)."""

    webhook_url: str | None = None
    webhook_format: str = "texte"  # 'texte' (Slack, Mattermost) or 'teams'
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    sender: str = "pdn-warehouse@localhost"
    recipients: tuple[str, ...] = ()

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host and self.recipients)

    def secrets(self) -> list[str]:
        """Strings that must never appear in a log line."""
        return [value for value in (self.webhook_url, self.smtp_password, self.smtp_user) if value]


@dataclass(frozen=True)
class Settings:
    """Where things live and how sources are reached, read from the environment."""

    warehouse_dir: Path
    private_dir: Path
    sources_file: Path | None = None
    google: GoogleSettings = field(default_factory=GoogleSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    retention_years: int = 3  # PDN_RETENTION_YEARS
    status_max_age_hours: float = 26.0  # PDN_STATUS_MAX_AGE_HOURS
    sync_cron: str = DEFAULT_CRON  # PDN_SYNC_CRON, Paris time
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT  # PDN_DUCKDB_MEMORY_LIMIT, for dbt's build

    @property
    def published_db(self) -> Path:
        """The file analysts and the BI tool read."""
        return self.warehouse_dir / "pdn.duckdb"

    @property
    def raw_db(self) -> Path:
        """Append-only raw history: personal data, never published."""
        return self.private_dir / "raw.duckdb"

    @property
    def build_db(self) -> Path:
        """The private dbt build, rebuilt from scratch by every run (staging and intermediate stay here)."""
        return self.private_dir / "build" / "work.duckdb"

    @property
    def runs_dir(self) -> Path:
        """Run reports (JSON) and Data Docs, next to the warehouse."""
        return self.warehouse_dir / "runs"

    @property
    def lock_file(self) -> Path:
        return self.warehouse_dir / ".pdn-sync.lock"

    @property
    def pseudonym_key_file(self) -> Path:
        """Where the key is kept when PDN_PSEUDONYM_KEY is not set (owner-only, in the private folder)."""
        return self.private_dir / "pseudonym.key"

    def pseudonym_key(self) -> bytes:
        """Secret for pseudonymous keys: PDN_PSEUDONYM_KEY, else the key file; a French refusal when neither.

        Never made up here: a key created silently for real sources would key the history anew, and every
        erasure made under the old one would stop protecting (only the bundled sample gets one, see
        create_sample_key)."""
        from_env = os.environ.get("PDN_PSEUDONYM_KEY")
        if from_env:
            return from_env.encode()
        try:
            key = self.pseudonym_key_file.read_text(encoding="utf-8").strip().encode()
        except FileNotFoundError:
            key = b""
        if not key:
            from flows.errors import InputError

            raise InputError(
                "Aucune clé de pseudonymisation : définissez la variable PDN_PSEUDONYM_KEY (au moins 32 caractères "
                "aléatoires, par exemple le résultat de « python -c \"import secrets; print(secrets.token_hex(32))\" »)"
                f", ou écrivez-la dans {self.pseudonym_key_file} (lisible par vous seul·e). Gardez-en une copie "
                "en lieu sûr (coffre-fort de mots de passe), hors du dossier de l'entrepôt : sans elle, "
                "l'historique ne peut plus être complété et les effacements ne protègent plus. Une clé n'est "
                "créée d'office que pour l'échantillon fourni (pdn synchroniser sans PDN_SOURCES ni --source)."
            )
        return key

    def create_sample_key(self) -> bool:
        """The bundled sample's run only: a random key file when no key is set; True when one was created."""
        if os.environ.get("PDN_PSEUDONYM_KEY") or self.pseudonym_key_file.exists():
            return False
        from flows.storage import ensure_private_dir

        ensure_private_dir(self.private_dir)
        fd = os.open(self.pseudonym_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        return True


def load_google_settings() -> GoogleSettings:
    """PDN_SHEETS_API_URL, the service account, PDN_SHEETS_RETRY_BASE/_CAP/_TOTAL and PDN_SHEETS_QUOTA."""
    defaults = GoogleSettings()
    return GoogleSettings(
        api_url=_text("PDN_SHEETS_API_URL"),
        credentials_file=_path("GOOGLE_APPLICATION_CREDENTIALS"),
        secret_block=_text("PDN_GOOGLE_SECRET_BLOCK"),
        retry_base=_number("PDN_SHEETS_RETRY_BASE", defaults.retry_base),
        retry_cap=_number("PDN_SHEETS_RETRY_CAP", defaults.retry_cap),
        retry_total=_number("PDN_SHEETS_RETRY_TOTAL", defaults.retry_total),
        quota_per_minute=int(_number("PDN_SHEETS_QUOTA", defaults.quota_per_minute, minimum=1, whole=True)),
        forms_page_size=int(_number("PDN_FORMS_PAGE_SIZE", defaults.forms_page_size, minimum=1, whole=True)),
    )


def load_alert_settings() -> AlertSettings:
    """PDN_ALERT_* and PDN_SMTP_*; unset channels stay off."""
    starttls = _flag("PDN_SMTP_STARTTLS", default=True)
    webhook_format = (_text("PDN_ALERT_WEBHOOK_FORMAT") or "texte").lower()
    if webhook_format not in ("texte", "teams"):
        logging.getLogger(__name__).warning(
            "PDN_ALERT_WEBHOOK_FORMAT inconnu (%s) : format « texte » utilisé.", webhook_format
        )
        webhook_format = "texte"
    return AlertSettings(
        webhook_url=_text("PDN_ALERT_WEBHOOK_URL"),
        webhook_format=webhook_format,
        smtp_host=_text("PDN_SMTP_HOST"),
        smtp_port=int(_number("PDN_SMTP_PORT", 587 if starttls else 25, minimum=1, whole=True)),
        smtp_user=_text("PDN_SMTP_USER"),
        smtp_password=os.environ.get("PDN_SMTP_PASSWORD") or None,
        smtp_starttls=starttls,
        sender=_text("PDN_ALERT_FROM") or AlertSettings.sender,
        recipients=tuple(a.strip() for a in os.environ.get("PDN_ALERT_TO", "").split(",") if a.strip()),
    )


def load_settings() -> Settings:
    """Read every setting from the environment, with repository-relative defaults."""
    warehouse_dir = _path("PDN_WAREHOUSE_DIR") or REPO_ROOT / "warehouse"
    return Settings(
        warehouse_dir=warehouse_dir.resolve(),
        private_dir=(_path("PDN_PRIVATE_DIR") or warehouse_dir / "private").resolve(),
        sources_file=_path("PDN_SOURCES"),
        google=load_google_settings(),
        alerts=load_alert_settings(),
        retention_years=int(_number("PDN_RETENTION_YEARS", 3, minimum=1, whole=True)),
        status_max_age_hours=_number("PDN_STATUS_MAX_AGE_HOURS", 26.0, minimum=0.01),
        sync_cron=_text("PDN_SYNC_CRON") or DEFAULT_CRON,
        duckdb_memory_limit=_memory_size("PDN_DUCKDB_MEMORY_LIMIT", DEFAULT_DUCKDB_MEMORY_LIMIT),
    )
