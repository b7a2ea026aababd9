"""Docs API v1: stored documents built from compact paragraphs, served by ``documents.get`` with Google's
structure (structural elements, UTF-16 indices, named styles, lists)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.google_emulator.common import Response, masked, one, without_defaults
from tests.google_emulator.drive import DOCUMENT_MIME_TYPE

NAMED_STYLES = ("TITLE", "SUBTITLE", *(f"HEADING_{n}" for n in range(1, 7)), "NORMAL_TEXT")
LIST_STYLES = ("BULLET", "NUMBERED")
_BULLET_GLYPHS = ("●", "○", "■")  # Docs' default bulleted list: disc, circle, square, repeated over 9 levels
_NUMBER_GLYPHS = ("DECIMAL", "ALPHA", "ROMAN")
_SECTION_BREAK = {
    "endIndex": 1,
    "sectionBreak": {
        "sectionStyle": {
            "columnSeparatorStyle": "NONE",
            "contentDirection": "LEFT_TO_RIGHT",
            "sectionType": "CONTINUOUS",
        }
    },
}


@dataclass
class Document:
    document_id: str
    title: str
    body: dict[str, Any]
    lists: dict[str, Any]
    modified_time: str
    created_time: str
    shared: bool | str = True
    revision: int = 1
    mime_type = DOCUMENT_MIME_TYPE

    @property
    def file_id(self) -> str:
        return self.document_id

    @property
    def drive_name(self) -> str:
        return self.title

    @property
    def revision_id(self) -> str:
        return f"ALm37B{zlib.crc32(f'{self.document_id}/{self.revision}'.encode()):08x}"


def _utf16_length(text: str) -> int:
    """Docs counts indices in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _text_style(style: Mapping[str, Any] | None) -> dict[str, Any]:
    out = without_defaults(dict(style or {}))
    link = out.get("link")
    if isinstance(link, str):
        out["link"] = {"url": link}
    return out


def _runs(content: Any) -> list[tuple[str, dict[str, Any]]]:
    """Normalise paragraph content (a string, or a list of strings / (text, style) pairs) to styled runs."""
    if isinstance(content, str):
        content = [content]
    runs: list[tuple[str, dict[str, Any]]] = []
    for run in content:
        text, style = (run, {}) if isinstance(run, str) else (run[0], _text_style(run[1]))
        if "\n" in text:
            raise ValueError(f"one paragraph per entry: split {text!r} at its newline")
        if not text:
            continue
        if runs and runs[-1][1] == style:  # Docs merges neighbouring runs of the same style
            runs[-1] = (runs[-1][0] + text, style)
        else:
            runs.append((text, style))
    newline_style = {k: v for k, v in runs[-1][1].items() if k != "link"} if runs else {}
    if runs and runs[-1][1] == newline_style:
        runs[-1] = (runs[-1][0] + "\n", newline_style)
    else:
        runs.append(("\n", newline_style))
    return runs


