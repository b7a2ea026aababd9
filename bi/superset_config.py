"""Superset's configuration for the CAF's dashboard (read by Superset through SUPERSET_CONFIG_PATH).

Everything that differs per machine comes from the environment: the instance folder (SQLite metadata),
the secret key file written by `make bi` (never committed). Nothing leaves the machine.
"""

import os
from pathlib import Path

_BI_VENV = Path(__file__).resolve().parent.parent / ".venv-bi"
INSTANCE_DIR = Path(os.environ.get("PDN_SUPERSET_HOME", _BI_VENV / "instance"))
INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
DATA_DIR = str(INSTANCE_DIR)

SECRET_KEY = Path(os.environ.get("PDN_SUPERSET_SECRET_KEY_FILE", _BI_VENV / "superset-secret-key")).read_text().strip()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{INSTANCE_DIR / 'superset.db'}?check_same_thread=false"

# French interface by default, as every user-facing text of the project.
BABEL_DEFAULT_LOCALE = "fr"
LANGUAGES = {"fr": {"flag": "fr", "name": "Français"}, "en": {"flag": "us", "name": "English"}}

# The published file is swapped by every sync: no result cache that would outlive a publication.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
# No example data, no telemetry, no outside calls from the server; rate limits stay in memory.
SUPERSET_LOAD_EXAMPLES = False
SCARF_ANALYTICS = False
RATELIMIT_STORAGE_URI = "memory://"
# The metadata database of a local instance is SQLite: allowed here, never as a data source.
PREVENT_UNSAFE_DB_CONNECTIONS = True
