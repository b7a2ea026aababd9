"""The whole bilan: the coordinator's text (a Markdown file or a Google Doc) around the warehouse's blocks and
figures, a cover and contents for the CAF, the PDF, « provisoire » for a year in progress."""

from __future__ import annotations

import csv
import json
import re
import stat
import tomllib
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pypdf
import pytest

from flows.cli import main
from flows.errors import InputError
from flows.outputs.placeholders import DOCUMENTS_WITH_REFERENCE, with_reference
from flows.outputs.report import nightly_years, produce_bilan
from flows.outputs.report_context import WITHHELD_TITLE
from flows.settings import SAMPLE_DIR, Settings, load_settings
from flows.sources.config import load_source_config
from flows.sources.google import DOCS_SCOPES
from tests.conftest import use_warehouse
from tests.outputs.test_exports import sheet_table
from tests.outputs.test_report import ARTIFACTS, Node, chromium, french_number, parse_html
from tests.pipeline.test_sync_sample import EXPECTED_2019

SAMPLE_TEXT = SAMPLE_DIR / "Bilan 2019 - récit.md"
DEPARTEMENTS = ("03", "63", "ensemble")


@dataclass
class Rendered:
    settings: Settings
    html: Path
    pdf: Path | None
    dom: Node
    text: str


def render(settings: Settings, annee: int, source_dir: Path | None = None, pdf: bool = False) -> Rendered:
    config = load_source_config((source_dir or SAMPLE_DIR) / "sources.toml")
    files = produce_bilan(settings, annee, config, pdf=pdf)
    text = files.html.read_text(encoding="utf-8")
    return Rendered(settings, files.html, files.pdf, parse_html(text), text)


def copied_settings(published_sample, root: Path) -> Settings:
    published_sample.copy_to(root)
    return replace(load_settings(), warehouse_dir=root / "warehouse", private_dir=root / "private")


def folder_with_text(tmp_path: Path, text: str) -> Path:
    """A sources folder declaring a 2019 Markdown text (the sample's configuration otherwise)."""
    folder = tmp_path / "sources"
    folder.mkdir()
    config = (SAMPLE_DIR / "sources.toml").read_text(encoding="utf-8")
    (folder / "sources.toml").write_text(config.replace("Bilan 2019 - récit.md", "récit.md"), encoding="utf-8")
    (folder / "récit.md").write_text(text, encoding="utf-8")
    return folder


def pdf_pages(path: Path) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(path).pages]


@pytest.fixture(scope="module")
def sample_bilan(published_sample, tmp_path_factory) -> Rendered:
    """The sample's 2019 bilan with the sample's 2019 text, as HTML and PDF."""
    chromium()  # fails on CI, skips elsewhere, when Chromium is missing
    settings = copied_settings(published_sample, tmp_path_factory.mktemp("bilan-recit"))
    return render(settings, 2019, pdf=True)


def table_cell(dom: Node, indicateur: str, departement: str, annee: int) -> str:
    row = dom.find_all("table", id="tableau-indicateurs")[0].find_all("tr", data_indicateur=indicateur)[0]
    return row.find_all("td", data_departement=departement, data_annee=str(annee))[0].text()


# --- The sample's text --------------------------------------------------------------------------


def test_sample_text_gives_cover_contents_sections_in_its_order_and_contact(sample_bilan):
    config = tomllib.loads((SAMPLE_DIR / "sources.toml").read_text(encoding="utf-8"))
    cover = sample_bilan.dom.find_all("header")[0]
    assert "Bilan d'activités 2019" in cover.text() and config["bilan"]["organisation"] in cover.text()
    headings = [
        line[2:].replace("{{ annee }}", "2019").strip()
        for line in SAMPLE_TEXT.read_text(encoding="utf-8").splitlines()
        if line.startswith("# ")
    ]
    contents = [a.text() for a in sample_bilan.dom.find_all("nav")[0].find_all("a")]
    sections = [s.find_all("h2")[0].text() for s in sample_bilan.dom.find_all("section") if s.find_all("h2")]
    assert contents == sections == headings
    assert "coordination@promeneurs-exemple.fr" in sample_bilan.dom.find_all("section")[-1].text()
    # the questionnaire's charts where the text places them, the interest heading as the 2019 report wrote it
    assert {t.attrs["data-question"] for t in sample_bilan.dom.find_all("table") if "data-question" in t.attrs} == {
        "publications", "reseaux", "supports", "echanges"
    }
    assert [h.text() for h in sample_bilan.dom.find_all("h3") if h.text().startswith("Votre")] == ["Votre intérêt à :"]
    assert not sample_bilan.dom.find_all("section", id="qualite"), "the quality page is the coordinator's own file"


