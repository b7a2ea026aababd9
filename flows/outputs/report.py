"""The annual bilan: a self-contained French HTML file for the CAF (cover, contents, the coordinator's text with
the warehouse's blocks and figures), its PDF, the CAF exports, and the coordinator's data-quality page.

Figures come only from the published warehouse (`report_data`); the text comes from the year's document
declared in sources.toml (a Google Doc or a Markdown file), else the standard layout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from flows.errors import InputError
from flows.outputs.french import french_spaces, french_typography
from flows.outputs.narrative import Section, render_narrative, starter_prompts
from flows.outputs.report_context import build_context, figure_text, quality_context
from flows.outputs.report_data import available_years, read_published, read_run_report
from flows.settings import Settings
from flows.sources.config import SourceConfig, config_file_for, load_source_config
from flows.storage import write_text_atomically

REPORTS_SUBDIR = "rapports"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STANDARD_LAYOUT = TEMPLATES_DIR / "recit-standard.md"  # the bilan without a document
STARTER_DOCUMENT = TEMPLATES_DIR / "recit-modele.md"  # what `pdn rapport --modele-recit` writes
QUALITY_PAGE = "qualite-des-donnees.html"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BilanFiles:
    """What `pdn rapport` writes for one year."""

    annee: int
    html: Path
    xlsx: Path
    csv: Path
    qualite: Path
    provisoire: bool
    recit: str | None  # where the text came from; None for the standard layout
    pdf: Path | None = None


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def css_string(text: str) -> Markup:
    """A CSS string literal (for @page running heads): quotes, backslashes and '<' escaped."""
    escaped = "".join(f"\\{ord(ch):x} " if ch in '"\\<>\n\r' else ch for ch in text)
    return Markup(f'"{escaped}"')


def render_sections(context: dict[str, Any], text: str, origin: str, draft: bool = False) -> list[Section]:
    """The document's sections, every placeholder filled from the context (a starter prompt refused, or
    highlighted in a draft)."""
    blocks = _environment().get_template("blocs.html.j2").make_module(context)

    def block(name: str, titled: bool) -> Markup:
        code = name.removeprefix("question.")
        return Markup(blocks.question(code, titled) if code != name else getattr(blocks, name)(titled))

    prompts = starter_prompts(STARTER_DOCUMENT.read_text(encoding="utf-8"))
    return render_narrative(
        text, origin, context["marqueurs"], block, lambda name, kind: figure_text(context, name, kind), prompts, draft
    )


def render_bilan(
    context: dict[str, Any], text: str, origin: str, draft: bool = False, pages: dict[str, int] | None = None
) -> str:
    """The CAF bilan page (autoescaped template; the document's HTML comes from the safe renderer), with
    French typography; `pages`: the printed page of each section for the contents (anchor → page)."""
    annee = context["annee"]
    mention = f"Bilan provisoire : l'année {annee} n'était pas terminée à la date des chiffres"
    running = f"PROVISOIRE — {mention}" if context["provisoire"] else ""
    if draft:
        running = f"BROUILLON À RELIRE — ne pas envoyer à la CAF {running}".strip()
    page = {
        "sections": render_sections(context, text, origin, draft),
        "mention_provisoire": mention,
        "brouillon": draft,
        "pages": pages or {},
        "pied_de_page_css": css_string(french_spaces(f"Promeneurs du Net — bilan d'activités {annee}")),
        "entete_css": css_string(french_spaces(running)) if running else None,
    }
    return french_typography(_environment().get_template("bilan.html.j2").render(**context, **page))


def render_quality(context: dict[str, Any]) -> str:
    """The coordinator's data-quality page."""
    return french_typography(_environment().get_template("qualite.html.j2").render(**context))


def reports_dir(settings: Settings) -> Path:
    """Where bilans and exports are written: $PDN_WAREHOUSE_DIR/rapports."""
    return settings.warehouse_dir / REPORTS_SUBDIR


def bilan_config(settings: Settings, source_dir: Path | None = None) -> SourceConfig:
    """The configuration the bilan follows (organisation, documents): the same file the sync reads."""
    return load_source_config(config_file_for(settings.sources_file, source_dir))


def _narrative_text(settings: Settings, config: SourceConfig, annee: int) -> tuple[str, str | None]:
    """(Markdown, origin) of the year's document, or the standard layout (origin None)."""
    from flows.sources.docs import read_narrative

    declared = config.narrative(annee)
    if declared is None:
        return STANDARD_LAYOUT.read_text(encoding="utf-8"), None
    return read_narrative(settings, declared)


def _published(settings: Settings) -> Path:
    if not settings.published_db.exists():
        raise InputError(f"Aucun entrepôt publié ({settings.published_db}) : lancez d'abord « pdn synchroniser ».")
    return settings.published_db


def _check_year(years: list[int], annee: int | None) -> int:
    if not years:
        raise InputError("L'entrepôt publié ne contient aucune année de bilan.")
    annee = years[-1] if annee is None else int(annee)
    if annee not in years:
        listed = ", ".join(str(y) for y in years)
        raise InputError(f"L'année {annee} n'est pas dans l'entrepôt publié (années disponibles : {listed}).")
    return annee


def produce_bilan(
    settings: Settings, annee: int | None = None, config: SourceConfig | None = None, pdf: bool = False
) -> BilanFiles:
    """Write the year's bilan (HTML, and PDF on demand), the CAF exports and the data-quality page."""
    from flows.ops.closing import revision_mentions
    from flows.outputs.exports import Entete, write_exports

    published = _published(settings)
    annee = _check_year(available_years(published), annee)
    config = config if config is not None else bilan_config(settings)
    data = read_published(published, annee)
    revisions = {year: mention for year, mention in revision_mentions(settings.raw_db).items() if year <= annee}
    context = build_context(data, annee, config.bilan.organisation, revisions.get(annee))
    text, origin = _narrative_text(settings, config, annee)
    html = render_bilan(context, text, origin or "mise en page standard")
    folder = reports_dir(settings)
    target = write_text_atomically(folder / f"bilan-{annee}.html", html)  # never half a file in a mail
    run_id = data["synchronisation"][0]["run_id"] if data["synchronisation"] else None
    quality = render_quality(quality_context(data, read_run_report(settings.runs_dir, run_id)))
    quality_page = write_text_atomically(folder / QUALITY_PAGE, quality)
    entete = Entete(context["reseau"], context["synchronisation"]["publie_le"], annee if context["provisoire"] else None)
    xlsx, csv = write_exports(published, annee, folder, revisions, entete)
    printed = _print(context, text, origin or "mise en page standard", target, folder / f"bilan-{annee}.pdf") if pdf else None
    return BilanFiles(annee, target, xlsx, csv, quality_page, context["provisoire"], origin, printed)


def _print(context: dict[str, Any], text: str, origin: str, page: Path, target: Path, draft: bool = False) -> Path:
    """The PDF, its contents numbered with the pages where the sections fall (two prints)."""
    from flows.outputs.pdf import print_with_contents

    headings = [(s.ancre, s.titre) for s in render_sections(context, text, origin, draft) if s.titre]
    return print_with_contents(
        lambda pages: render_bilan(context, text, origin, draft, pages), page, target, headings
    )


def produce_draft(settings: Settings, annee: int | None = None, config: SourceConfig | None = None,
                  pdf: bool = False) -> tuple[Path, Path | None]:
    """A proofreading copy of the bilan (starter prompts highlighted), never under the CAF file's name; no
    exports, no quality page. Returns (HTML, PDF or None)."""
    published = _published(settings)
    annee = _check_year(available_years(published), annee)
    config = config if config is not None else bilan_config(settings)
    context = build_context(read_published(published, annee), annee, config.bilan.organisation)
    text, origin = _narrative_text(settings, config, annee)
    origin = origin or "mise en page standard"
    folder = reports_dir(settings)
    target = write_text_atomically(folder / f"brouillon-bilan-{annee}.html", render_bilan(context, text, origin, True))
    printed = _print(context, text, origin, target, folder / f"brouillon-bilan-{annee}.pdf", True) if pdf else None
    return target, printed


def placeholder_summary(settings: Settings, annee: int | None = None) -> str:
    """The placeholders a document may use for that year's bilan, in French."""
    published = _published(settings)
    annee = _check_year(available_years(published), annee)
    context = build_context(read_published(published, annee), annee, None)
    return f"Marqueurs du bilan {annee} (écrits {{{{ nom }}}}) :\n{context['marqueurs'].summary()}"


def nightly_years(years: list[int], today: date) -> list[int]:
    """The years the nightly run writes: the year in progress (provisional) and the last complete year."""
    wanted = [year for year in years if year < today.year][-1:] + [year for year in years if year == today.year]
    return wanted or years[-1:]


def report_after_sync(settings: Settings, source_dir: Path | None = None) -> list[BilanFiles]:
    """After a publication, the bilans of the nightly years; a failure is logged, never raised."""
    written = []
    try:
        config = bilan_config(settings, source_dir)
        for annee in nightly_years(available_years(_published(settings)), date.today()):
            written.append(produce_bilan(settings, annee, config))
    except Exception as err:  # the warehouse is already published: a report problem must not fail the sync
        logger.warning("Le bilan n'a pas pu être généré : %s", err)
    return written


def write_starter_document(target: Path) -> Path:
    """The starter document (the 2019 report's structure, with placeholders) for a coordinator to fill in."""
    if target.exists():
        raise InputError(f"{target} existe déjà : choisissez un autre nom, rien n'a été écrit.")
    return write_text_atomically(target, STARTER_DOCUMENT.read_text(encoding="utf-8"))
