"""One entry point for configuration: environment variables (see .env.example)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
DBT_PROJECT_DIR = REPO_ROOT / "dbt"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

# Tools here must not phone home: calls out hang or fail on a closed network.
QUIET_TOOLS_ENV = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
}


def silence_telemetry() -> None:
    """Turn off every tool's usage reporting for this process and its children."""
    for name, value in QUIET_TOOLS_ENV.items():
        os.environ.setdefault(name, value)


@dataclass(frozen=True)
class Settings:
    """Where things live and how sources are reached, read from the environment."""

    warehouse_dir: Path
    private_dir: Path
    sources_file: Path | None
    sheets_api_url: str | None
    credentials_file: Path | None

    @property
    def published_db(self) -> Path:
        """The file analysts and the BI tool read."""
        return self.warehouse_dir / "pdn.duckdb"

    @property
    def raw_db(self) -> Path:
        """Append-only raw history: personal data, never published."""
        return self.private_dir / "raw.duckdb"

    @property
    def runs_dir(self) -> Path:
        """Run reports (JSON) and Data Docs, next to the warehouse."""
        return self.warehouse_dir / "runs"

    @property
    def lock_file(self) -> Path:
        return self.warehouse_dir / ".pdn-sync.lock"

    def pseudonym_key(self) -> bytes:
        """Secret for pseudonymous keys: PDN_PSEUDONYM_KEY, else a random key kept in the private dir."""
        from_env = os.environ.get("PDN_PSEUDONYM_KEY")
        if from_env:
            return from_env.encode()
        key_file = self.private_dir / "pseudonym.key"
        if not key_file.exists():
            self.private_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return key_file.read_text().strip().encode()


def _optional_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def load_settings() -> Settings:
    """Read settings from the environment, with repository-relative defaults."""
    warehouse_dir = _optional_path("PDN_WAREHOUSE_DIR") or REPO_ROOT / "warehouse"
    return Settings(
        warehouse_dir=warehouse_dir.resolve(),
        private_dir=(_optional_path("PDN_PRIVATE_DIR") or warehouse_dir / "private").resolve(),
        sources_file=_optional_path("PDN_SOURCES"),
        sheets_api_url=os.environ.get("PDN_SHEETS_API_URL") or None,
        credentials_file=_optional_path("GOOGLE_APPLICATION_CREDENTIALS"),
    )