def test_every_inline_figure_equals_the_table(sample_bilan):
    figures = [s for s in sample_bilan.dom.find_all("span") if "chiffre" in (s.attrs.get("class") or "")]
    assert len(figures) >= 20
    for span in figures:
        indicateur, departement, *suffix = span.attrs["data-marqueur"].split(".")
        if indicateur == "promeneurs_actifs_cloture_questionnaire":
            continue  # not a line of the table
        if suffix == ["evolution"]:
            row = sample_bilan.dom.find_all("tr", data_indicateur=indicateur)[0]
            cells = [td for td in row.find_all("td", data_departement=departement) if "evolution" in td.attrs["class"]]
            assert span.text() == cells[0].text(), span.attrs["data-marqueur"]
        else:
            year = 2018 if suffix == ["precedente"] else 2019
            assert span.text() == table_cell(sample_bilan.dom, indicateur, departement, year), span.attrs
    # The 2019 report's own slip (« 12 présentations collectives (8 … et 5 …) ») cannot happen: the figures are
    # the data's, and the network's equals the sum of the departments'.
    inline = {s.attrs["data-marqueur"]: french_number(s.text()) for s in figures}
    expected = EXPECTED_2019["presentations_collectives"]
    assert (inline["presentations_collectives.03"], inline["presentations_collectives.63"]) == expected[:2]
    assert inline["presentations_collectives.ensemble"] == expected[2] == expected[0] + expected[1]


def test_detailed_actions_show_training_titles_and_committee_dates(sample_bilan):
    formations = sample_bilan.dom.find_all("table", data_bloc="formations")[0]
    with duckdb.connect(str(sample_bilan.settings.published_db), read_only=True) as con:
        titles = {t for (t,) in con.execute(
            "select intitule from bilan.actions_detaillees where annee = 2019 and type_action = 'Formation'"
        ).fetchall() if t}
        committees = con.execute(
            "select count(*) from bilan.actions_detaillees where annee = 2019 and type_action like 'Comité%'"
        ).fetchone()[0]
    headers = [th.text() for th in formations.find_all("th")]
    assert "Type" not in headers, "one type in the block: no column repeating it"
    column = headers.index("Intitulé")
    assert titles and titles <= {row.find_all("td")[column].text() for row in formations.find_all("tr")[1:]}
    comites = sample_bilan.dom.find_all("table", data_bloc="comites")[0]
    assert len(comites.find_all("tr")) - 1 == committees > 0
    assert len(comites.find_all("th")) == 3, "committees: date, department and type only"


