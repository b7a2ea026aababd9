"""The coordinator's document (Markdown) turned into the bilan's sections, placeholders filled in.

Rendering is safe by construction: markdown-it-py runs with raw HTML disabled (a `<script>` typed in the
document is shown as text) and without images (the bilan loads nothing from outside). Placeholders are
first swapped for private-use sentinels, so Markdown never sees them, then replaced in the rendered HTML by
the blocks (already-escaped HTML from the templates) and the figures (escaped text).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from flows.errors import InputError
from flows.outputs.placeholders import PLACEHOLDER, Figure, Placeholders

OPEN, CLOSE = "\ue000", "\ue001"  # Unicode private use: never in a document (removed on reading)
_SENTINEL = re.compile(f"{OPEN}([BF])(\\d+){CLOSE}")
_BLOCK_PARAGRAPH = re.compile(f"<p>{OPEN}B(\\d+){CLOSE}</p>\n?")


@dataclass(frozen=True)
class Section:
    """One section of the bilan: a heading of level 1 in the document (None before the first one)."""

    titre: str | None
    ancre: str
    html: Markup


@dataclass(frozen=True)
class _Marks:
    blocks: list[str]  # block placeholder names, by sentinel number
    inline: list[tuple[str, str | Figure]]  # (name, 'texte' or Figure), by sentinel number


def _error(origin: str, line: int, message: str, placeholders: Placeholders | None = None) -> InputError:
    valid = f"\nMarqueurs possibles :\n{placeholders.summary()}" if placeholders else ""
    return InputError(f"{origin}, ligne {line} : {message}{valid}")


def _mark_line(line: str, number: int, origin: str, placeholders: Placeholders, marks: _Marks) -> str:
    """One line with its placeholders replaced by sentinels; an unknown or misplaced one is an error."""
    alone = PLACEHOLDER.fullmatch(line.strip())

    def replace(match: re.Match) -> str:
        name = match.group(1)
        kind = placeholders.resolve(name)
        if kind is None:
            raise _error(origin, number, f"marqueur inconnu « {{{{ {name} }}}} ».", placeholders)
        if kind == "bloc":
            if not alone:
                raise _error(origin, number, f"le bloc « {{{{ {name} }}}} » doit être seul sur sa ligne.")
            marks.blocks.append(name)
            return f"{OPEN}B{len(marks.blocks) - 1}{CLOSE}"
        marks.inline.append((name, kind))
        return f"{OPEN}F{len(marks.inline) - 1}{CLOSE}"

    marked = PLACEHOLDER.sub(replace, line)
    if "{{" in marked or "}}" in marked:
        raise _error(origin, number, "accolades « {{ » ou « }} » sans marqueur complet (écrivez {{ nom }}).")
    return marked.strip() if alone else marked


_COMMENT = re.compile(r"<!--.*?-->", re.S)  # the writer's notes: left out, their lines kept for error numbers


def _markdown() -> MarkdownIt:
    return (
        MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
        .enable("table")
        .disable("image")
    )


def _sections(tokens: list[Token]) -> list[tuple[str | None, list[Token]]]:
    """Tokens split at each level-1 heading; deeper headings move one level down under the section's h2."""
    sections: list[tuple[str | None, list[Token]]] = [(None, [])]
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "heading_open" and token.tag == "h1":
            sections.append((tokens[index + 1].content, []))
            index += 3  # heading_open, inline, heading_close
            continue
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
        sections[-1][1].append(token)
        index += 1
    return [(title, body) for title, body in sections if title is not None or body]


def render_narrative(
    text: str,
    origin: str,
    placeholders: Placeholders,
    block: Callable[[str], Markup],
    inline: Callable[[str, str | Figure], str],
) -> list[Section]:
    """The document's sections as HTML; `block(name)` renders a block, `inline(name, kind)` a figure's text."""
    text = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text.replace(OPEN, "").replace(CLOSE, ""))
    marks = _Marks([], [])
    marked = "\n".join(
        _mark_line(line, number, origin, placeholders, marks)
        for number, line in enumerate(text.splitlines(), start=1)
    )
    md = _markdown()
    rendered: list[Section] = []
    for position, (title, body) in enumerate(_sections(md.parse(marked))):

        def figure(match: re.Match) -> str:
            if match.group(1) == "B":  # a block sentinel left inside a list, a quote or code
                raise InputError(
                    f"{origin} : le bloc « {{{{ {marks.blocks[int(match.group(2))]} }}}} » doit être un paragraphe "
                    "seul (ni dans une liste, ni dans une citation, ni en retrait)."
                )
            name, kind = marks.inline[int(match.group(2))]
            value = html.escape(inline(name, kind))
            css = "chiffre" if isinstance(kind, Figure) else "texte"
            return f'<span class="{css}" data-marqueur="{html.escape(name)}">{value}</span>'

        # Split at block paragraphs first: the blocks' own HTML (data) is never scanned for sentinels.
        parts = _BLOCK_PARAGRAPH.split(md.renderer.render(body, md.options, {}))
        page = "".join(
            _SENTINEL.sub(figure, part) if n % 2 == 0 else str(block(marks.blocks[int(part)])) + "\n"
            for n, part in enumerate(parts)
        )
        heading = None
        if title is not None:
            heading = _SENTINEL.sub(lambda m: inline(*marks.inline[int(m.group(2))]) if m.group(1) == "F" else "", title)
        rendered.append(Section(heading, f"section-{position + 1}", Markup(page)))
    return rendered
