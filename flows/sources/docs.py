"""Google Docs source: a year's bilan narrative, read with `documents.get` and turned into Markdown.

Headings keep their level (Heading 1 opens a section of the bilan; the Title and Subtitle are left out: the
bilan's cover shows the year, the network and the organisation), bulleted and numbered lists
stay lists, bold, italic and links are kept; everything else is text. Characters that Markdown would read
as markup are escaped, so what the coordinator typed is what the bilan shows (placeholders excepted).
The last text read is kept in the private folder and used, with a warning, when Google cannot be reached.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from gspread.exceptions import APIError

from flows.errors import InputError
from flows.outputs.placeholders import PLACEHOLDER
from flows.settings import Settings
from flows.sources.config import Narrative
from flows.sources.google import DOCS_SCOPES, open_client
from flows.storage import private_umask, write_text_atomically

log = logging.getLogger(__name__)

DOCS_API = "https://docs.googleapis.com/v1/documents"
CACHE_SUBDIR = "recits"
_HEADINGS = {f"HEADING_{n}": n for n in range(1, 7)}
_COVER_STYLES = ("TITLE", "SUBTITLE")
_MARKUP = re.compile(r"([\\`*_\[\]<>#|~])")
_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+[.)])")


def _escape(text: str) -> str:
    """Markdown's markup characters escaped, placeholders ({{ nom }}) kept as typed."""
    parts = PLACEHOLDER.split(text)  # the pattern's group: odd parts are placeholder names
    return "".join(
        _MARKUP.sub(r"\\\1", part) if n % 2 == 0 else f"{{{{ {part} }}}}" for n, part in enumerate(parts)
    )


def _run_markdown(run: dict) -> str:
    """One text run, its bold/italic/link kept (emphasis wraps the words, not the spaces around them)."""
    text = run.get("content", "").replace("\n", "").replace("\x0b", " ")  # \x0b: Docs' soft line break
    style = run.get("textStyle", {})
    core = text.strip()
    if not core:
        return text
    marked = _escape(core)
    if style.get("bold"):
        marked = f"**{marked}**"
    if style.get("italic"):
        marked = f"*{marked}*"
    url = style.get("link", {}).get("url")
    if url and url.startswith(("https://", "http://", "mailto:")):
        marked = f"[{marked}](<{url}>)"
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    return lead + marked + trail


def _paragraph_markdown(paragraph: dict, lists: dict) -> tuple[str, bool]:
    """A paragraph as one Markdown line, and whether it is a list item."""
    text = "".join(_run_markdown(e["textRun"]) for e in paragraph.get("elements", []) if "textRun" in e).strip()
    text = _LINE_START.sub(r"\1\\\2", text)
    bullet = paragraph.get("bullet")
    if bullet is not None:
        level = bullet.get("nestingLevel", 0)
        nesting = lists.get(bullet["listId"], {}).get("listProperties", {}).get("nestingLevels", [{}])
        numbered = "glyphType" in nesting[min(level, len(nesting) - 1)]
        return "   " * level + ("1. " if numbered else "-  ") + text, True
    style = paragraph.get("paragraphStyle", {}).get("namedStyleType", "NORMAL_TEXT")
    if style in _COVER_STYLES:
        return "", False
    if style in _HEADINGS and text:
        return "#" * _HEADINGS[style] + " " + text, False
    return text, False


def document_markdown(document: dict) -> str:
    """A `documents.get` resource as Markdown (the first tab's body: Docs' legacy single-tab fields)."""
    lists = document.get("lists", {})
    lines: list[str] = []
    previous_item = False
    for element in document.get("body", {}).get("content", []):
        if "paragraph" in element:
            line, item = _paragraph_markdown(element["paragraph"], lists)
        elif "table" in element:  # a table's cells, row by row, as paragraphs
            cells = [
                " ".join(_paragraph_markdown(c["paragraph"], lists)[0] for c in cell.get("content", []) if "paragraph" in c)
                for row in element["table"].get("tableRows", [])
                for cell in row.get("tableCells", [])
            ]
            line, item = "\n\n".join(cell for cell in cells if cell), False
        else:
            continue
        if not line:
            previous_item = False
            continue
        if lines and not (item and previous_item):
            lines.append("")
        lines.append(line)
        previous_item = item
    return "\n".join(lines) + "\n"


def _cache(settings: Settings, annee: int) -> Path:
    return settings.private_dir / CACHE_SUBDIR / f"recit-{annee}.md"


def _access_error(narrative: Narrative, code: int, account: str | None) -> InputError:
    if code in (403, 404):
        who = f"l'adresse {account}" if account else "l'adresse du compte de service"
        return InputError(
            f"Le document du bilan {narrative.annee} (identifiant {narrative.document_id}) "
            f"{'n’est pas partagé' if code == 403 else 'est introuvable ou n’est pas partagé'} : dans Google Docs, "
            f"« Partager » → ajoutez {who} comme Lecteur (le droit demandé est documents.readonly)."
        )
    return InputError(f"Document du bilan {narrative.annee} : Google Docs a répondu HTTP {code}.")


def read_google_narrative(settings: Settings, narrative: Narrative) -> str:
    """The document's Markdown, from Google (kept in the private folder) or, when unreachable, the last copy."""
    cache = _cache(settings, narrative.annee)
    try:
        client = open_client(settings, DOCS_SCOPES)
        try:
            document = client.http_client.request("get", f"{DOCS_API}/{narrative.document_id}").json()
        except APIError as err:
            raise _access_error(narrative, err.code, client.service_account_email) from None
    except InputError as err:
        if not cache.exists():
            raise
        log.warning("Document du bilan %s illisible (%s) : dernière copie lue utilisée.", narrative.annee, err)
        return cache.read_text(encoding="utf-8")
    text = document_markdown(document)
    with private_umask():
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(cache, text)
    return text


def read_narrative(settings: Settings, narrative: Narrative) -> tuple[str, str]:
    """(Markdown text, where it comes from for messages) of a declared narrative."""
    if narrative.fichier is not None:
        try:
            return narrative.fichier.read_text(encoding="utf-8-sig"), narrative.fichier.name
        except FileNotFoundError:
            raise InputError(f"Le récit du bilan {narrative.annee} est introuvable : {narrative.fichier}.") from None
        except UnicodeDecodeError:
            raise InputError(
                f"Le récit du bilan {narrative.annee} ({narrative.fichier.name}) n'est pas enregistré en UTF-8 : "
                "réenregistrez-le en UTF-8."
            ) from None
    return read_google_narrative(settings, narrative), f"document Google Docs du bilan {narrative.annee}"
