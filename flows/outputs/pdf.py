"""The bilan printed to PDF by headless Chromium (the page's own A4 rules, page numbers and running heads)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from flows.errors import InputError
from flows.storage import writing_atomically

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Nothing may leave the machine while printing: every request goes to a closed loopback port.
HEADLESS_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-extensions", "--disable-default-apps", "--no-pings",
    "--disable-domain-reliability", "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--no-pdf-header-footer",  # the page's @page rules print the running heads and page numbers
)
PRINT_TIMEOUT_SECONDS = 180


def find_browser() -> str:
    """Chromium or Chrome: $PDN_CHROMIUM, else the first one on the PATH."""
    configured = os.environ.get("PDN_CHROMIUM")
    found = configured or next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if not found:
        raise InputError(
            "Impossible d'écrire le PDF : Chromium n'est pas installé (Debian/Ubuntu : « sudo apt install chromium »), "
            "ou indiquez son chemin dans PDN_CHROMIUM. Sans lui, ouvrez le bilan HTML dans un navigateur et "
            "choisissez « Imprimer → Enregistrer au format PDF »."
        )
    return found


def print_to_pdf(page: Path, target: Path) -> Path:
    """Print an HTML file to an A4 PDF, atomically; a clear French error when the browser fails."""
    browser = find_browser()
    with tempfile.TemporaryDirectory(prefix="pdn-pdf-") as profile, writing_atomically(target) as partial:
        try:
            result = subprocess.run(
                [browser, *HEADLESS_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={partial}", page.as_uri()],
                capture_output=True, text=True, timeout=PRINT_TIMEOUT_SECONDS,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise InputError(f"Chromium n'a pas pu imprimer le bilan en PDF ({type(err).__name__}).") from None
        if result.returncode != 0 or not partial.exists() or partial.stat().st_size == 0:
            raise InputError(f"Chromium n'a pas pu imprimer le bilan en PDF (code {result.returncode}).")
    return target
