"""The bilan printed to PDF by headless Chromium (the page's own A4 rules, page numbers and running heads)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from flows.errors import InputError
from flows.pipeline.processes import stop_process_group
from flows.storage import write_text_atomically, writing_atomically

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Nothing may leave the machine while printing: every request goes to a closed loopback port.
HEADLESS_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-extensions", "--disable-default-apps", "--no-pings",
    "--disable-domain-reliability", "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--no-pdf-header-footer",  # the page's @page rules print the running heads and page numbers
    "--generate-pdf-document-outline",  # PDF bookmarks from the headings
)
PRINT_TIMEOUT_SECONDS = 180
# How long the browser's helpers get to end once asked, before they are killed.
BROWSER_EXIT_SECONDS = 60


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


@contextlib.contextmanager
def headless_browser(*arguments: str, flags: Sequence[str] = HEADLESS_FLAGS, **popen) -> Iterator[subprocess.Popen]:
    """Chromium on a throwaway profile, in a process group of its own. On leaving, the browser and every helper it
    started are stopped, then the profile is removed. The helpers (renderer, network service) outlive the main
    process and keep writing into the profile, for seconds on a loaded machine."""
    profile = tempfile.mkdtemp(prefix="pdn-chromium-")
    try:
        browser = subprocess.Popen(
            [find_browser(), *flags, f"--user-data-dir={profile}", *arguments], start_new_session=True, **popen
        )
        try:
            yield browser
        finally:
            stop_process_group(browser, BROWSER_EXIT_SECONDS)
    finally:
        shutil.rmtree(profile)


def print_to_pdf(page: Path, target: Path) -> Path:
    """Print an HTML file to an A4 PDF, atomically; a clear French error when the browser fails."""
    with writing_atomically(target) as partial:
        try:
            with headless_browser(
                f"--print-to-pdf={partial}", page.as_uri(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            ) as browser:
                browser.communicate(timeout=PRINT_TIMEOUT_SECONDS)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise InputError(f"Chromium n'a pas pu imprimer le bilan en PDF ({type(err).__name__}).") from None
        if browser.returncode != 0 or not partial.exists() or partial.stat().st_size == 0:
            raise InputError(f"Chromium n'a pas pu imprimer le bilan en PDF (code {browser.returncode}).")
    return target


def _words(text: str) -> str:
    """Text compared across HTML and the PDF's text layer: words only, any space or line break alike."""
    return " ".join(text.split())


def outline(pdf: Path) -> list[tuple[str, int]]:
    """The PDF's bookmarks, flattened in reading order: (title, page from 1)."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    entries: list[tuple[str, int]] = []

    def walk(items: list) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                entries.append((_words(item.title or ""), reader.get_destination_page_number(item) + 1))

    walk(reader.outline)
    return entries


def heading_pages(pdf: Path, titles: list[str]) -> list[int | None]:
    """The page (from 1) of each title, in order, read from the bookmarks Chromium made from the headings."""
    entries, start, found = outline(pdf), 0, []
    for title in titles:
        index = next((n for n in range(start, len(entries)) if entries[n][0] == _words(title)), None)
        found.append(None if index is None else entries[index][1])
        start = start if index is None else index + 1
    return found


def print_with_contents(
    render: Callable[[dict[str, int] | None], str], page: Path, target: Path, headings: list[tuple[str, str]]
) -> Path:
    """Two prints: the first tells on which page each heading (anchor, title) falls, the second prints the
    contents with those numbers. `render(pages)` gives the HTML; reserved digits keep the layout still."""
    with tempfile.TemporaryDirectory(prefix="pdn-pages-") as work:
        draft = Path(work) / page.name
        reserved = {anchor: 88 for anchor, _ in headings}  # two digits, as wide as the final numbers
        draft.write_text(render(reserved), encoding="utf-8")
        first = print_to_pdf(draft, Path(work) / "premier.pdf")
        numbers = heading_pages(first, [title for _, title in headings])
    pages = {anchor: number for (anchor, _), number in zip(headings, numbers) if number is not None}
    write_text_atomically(page, render(pages))
    return print_to_pdf(page, target)
