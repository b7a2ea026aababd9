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
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from flows.errors import InputError
from flows.outputs.placeholders import PLACEHOLDER, Figure, Placeholders

OPEN, CLOSE = "\ue000", "\ue001"  # Unicode private use: never in a document (removed on reading)
_SENTINEL = re.compile(f"{OPEN}([BFP])(\\d+){CLOSE}")
_BLOCK_ALONE = re.compile(f"{OPEN}B(\\d+){CLOSE}")
_BLOCK_PARAGRAPH = re.compile(f"<p>{OPEN}B(\\d+){CLOSE}</p>\n?")
STARTER_PROMPT = re.compile(r"\[[^\[\]]+\]")  # « [Ce que les réponses montrent.] » in the starter document


@dataclass(frozen=True)
class Section:
    """One section of the bilan: a heading of level 1 in the document (None before the first one)."""

    titre: str | None
    ancre: str
    html: Markup


def _loose(prompt: str) -> re.Pattern:
    """A prompt found whatever the line breaks and spaces around its words (a re-wrapped paragraph)."""
    return re.compile(r"\s+".join(re.escape(word) for word in prompt.split()))


def starter_prompts(starter: str) -> list[re.Pattern]:
    """The `[…]` prompts of the starter document, as patterns that survive re-wrapping."""
    return [_loose(prompt) for prompt in dict.fromkeys(STARTER_PROMPT.findall(starter))]


def _prompt_spans(text: str, prompts: list[re.Pattern]) -> list[tuple[int, int]]:
    """Where the text still holds a prompt of the starter document, in reading order."""
    return sorted((m.start(), m.end()) for pattern in prompts for m in pattern.finditer(text))


def _check_prompts(text: str, origin: str, prompts: list[re.Pattern]) -> None:
    """A starter prompt left in the text stops the bilan like a wrong placeholder (line of its first word)."""
    spans = _prompt_spans(text, prompts)
    if spans:
        start, end = spans[0]
        line = text.count("\n", 0, start) + 1
        shown = " ".join(text[start:end].split())
        more = f" ({len(spans)} textes à compléter en tout)" if len(spans) > 1 else ""
        raise _error(
            origin, line,
            f"texte à compléter du modèle « {shown} » : remplacez-le par votre texte, ou supprimez-le{more}. "
            "« pdn rapport --brouillon » montre le bilan avec ces textes surlignés, pour relecture.",
        )


def _mark_prompts(text: str, prompts: list[re.Pattern], marks: "_Marks") -> str:
    """Draft: each prompt becomes a sentinel (its line breaks kept, so error line numbers do not move)."""
    pieces, last = [], 0
    for start, end in _prompt_spans(text, prompts):
        if start < last:
            continue
        marks.prompts.append(" ".join(text[start:end].split()))
        pieces += [text[last:start], f"{OPEN}P{len(marks.prompts) - 1}{CLOSE}", "\n" * text.count("\n", start, end)]
        last = end
    return "".join(pieces) + text[last:]


@dataclass(frozen=True)
class _Marks:
    blocks: list[str]  # block placeholder names, by sentinel number
    inline: list[tuple[str, str | Figure]]  # (name, 'texte' or Figure), by sentinel number
    prompts: list[str] = field(default_factory=list)  # draft only: starter prompts left in the text


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


def _titled_blocks(body: list[Token], under_title: bool) -> dict[int, bool]:
    """For each block of a section: does it keep its own heading? Not when it is the first block after a
    heading of the text (the section's title or a sub-heading), which already says what it is."""
    titled, fresh = {}, under_title
    for token in body:
        if token.type == "heading_open":
            fresh = True
        elif token.type == "inline" and (alone := _BLOCK_ALONE.fullmatch(token.content)):
            titled[int(alone.group(1))] = not fresh
            fresh = False
    return titled


def _plain(match: re.Match, marks: _Marks, inline: Callable[[str, str | Figure], str]) -> str:
    """A sentinel of a heading as plain text (the template escapes it)."""
    kind, number = match.group(1), int(match.group(2))
    if kind == "F":
        return inline(*marks.inline[number])
    return marks.prompts[number] if kind == "P" else ""


def render_narrative(
    text: str,
    origin: str,
    placeholders: Placeholders,
    block: Callable[[str, bool], Markup],
    inline: Callable[[str, str | Figure], str],
    prompts: list[re.Pattern] | None = None,
    draft: bool = False,
) -> list[Section]:
    """The document's sections as HTML; `block(name, titled)` renders a block, `inline(name, kind)` a figure's text.

    A block right under a heading of the text is rendered with titled=False: the heading is said once.
    A starter prompt left in the text is an error, or, in a draft, shown highlighted for proofreading."""
    text = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text.replace(OPEN, "").replace(CLOSE, ""))
    marks = _Marks([], [])
    if prompts and draft:
        text = _mark_prompts(text, prompts, marks)
    elif prompts:
        _check_prompts(text, origin, prompts)
    marked = "\n".join(
        _mark_line(line, number, origin, placeholders, marks)
        for number, line in enumerate(text.splitlines(), start=1)
    )
    md = _markdown()
    rendered: list[Section] = []
    for position, (title, body) in enumerate(_sections(md.parse(marked))):

        def figure(match: re.Match) -> str:
            if match.group(1) == "P":
                return f'<mark class="a-completer">{html.escape(marks.prompts[int(match.group(2))])}</mark>'
            if match.group(1) == "B":  # a block sentinel left inside a list, a quote or code
                raise InputError(
                    f"{origin} : le bloc « {{{{ {marks.blocks[int(match.group(2))]} }}}} » doit être un paragraphe "
                    "seul (ni dans une liste, ni dans une citation, ni en retrait)."
                )
            name, kind = marks.inline[int(match.group(2))]
            value = html.escape(inline(name, kind))
            css = "chiffre" if isinstance(kind, Figure) else "texte"
            return f'<span class="{css}" data-marqueur="{html.escape(name)}">{value}</span>'

        titled = _titled_blocks(body, title is not None)
        # Split at block paragraphs first: the blocks' own HTML (data) is never scanned for sentinels.
        parts = _BLOCK_PARAGRAPH.split(md.renderer.render(body, md.options, {}))
        page = "".join(
            _SENTINEL.sub(figure, part) if n % 2 == 0 else str(block(marks.blocks[int(part)], titled[int(part)])) + "\n"
            for n, part in enumerate(parts)
        )
        heading = None
        if title is not None:
            heading = _SENTINEL.sub(lambda m: _plain(m, marks, inline), title)
        rendered.append(Section(heading, f"section-{position + 1}", Markup(page)))
    return rendered