def test_pdf_is_a4_with_numbered_pages_and_a_screenshot_is_kept(sample_bilan, tmp_path):
    from tests.outputs.test_report import open_in_chromium

    reader = pypdf.PdfReader(sample_bilan.pdf)
    assert {(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages} == {(595, 842)}
    pages = pdf_pages(sample_bilan.pdf)
    assert len(pages) >= 8
    assert all(f"Page {n} / {len(pages)}" in text for n, text in enumerate(pages, start=1) if n > 1)
    assert "Page 1 /" not in pages[0], "the cover carries no number"
    assert not any("PROVISOIRE" in text for text in pages), "2019 was over when the sample was synced"
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "bilan-2019-recit.png"
    screenshot.unlink(missing_ok=True)
    result, requests = open_in_chromium(sample_bilan.html, tmp_path, f"--screenshot={screenshot}",
                                        "--window-size=1280,2400")
    assert result.returncode == 0 and requests == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- A year in progress -------------------------------------------------------------------------


def test_a_year_in_progress_is_provisional_on_every_page(published_sample, tmp_path):
    chromium()
    settings = copied_settings(published_sample, tmp_path)
    with duckdb.connect(str(settings.published_db)) as con:  # the figures as of mid-2020
        con.execute("update qualite.synchronisation set publie_le = '2020-06-30T10:00:00+00:00'")
    bilan = render(settings, 2020, pdf=True)
    assert "provisoire" in bilan.dom.find_all("title")[0].text()
    assert bilan.dom.find_all("p", id="mention-provisoire")
    pages = pdf_pages(bilan.pdf)
    assert pages and all("PROVISOIRE" in text for text in pages)
    rapports = settings.warehouse_dir / "rapports"
    from openpyxl import load_workbook

    workbook = load_workbook(rapports / "bilan-2020.xlsx")
    header, _ = sheet_table(workbook.worksheets[0], "Indicateur")
    status = next(row for row in workbook.worksheets[0].iter_rows() if row[0].value == "Statut des chiffres")
    assert header[-1] == 2020 and status[-1].value == "provisoire"
    assert "Chiffres 2020 provisoires" in [row[0].value for row in workbook["À propos"].iter_rows()][2]
    lines = (rapports / "bilan-2020.csv").read_text(encoding="utf-8-sig").splitlines()
    assert {line.split(";")[-1] for line in lines[1:] if line.startswith("2020;")} == {"provisoire"}
    assert {line.split(";")[-1] for line in lines[1:] if line.startswith("2019;")} == {"définitif"}
    assert not render(settings, 2019).dom.find_all("p", id="mention-provisoire")


def test_nightly_run_writes_the_year_in_progress_and_the_last_complete_year():
    from datetime import date

    assert nightly_years([2018, 2019, 2020], date(2020, 3, 1)) == [2019, 2020]
    assert nightly_years([2018, 2019], date(2020, 3, 1)) == [2019]
    assert nightly_years([2021], date(2020, 3, 1)) == [2021]


# --- Errors and safety --------------------------------------------------------------------------


def test_an_unknown_placeholder_is_a_french_error_with_its_line_and_the_valid_ones(published_sample, tmp_path,
                                                                                  monkeypatch, capsys):
    use_warehouse(monkeypatch, published_sample.copy_to(tmp_path / "copie"))
    folder = folder_with_text(tmp_path, "# Bilan\n\nNous étions {{ promeneurs_actifs.63 }} Promeneurs.\n")
    assert main(["report", "--annee", "2019", "--source", str(folder)]) == 2
    error = capsys.readouterr().err
    assert "récit.md, ligne 3 : marqueur inconnu « {{ promeneurs_actifs.63 }} »" in error
    assert "promeneurs_actifs_fin_annee" in error and "tableau_indicateurs" in error and "question.reseaux" in error
    assert not (tmp_path / "copie" / "warehouse" / "rapports" / "bilan-2019.html").exists()


def test_a_block_inside_a_sentence_is_refused(published_sample, tmp_path):
    settings = copied_settings(published_sample, tmp_path / "copie")
    folder = folder_with_text(tmp_path, "Voici le tableau : {{ tableau_indicateurs }}\n")
    with pytest.raises(InputError, match=r"ligne 1 : le bloc « \{\{ tableau_indicateurs \}\} » doit être seul"):
        render(settings, 2019, folder)


def test_html_and_scripts_in_the_document_are_shown_as_text(published_sample, tmp_path):
    settings = copied_settings(published_sample, tmp_path / "copie")
    hostile = (
        "# Présentation <script>alert('x')</script>\n\n"
        "<img src=x onerror=alert(1)>\n\n"
        "[cliquez](javascript:alert(1)) ![logo](http://127.0.0.1:9/logo.png)\n\n"
        "<iframe src=\"http://127.0.0.1:9/\"></iframe>\n"
    )
    bilan = render(settings, 2019, folder_with_text(tmp_path, hostile))
    for tag in ("script", "img", "iframe"):
        assert not bilan.dom.find_all(tag), tag
    assert all(not (a.attrs.get("href") or "").startswith("javascript") for a in bilan.dom.find_all("a"))
    assert "<script>alert('x')</script>" in bilan.dom.find_all("h2")[1].text()  # [0] is « Sommaire »
    assert "onerror=alert(1)" in bilan.dom.text()


def test_without_a_text_the_bilan_keeps_the_standard_layout(published_sample, tmp_path):
    settings = copied_settings(published_sample, tmp_path / "copie")
    files = produce_bilan(settings, 2020, load_source_config(SAMPLE_DIR / "sources.toml"))
    dom = parse_html(files.html.read_text(encoding="utf-8"))
    assert files.recit is None
    assert [li.text() for li in dom.find_all("nav")[0].find_all("li")][:2] == [
        "Synthèse des données 2020", "Indicateurs 2020 et évolution"
    ]
    assert dom.find_all("table", id="tableau-indicateurs") and dom.find_all("table", id="tableau-participation")


def test_pdf_without_a_browser_is_a_clear_message(published_sample, tmp_path, monkeypatch):
    settings = copied_settings(published_sample, tmp_path / "copie")
    monkeypatch.setenv("PATH", str(tmp_path / "vide"))
    monkeypatch.delenv("PDN_CHROMIUM", raising=False)
    with pytest.raises(InputError, match="Chromium n'est pas installé.*Imprimer → Enregistrer au format PDF"):
        produce_bilan(settings, 2019, load_source_config(SAMPLE_DIR / "sources.toml"), pdf=True)


def test_the_placeholder_list_in_the_readme_and_the_guide_is_the_code_s():
    for path in DOCUMENTS_WITH_REFERENCE:
        text = path.read_text(encoding="utf-8")
        assert with_reference(text) == text, f"{path.name}: run python -m flows.outputs.placeholders --ecrire"


# --- A Google Doc -------------------------------------------------------------------------------

DOC_ID = "1DocBilan2019PdN0363"


def test_a_google_doc_text_is_read_with_the_read_only_scope_and_kept(published_sample, google_emulator, tmp_path,
                                                                     monkeypatch):
    settings = copied_settings(published_sample, tmp_path / "copie")
    google_emulator.add_document(DOC_ID, "Bilan 2019", [
        ("TITLE", "Bilan d'activités 2019"),
        "Le réseau compte {{ promeneurs_actifs_fin_annee.ensemble }} Promeneurs.",
        ("HEADING_1", "Promotion du dispositif"),
        ("NORMAL_TEXT", ["Rencontres : ", ("{{ presentations_individuelles.ensemble }}", {"bold": True}), " en 2019."]),
        ("BULLET", "un point * étoilé"),
        ("BULLET", "# pas un titre"),
        ("HEADING_1", "Chiffres"),
        "{{ tableau_indicateurs }}",
    ])
    info = google_emulator.service_account_info("pdn-sync@pdn-test.iam.gserviceaccount.com")
    key = tmp_path / "cle.json"
    key.write_text(json.dumps(info), encoding="utf-8")
    folder = tmp_path / "sources"
    folder.mkdir()
    config = (SAMPLE_DIR / "sources.toml").read_text(encoding="utf-8").replace(
        'fichier = "Bilan 2019 - récit.md"', f'document = "https://docs.google.com/document/d/{DOC_ID}/edit"'
    )
    (folder / "sources.toml").write_text(config, encoding="utf-8")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    monkeypatch.setenv("PDN_SHEETS_API_URL", google_emulator.url)
    settings = replace(load_settings(), warehouse_dir=settings.warehouse_dir, private_dir=settings.private_dir)

    bilan = render(settings, 2019, folder)
    assert google_emulator.granted_scopes(info["client_email"]) == set(DOCS_SCOPES)
    assert [li.text() for li in bilan.dom.find_all("nav")[0].find_all("li")] == ["Promotion du dispositif", "Chiffres"]
    strong = bilan.dom.find_all("strong")[0].text()
    assert strong == table_cell(bilan.dom, "presentations_individuelles", "ensemble", 2019)
    items = [li.text() for li in bilan.dom.find_all("section")[1].find_all("li")]
    assert items == ["un point * étoilé", "# pas un titre"]
    kept = settings.private_dir / "recits" / "recit-2019.md"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600

    # Google unreachable: the last copy read, with a warning; never shared: a French message.
    google_emulator.set_shared(DOC_ID, False)
    assert render(settings, 2019, folder).dom.find_all("table", id="tableau-indicateurs")
    kept.unlink()
    with pytest.raises(InputError, match="n’est pas partagé.*comme Lecteur"):
        render(settings, 2019, folder)


def test_a_text_that_names_an_unknown_year_block_lists_what_exists():
    text = "{{ question.tiktok }}"
    with pytest.raises(InputError, match=r"question\.reseaux"):
        from flows.outputs.narrative import render_narrative
        from flows.outputs.placeholders import bundled_placeholders

        render_narrative(text, "doc", bundled_placeholders(), lambda name, titled: "", lambda name, kind: "")


def test_figures_in_a_heading_are_plain_text():
    from flows.outputs.narrative import render_narrative
    from flows.outputs.placeholders import bundled_placeholders

    sections = render_narrative("# Bilan {{ annee }}\n\ntexte", "doc", bundled_placeholders(),
                                lambda name, titled: "", lambda name, kind: "2019")
    assert [s.titre for s in sections] == ["Bilan 2019"]
    assert re.search(r"<p>texte</p>", str(sections[0].html))


def test_a_block_of_detailed_actions_lists_its_first_rows_and_counts_the_others():
    from flows.outputs.report_context import DETAILED_ROWS_SHOWN, _detailed_actions

    rows = [{"indicateur": "ateliers", "date_action": "2019-05-16", "departement": "63", "type_action": "Atelier",
             "intitule": f"Atelier {n}", "commune": "Riom"} for n in range(DETAILED_ROWS_SHOWN + 7)]
    blocks = _detailed_actions(rows, {"63": "Puy-de-Dôme (63)"})
    assert [r["intitule"] for r in blocks["ateliers"]["lignes"]] == [f"Atelier {n}" for n in range(DETAILED_ROWS_SHOWN)]
    assert blocks["ateliers"]["autres"] == 7 and blocks["formations"] == {"lignes": [], "autres": 0, "types": 0}
    assert blocks["ateliers"]["types"] == 1, "one type: the table shows no « Type » column"


def test_markdown_tables_are_kept_and_comments_left_out_with_error_lines_unchanged():
    from flows.outputs.narrative import render_narrative
    from flows.outputs.placeholders import bundled_placeholders

    text = "<!-- note\nsur deux lignes -->\n| a | b |\n|---|---|\n| 1 | {{ annee }} |\n"
    html = str(render_narrative(text, "doc", bundled_placeholders(), lambda n, t: "", lambda n, k: "2019")[0].html)
    assert "<table>" in html and "2019</span></td>" in html and "note" not in html
    with pytest.raises(InputError, match="doc, ligne 3 : marqueur inconnu"):
        render_narrative("<!-- a\nb -->\n{{ inconnu }}", "doc", bundled_placeholders(), lambda n, t: "", lambda n, k: "")


# --- Nothing unfinished reaches the CAF ---------------------------------------------------------

STARTER = Path(__file__).resolve().parents[2] / "flows" / "outputs" / "templates" / "recit-modele.md"


def starter_folder(tmp_path: Path) -> Path:
    """A sources folder declaring the untouched starter document (`pdn rapport --modele-recit`) as 2019's text."""
    return folder_with_text(tmp_path, STARTER.read_text(encoding="utf-8"))


def test_a_starter_prompt_left_in_the_text_stops_the_report_with_its_line_and_writes_nothing(
    published_sample, tmp_path, monkeypatch, capsys
):
    use_warehouse(monkeypatch, published_sample.copy_to(tmp_path / "copie"))
    text = STARTER.read_text(encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if "[" in row)
    assert main(["report", "--annee", "2019", "--source", str(starter_folder(tmp_path))]) == 2
    error = capsys.readouterr().err
    assert f"récit.md, ligne {line} : texte à compléter du modèle « [département] »" in error
    written = [p.name for p in (tmp_path / "copie" / "warehouse" / "rapports").iterdir() if "2019" in p.name]
    assert written == [], "nothing written for 2019, not even the exports"


def test_a_prompt_rewrapped_by_the_coordinator_is_still_found_on_its_first_line(published_sample, tmp_path):
    settings = copied_settings(published_sample, tmp_path / "copie")
    text = "# Évaluation\n\nLes réponses sont bonnes.\n\n[Ce que les\n   réponses montrent.]\n"
    with pytest.raises(InputError, match=r"récit.md, ligne 5 : texte à compléter du modèle « \[Ce que les réponses"):
        render(settings, 2019, folder_with_text(tmp_path, text))


def test_a_draft_highlights_every_prompt_and_is_never_the_caf_file(published_sample, tmp_path, monkeypatch, capsys):
    from flows.outputs.narrative import STARTER_PROMPT

    use_warehouse(monkeypatch, published_sample.copy_to(tmp_path / "copie"))
    assert main(["report", "--annee", "2019", "--brouillon", "--source", str(starter_folder(tmp_path))]) == 0
    folder = tmp_path / "copie" / "warehouse" / "rapports"
    assert "ne pas envoyer à la CAF" in capsys.readouterr().out
    written = sorted(p.name for p in folder.iterdir() if "2019" in p.name)
    assert written == ["brouillon-bilan-2019.html"], "no CAF file, no export"
    dom = parse_html((folder / "brouillon-bilan-2019.html").read_text(encoding="utf-8"))
    marked = [m.text() for m in dom.find_all("mark")]
    expected = [" ".join(p.split())
                for p in STARTER_PROMPT.findall(STARTER.read_text(encoding="utf-8"))]
    assert len(marked) == len(expected) >= 7
    assert [" ".join(m.split()) for m in marked] == expected
    assert dom.find_all("div", id="mention-brouillon")


def test_a_block_under_a_heading_of_the_text_does_not_repeat_it():
    from flows.outputs.narrative import render_narrative
    from flows.outputs.placeholders import bundled_placeholders

    calls: list[tuple[str, bool]] = []
    text = ("# Promotion\n\n## Événements\n\n{{ evenements }}\n\n# Actions\n\n{{ actions_par_type }}\n\n"
            "{{ formations }}\n\n## Ateliers animés\n\nIls ont été animés :\n\n{{ ateliers }}\n")
    render_narrative(text, "doc", bundled_placeholders(), lambda n, t: calls.append((n, t)) or "", lambda n, k: "")
    assert calls == [("evenements", False), ("actions_par_type", False), ("formations", True), ("ateliers", False)]


def test_the_sample_says_each_heading_once(sample_bilan):
    headings = [h.text() for h in sample_bilan.dom.find_all("section")[0].parent.iter() if h.tag in ("h2", "h3")]
    assert "Animation d'ateliers" in headings and "Ateliers" not in headings
    assert "Formations collectives" in headings and "Sessions de formation" not in headings
    assert "Comités" in headings and "Comités de pilotage et comités techniques" not in headings
    assert headings.count("Votre intérêt à :") == 1


# --- The printed PDF ----------------------------------------------------------------------------


def test_contents_give_the_printed_pages_of_the_headings_and_the_pdf_has_an_outline(sample_bilan):
    pages = [" ".join(text.split()) for text in pdf_pages(sample_bilan.pdf)]
    numbered = [(a.text(), int(span.text()))
                for li in sample_bilan.dom.find_all("nav")[0].find_all("li")
                for a, span in [(li.find_all("a")[0], li.find_all("span")[0])]]
    assert len(numbered) == sum(1 for line in SAMPLE_TEXT.read_text(encoding="utf-8").splitlines() if line.startswith("# "))
    for title, page in numbered:
        assert title in pages[page - 1], (title, page)
        assert not any(title in text.split("Sommaire")[-1] for text in pages[2:page - 1]), f"{title} earlier"
    assert [n for _, n in numbered] == sorted(n for _, n in numbered) and numbered[-1][1] == len(pages)
    reader = pypdf.PdfReader(sample_bilan.pdf)
    flat: list = []
    stack = list(reader.outline)
    while stack:
        item = stack.pop(0)
        if isinstance(item, list):
            stack = item + stack
        else:
            flat.append((" ".join(item.title.split()), reader.get_destination_page_number(item) + 1))
    assert [entry for entry in flat if entry[0] in dict(numbered)] == numbered


def test_the_printed_text_has_no_prompt_and_french_spaces(sample_bilan):
    text = "\n".join(pdf_pages(sample_bilan.pdf))
    assert "[" not in text
    for mark in (":", ";", "!", "?", "»"):
        assert not re.search(f"[ \\n]{re.escape(mark)}", text), f"plain space before « {mark} »"
    assert not re.search(r"«[ \n]", text)
    assert text.count("\u202f:") >= 20, "the coordinator's text and the labels: thin no-break space before « : »"
    assert re.search("\\d</span>\u00a0ateliers", sample_bilan.text), "a figure stays with its word"


def test_a_lead_in_stays_with_its_table_and_an_email_on_one_line(sample_bilan):
    pages = [" ".join(text.split()) for text in pdf_pages(sample_bilan.pdf)]
    lead_in = "Le projet Promeneurs du Net a également été présenté aux professionnels"  # no ligature (« ff »)
    page = next(n for n, text in enumerate(pages) if lead_in in text)
    assert "Neuj'Pro" in pages[page], "the events table is on the page of its lead-in"
    chart = [n for n, text in enumerate(pages) if "Ensemble : 66" in text]  # the monthly chart's end label
    table = [n for n, text in enumerate(pages) if "Ensemble du réseau 43 45 47" in text]  # its table's row
    assert chart == table and len(chart) == 1, "the monthly chart and its table on one page"
    assert '<span class="courriel">coordination@promeneurs-exemple.fr</span>' in sample_bilan.text
    assert "coordination@promeneurs-exemple.fr" in pages[-1]
    departements = [td for td in sample_bilan.dom.find_all("td") if "departement" in (td.attrs.get("class") or "")]
    assert departements and all(td.text() for td in departements)


# --- The territory ------------------------------------------------------------------------------


def test_where_the_network_acted_lists_the_published_communes_by_department(published_sample, tmp_path):
    settings = copied_settings(published_sample, tmp_path / "copie")
    bilan = render(settings, 2019, folder_with_text(tmp_path, "# Où le réseau a agi\n\n{{ territoire }}\n"))
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        places = con.execute(
            "select departement, commune, count(*) from bilan.actions_detaillees"
            " where annee = 2019 and commune is not null group by all"
        ).fetchall()
    rows = bilan.dom.find_all("table", id="tableau-territoire")[0].find_all("tr")[1:]
    shown = {(row.attrs["data-departement"], row.find_all("td")[1].text()): row.find_all("td")[2].text() for row in rows}
    assert set(shown) == {(d, c) for d, c, _ in places} and len(places) >= 5
    for departement, commune, count in places:
        assert sum(int(n) for n in re.findall(r": (\d+)", shown[(departement, commune)])) == count
    assert not [h for h in bilan.dom.find_all("h3") if h.text() == "Où le réseau a agi"], "said once, by the text"


def sample_meeting_places(annee: int) -> set[tuple[str, str]]:
    """(département, commune) of the sample's meetings of `annee`, read from the bundled CSV as typed."""
    with open(SAMPLE_DIR / "Suivi - Activités.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    def folded(text: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()

    return {
        (r["Département"].zfill(2), r["Commune"])
        for r in rows
        if folded(r["Type d’action"]).strip().startswith("reunion") and r["Date"].endswith(str(annee))
    }


def territory_rows(bilan: Rendered) -> dict[tuple[str, str], str]:
    """(département, commune) -> the actions held there, as the « Où le réseau a agi » table shows them."""
    rows = bilan.dom.find_all("table", id="tableau-territoire")[0].find_all("tr")[1:]
    return {(row.attrs["data-departement"], row.find_all("td")[1].text()): row.find_all("td")[2].text() for row in rows}


def test_where_the_network_acted_names_the_communes_of_the_meetings(published_sample, tmp_path):
    settings = copied_settings(published_sample, tmp_path / "copie")
    bilan = render(settings, 2019, folder_with_text(tmp_path, "# Où le réseau a agi\n\n{{ territoire }}\n"))
    meetings = sample_meeting_places(2019)
    assert len(meetings) == 6  # Gannat, Vichy, Ebreuil (03); Aubière, Romagnat, Clermont-Ferrand (63)
    shown = territory_rows(bilan)
    for place in meetings:
        assert place in shown and "Réunion" in shown[place], place


def test_a_withheld_title_says_it_is_to_correct_in_the_spreadsheet(sample_bilan):
    with duckdb.connect(str(sample_bilan.settings.published_db), read_only=True) as con:
        withheld = con.execute(
            "select strftime(date_action, '%d/%m/%Y') from bilan.actions_detaillees"
            " where annee = 2019 and type_action = 'Atelier' and intitule_masque"
        ).fetchall()
    assert len(withheld) == 1  # the sample's sheet row 38
    ateliers = sample_bilan.dom.find_all("table", data_bloc="ateliers")[0]
    column = [th.text() for th in ateliers.find_all("th")].index("Intitulé")
    titles = {row.find_all("td")[0].text(): row.find_all("td")[column].text() for row in ateliers.find_all("tr")[1:]}
    assert titles[withheld[0][0]] == " ".join(WITHHELD_TITLE.split())


def test_department_cards_name_the_year_s_trainings(sample_bilan):
    with duckdb.connect(str(sample_bilan.settings.published_db), read_only=True) as con:
        titles = con.execute(
            "select departement, intitule from bilan.actions_detaillees"
            " where annee = 2019 and type_action = 'Formation' and intitule is not null"
        ).fetchall()
    assert titles
    for card in sample_bilan.dom.find_all("ul", data_categorie="formations"):
        code = card.attrs["data-departement"]
        expected = {t for d, t in titles if code == "ensemble" or d == code}
        assert {li.text() for li in card.find_all("li")} == expected, code
    assert len(sample_bilan.dom.find_all("ul", data_categorie="formations")) >= 2