def build_document(document_id: str, paragraphs: Sequence[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build ``body`` and ``lists`` from compact paragraphs.

    A paragraph is a string (NORMAL_TEXT) or ``(style, content[, nesting level])`` where style is TITLE,
    SUBTITLE, HEADING_1..6, NORMAL_TEXT, BULLET or NUMBERED and content a string or a list of strings and
    ``(text, {"bold": True, "italic": True, "link": "https://..."})`` pairs. Consecutive BULLET (or
    NUMBERED) paragraphs form one list.
    """
    content: list[dict[str, Any]] = [dict(_SECTION_BREAK)]
    lists: dict[str, Any] = {}
    index = 1
    current_list: tuple[str, str] | None = None  # (style, listId) of the list being continued
    for number, given in enumerate(paragraphs or [""]):
        style, text, level = _paragraph_spec(given)
        paragraph_style: dict[str, Any] = {}
        bullet: dict[str, Any] | None = None
        if style in LIST_STYLES:
            if current_list is None or current_list[0] != style:
                list_id = f"kix.{zlib.crc32(f'{document_id}/list/{number}'.encode()):08x}"
                lists[list_id] = {"listProperties": {"nestingLevels": _nesting_levels(style)}}
                current_list = (style, list_id)
            bullet = {"listId": current_list[1]}
            if level:  # Google leaves a zero nesting level out
                bullet["nestingLevel"] = level
            bullet["textStyle"] = {"underline": False}
            paragraph_style = {
                "namedStyleType": "NORMAL_TEXT",
                "direction": "LEFT_TO_RIGHT",
                "indentFirstLine": {"magnitude": 18 + 36 * level, "unit": "PT"},
                "indentStart": {"magnitude": 36 + 36 * level, "unit": "PT"},
            }
        else:
            current_list = None
            if style != "NORMAL_TEXT":
                paragraph_style["headingId"] = f"h.{zlib.crc32(f'{document_id}/heading/{number}'.encode()):08x}"
            paragraph_style.update(namedStyleType=style, direction="LEFT_TO_RIGHT")
        elements = []
        start = index
        for run_text, run_style in _runs(text):
            end = index + _utf16_length(run_text)
            elements.append(
                {"startIndex": index, "endIndex": end, "textRun": {"content": run_text, "textStyle": run_style}}
            )
            index = end
        paragraph: dict[str, Any] = {"elements": elements, "paragraphStyle": paragraph_style}
        if bullet is not None:
            paragraph["bullet"] = bullet
        content.append({"startIndex": start, "endIndex": index, "paragraph": paragraph})
    return {"content": content}, lists


def _paragraph_spec(given: Any) -> tuple[str, Any, int]:
    if isinstance(given, str):
        return "NORMAL_TEXT", given, 0
    if not isinstance(given, tuple) or len(given) not in (2, 3):
        raise TypeError(f"a paragraph is a string or (style, content[, nesting level]): {given!r}")
    style, text = given[0], given[1]
    level = given[2] if len(given) == 3 else 0
    if style not in NAMED_STYLES and style not in LIST_STYLES:
        raise ValueError(f"unknown paragraph style {style!r}; one of {', '.join(NAMED_STYLES + LIST_STYLES)}")
    if level and style not in LIST_STYLES or not 0 <= level <= 8:
        raise ValueError(f"a nesting level (0..8) belongs to a list paragraph: {given!r}")
    return style, text, level


def _nesting_levels(style: str) -> list[dict[str, Any]]:
    levels = []
    for level in range(9):
        nesting: dict[str, Any] = {"bulletAlignment": "START"}
        if style == "BULLET":
            nesting.update(glyphSymbol=_BULLET_GLYPHS[level % 3], glyphFormat=f"%{level}")
        else:
            nesting.update(glyphType=_NUMBER_GLYPHS[level % 3], glyphFormat=f"%{level}.")
        nesting.update(
            indentFirstLine={"magnitude": 18 + 36 * level, "unit": "PT"},
            indentStart={"magnitude": 36 + 36 * level, "unit": "PT"},
            textStyle={"underline": False},
            startNumber=1,
        )
        levels.append(nesting)
    return levels


def get_document(document: Document, query: dict[str, list[str]]) -> Response:
    """documents.get: the legacy single-tab fields, or ``tabs[]`` with ``includeTabsContent=true``."""
    tab_content: dict[str, Any] = {"body": document.body}
    if document.lists:
        tab_content["lists"] = document.lists
    body: dict[str, Any] = {"title": document.title}
    if (one(query, "includeTabsContent") or "false").lower() == "true":
        body["tabs"] = [{"tabProperties": {"tabId": "t.0", "title": "Onglet 1"}, "documentTab": tab_content}]
    else:
        body.update(tab_content)
    body.update(
        revisionId=document.revision_id, suggestionsViewMode="SUGGESTIONS_INLINE", documentId=document.document_id
    )
    return masked(body, query)
