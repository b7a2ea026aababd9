#!/usr/bin/env bash
# Start Superset on 127.0.0.1 (port $PDN_SUPERSET_PORT, 8088) from .venv-bi, with SQLite metadata in
# $PDN_SUPERSET_HOME (.venv-bi/instance). First run: metadata tables, roles, and the admin account when
# SUPERSET_ADMIN_PASSWORD is set (user $SUPERSET_ADMIN_USER, « admin »). No example data is loaded.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/../.venv-bi/bin"
export SUPERSET_CONFIG_PATH="$here/superset_config.py"
export FLASK_APP=superset
export SCARF_ANALYTICS=false
"$bin/superset" db upgrade >/dev/null 2>&1 || "$bin/superset" db upgrade
if [ -n "${SUPERSET_ADMIN_PASSWORD:-}" ]; then
  # Read from the environment by a small script: the password never appears on a command line.
  "$bin/python" - <<'PY'
import os
from superset.app import create_app

app = create_app()
with app.app_context():
    from superset import security_manager

    name = os.environ.get("SUPERSET_ADMIN_USER", "admin")
    if security_manager.find_user(username=name) is None:
        role = security_manager.find_role("Admin") or security_manager.add_role("Admin")
        security_manager.add_user(name, "Admin", "PDN", f"{name}@localhost", role, os.environ["SUPERSET_ADMIN_PASSWORD"])
PY
fi
"$bin/superset" init >/dev/null
exec "$bin/gunicorn" --bind "127.0.0.1:${PDN_SUPERSET_PORT:-8088}" --workers 1 --threads 8 --timeout 300 \
  --access-logfile - "superset.app:create_app()"
