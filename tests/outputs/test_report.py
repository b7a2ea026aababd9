"""The annual bilan of the bundled sample: every figure of the 2019 table, self-contained, opens in Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from flows.errors import InputError
from flows.outputs.pdf import headless_browser, print_to_pdf
from flows.outputs.report import produce_bilan, report_after_sync
from flows.settings import REPO_ROOT, SAMPLE_DIR, Settings, load_settings
from tests.outputs.test_exports import assert_xlsx_equals_mart, sheet_table
from tests.pipeline.test_sync_sample import EXPECTED_2019

ARTIFACTS = REPO_ROOT / "artifacts"
DEPARTEMENTS = ("03", "63", "ensemble")

# The type lists of the 2019 report ("Synthèse des données"), per department (backbone brief).
PROFILS_2019 = {
    "03": {
        "Animateur enfance/jeunesse", "Référent/coordonateur jeunesse", "Éducateur spécialisé", "Moniteur éducateur",
        "Animateur numérique/multimédia", "Référent famille", "Informateur jeunesse", "Agent de développement",
        "Chargé de mission formation",
    },
    "63": {
        "Animateur enfance/jeunesse", "Référent/coordonateur jeunesse", "Éducateur spécialisé", "Moniteur éducateur",
        "Animateur numérique/multimédia", "Référent famille", "Directeur de structure",
    },
}
STRUCTURES_2019 = {
    "03": {
        "ALSH/services jeunesse", "Centre social", "PIJ", "Médiathèque", "ADSEA", "ANPAA",
        "Centre d'éducation spécialisé", "Ligue de l'Enseignement",
    },
    "63": {"ALSH/services jeunesse", "EVS", "Centre social", "FJT", "MFR", "EPN", "Association de jeux"},
}


# --- A small DOM built with the standard library's HTML parser ----------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node]
    parent: Node | None = None
    text_parts: list[str] | None = None

    def text(self) -> str:
        parts = list(self.text_parts or [])
        for child in self.children:
            parts.append(child.text())
        return " ".join(" ".join(parts).split())

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        return [
            node for node in self.iter()
            if node.tag == tag and all(node.attrs.get(name.replace("_", "-")) == value for name, value in attrs.items())
        ]


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, [])
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), [], self.current, [])
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        if self.current.text_parts is None:
            self.current.text_parts = []
        self.current.text_parts.append(data)


def parse_html(text: str) -> Node:
    builder = TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def french_number(text: str) -> float:
    """'1,5' -> 1.5 ; '1 234' -> 1234 ; '41 %' -> 0.41."""
    cleaned = text.replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    if cleaned.endswith("%"):
        return float(cleaned[:-1].replace(",", ".")) / 100
    return float(cleaned.replace(",", "."))


# --- The sample, synced once for the module ----------------------------------------------------


@dataclass
class Bilan:
    settings: Settings
    run: dict
    html_path: Path
    xlsx: Path
    csv: Path
    dom: Node
    text: str
    quality: Node  # the coordinator's data-quality page


@pytest.fixture(scope="module")
def bilan(published_sample, tmp_path_factory) -> Bilan:
    """The 2019 bilan written from a copy of the session's published sample (with the sample's 2019 text)."""
    root = published_sample.copy_to(tmp_path_factory.mktemp("bilan"))
    settings = replace(load_settings(), warehouse_dir=root / "warehouse", private_dir=root / "private")
    files = produce_bilan(settings, 2019)
    text = files.html.read_text(encoding="utf-8")
    quality = parse_html(files.qualite.read_text(encoding="utf-8"))
    return Bilan(settings, published_sample.report, files.html, files.xlsx, files.csv, parse_html(text), text, quality)


def indicator_cell(bilan: Bilan, indicateur: str, departement: str, annee: int) -> str:
    table = bilan.dom.find_all("table", id="tableau-indicateurs")[0]
    row = table.find_all("tr", data_indicateur=indicateur)
    assert len(row) == 1, indicateur
    cells = row[0].find_all("td", data_departement=departement, data_annee=str(annee))
    assert len(cells) == 1, (indicateur, departement, annee)
    return cells[0].text()


def test_bilan_is_written_where_the_coordinator_expects_it(bilan):
    assert bilan.html_path == bilan.settings.warehouse_dir / "rapports" / "bilan-2019.html"
    assert bilan.xlsx.parent == bilan.csv.parent == bilan.html_path.parent
    assert bilan.dom.find_all("html")[0].attrs.get("lang") == "fr"


def test_bilan_shows_every_figure_of_the_2019_table(bilan):
    for indicateur, expected in EXPECTED_2019.items():
        got = tuple(french_number(indicator_cell(bilan, indicateur, d, 2019)) for d in DEPARTEMENTS)
        assert got == pytest.approx(expected), indicateur
    rates = tuple(indicator_cell(bilan, "questionnaire_taux_participation", d, 2019) for d in DEPARTEMENTS)
    assert [french_number(r) for r in rates] == pytest.approx([0.41, 0.42, 0.41])


def test_synthesis_page_has_each_department_and_the_network(bilan):
    fiches = {f.attrs["data-departement"]: f for f in bilan.dom.find_all("article")}
    assert set(fiches) == set(DEPARTEMENTS)
    assert "23 Promeneurs du Net" in fiches["03"].text()
    assert "43 Promeneurs du Net" in fiches["63"].text()
    assert "66 Promeneurs du Net" in fiches["ensemble"].text()
    shared = fiches["ensemble"].find_all("dd", data_indicateur="comites_techniques")[0].text()
    assert shared == "2" and fiches["03"].find_all("dd", data_indicateur="comites_techniques")[0].text() == "0"


def test_synthesis_lists_the_types_of_profiles_and_structures_at_year_end(bilan):
    for departement in ("03", "63"):
        for categorie, expected in (("profil", PROFILS_2019), ("type_structure", STRUCTURES_2019)):
            items = bilan.dom.find_all("ul", data_categorie=categorie, data_departement=departement)[0]
            assert {li.text() for li in items.find_all("li")} == expected[departement], (departement, categorie)
    network = bilan.dom.find_all("ul", data_categorie="profil", data_departement="ensemble")[0]
    assert len(network.find_all("li")) == EXPECTED_2019["types_profils"][2]


def test_previous_year_is_shown_beside_with_its_evolution(bilan):
    with duckdb.connect(str(bilan.settings.published_db), read_only=True) as con:
        previous = con.execute(
            "select valeur from bilan.indicateurs_annuels where annee = 2018 and departement = 'ensemble' "
            "and indicateur = 'promeneurs_actifs_fin_annee'"
        ).fetchone()[0]
    assert french_number(indicator_cell(bilan, "promeneurs_actifs_fin_annee", "ensemble", 2018)) == previous
    row = bilan.dom.find_all("tr", data_indicateur="promeneurs_actifs_fin_annee")[0]
    evolution = [td for td in row.find_all("td") if "evolution" in (td.attrs.get("class") or "")]
    ensemble = [td for td in evolution if td.attrs["data-departement"] == "ensemble"][0]
    assert ensemble.text() == f"+{66 - int(previous)}"


def test_monthly_sizes_and_actions_by_type_come_from_the_marts(bilan):
    months = bilan.dom.find_all("table", id="tableau-effectifs")[0].find_all("tr")
    network = [r for r in months if r.find_all("th") and r.find_all("th")[0].text() == "Ensemble du réseau"][0]
    values = [french_number(td.text()) for td in network.find_all("td")]
    assert len(values) == 12 and values[0] == 43 and values[-1] == 66
    actions = bilan.dom.find_all("table", id="tableau-activites")[0]
    totals = {r.find_all("th")[0].text(): int(r.find_all("td")[-2].text()) for r in actions.find_all("tr")[1:]}
    # named as the indicator tables and cards name them: one singular/plural, from the indicator's label
    assert totals["Rencontres individuelles"] == 23 and totals["Comités techniques"] == 2
    assert "Rencontre individuelle" not in totals
    assert sum(totals.values()) == sum(
        EXPECTED_2019[i][2] for i in EXPECTED_2019 if i not in (
            "promeneurs_actifs_debut_annee", "promeneurs_actifs_fin_annee", "nouveaux_promeneurs", "sorties",
            "types_profils", "types_structures", "jours_formation", "questionnaire_repondants",
        )
    )


def test_questionnaire_section_has_participation_answers_and_interest(bilan):
    section = bilan.dom
    participation = section.find_all("table", id="tableau-participation")[0].text()
    assert "31" in participation and "75" in participation and "41 %" in participation.replace("\u00a0", " ")
    questions = {t.attrs["data-question"] for t in section.find_all("table")
                 if t.attrs.get("data-question")}
    assert questions == {"publications", "reseaux", "supports", "echanges"}
    facebook = section.find_all("table", data_question="reseaux")[0].find_all("tr", data_reponse="Facebook")[0]
    assert facebook.find_all("td", data_departement="ensemble")[0].text().startswith("29")
    interests = section.find_all("table", id="tableau-interets")[0].find_all("tr")[1:]
    assert len(interests) == 4 and all("/ 5" in row.text().replace("\u00a0", " ") for row in interests)


def compiled_model(settings: Settings, model: str) -> str:
    """SQL that dbt compiled for a model during the flow's build (it names the build file `work`)."""
    path = settings.private_dir / "dbt" / "target" / "compiled" / "pdn" / "models" / model
    return path.read_text(encoding="utf-8")


def test_a_department_with_three_respondents_is_suppressed_with_its_complement(bilan, tmp_path):
    """Rebuild the questionnaire marts on the sample with only 3 of Allier's respondents kept."""
    settings = bilan.settings
    work = tmp_path / "work.duckdb"  # same file name as the build, so the compiled "work"."main" names resolve
    shutil.copyfile(settings.private_dir / "build" / "work.duckdb", work)
    with duckdb.connect(str(work)) as con:
        con.execute("attach ? as raw (read_only)", [str(settings.raw_db)])
        con.execute("delete from main.int_reponses_validated where campagne_annee <> 2019")
        con.execute(
            "delete from main.int_reponses_validated where departement = '03' and cle_repondant not in ("
            "select cle_repondant from main.int_reponses_validated where departement = '03' "
            "and est_valide and not est_remplacee order by cle_repondant limit 3)"
        )
        counted = compiled_model(settings, "intermediate/int_reponses_questionnaire_counted.sql")
        con.execute(f"create or replace table main.int_reponses_questionnaire_counted as {counted}")
        assert con.execute(
            "select max(repondants_question) from main.int_reponses_questionnaire_counted where departement = '03'"
        ).fetchone()[0] == 3
        answers = [a for a in fetch_dicts(con, compiled_model(settings, "marts/bilan/reponses_questionnaire.sql"))
                   if a["annee"] == 2019]
        means = [m for m in fetch_dicts(con, compiled_model(settings, "marts/bilan/interets_questionnaire.sql"))
                 if m["annee"] == 2019]
    assert all(a["secret"] and a["repondants"] is None for a in answers if a["departement"] == "03")
    shown = {(a["question"], a["reponse"]) for a in answers if a["departement"] == "ensemble" and not a["secret"]}
    assert shown, "the network's figures stay published"
    assert all(a["secret"] for a in answers if a["departement"] == "63" and (a["question"], a["reponse"]) in shown)
    assert all(m["secret"] and m["moyenne"] is None for m in means if m["departement"] in ("03", "63"))
    assert all(not m["secret"] for m in means if m["departement"] == "ensemble")


def fetch_dicts(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def test_types_mart_matches_the_type_indicators(bilan):
    with duckdb.connect(str(bilan.settings.published_db), read_only=True) as con:
        mismatches = con.execute(
            """
            select i.annee, i.departement, i.indicateur, i.valeur, count(t.libelle) as listed
            from bilan.indicateurs_annuels as i
            left join bilan.types_par_departement as t
                on t.annee = i.annee and t.departement = i.departement
                and t.categorie = case i.indicateur when 'types_profils' then 'profil' else 'type_structure' end
                and t.est_reconnu
            where i.indicateur in ('types_profils', 'types_structures')
            group by all
            having count(t.libelle) <> i.valeur
            """
        ).fetchall()
    assert mismatches == []


def test_quality_page_reports_the_run_warnings_and_quarantine_apart_from_the_bilan(bilan):
    section = bilan.quality.find_all("section", id="qualite")[0]
    assert bilan.run["run_id"] in section.text()
    assert bilan.quality.find_all("span", id="synchronisation")[0].text() == bilan.run["run_id"]
    warnings = [c["message"] for c in bilan.run["controles_en_echec"] if c["gravite"] == "avertissement"]
    assert warnings and all(" ".join(w.split()) in section.text() for w in warnings)
    # the ±100 % warning names the indicator and the place, as the CLI summary does
    changes = [c for c in bilan.run["controles_en_echec"] if c["suite"] == "qualite_controles_evolution"]
    assert changes, "the sample's 2019 start-of-year figure doubles: the change check warns"
    named = {e["indicateur"] for c in changes for e in c["details"]["exemples"]}
    with duckdb.connect(str(bilan.settings.published_db), read_only=True) as con:
        labels = dict(con.execute("select indicateur, libelle from bilan.definitions_indicateurs").fetchall())
    concerne = " ".join(span.text() for span in section.find_all("span") if "concerne" in (span.attrs.get("class") or ""))
    assert named and all(labels[i] in concerne and i not in concerne for i in named), "French labels, not codes"
    assert "Puy-de-Dôme" in concerne and " / 63 / " not in concerne
    # the CAF bilan carries none of it
    assert not bilan.dom.find_all("section", id="qualite") and not bilan.dom.find_all("table", id="tableau-quarantaine")
    assert bilan.run["run_id"] not in bilan.text
    total = int(section.find_all("span", id="total-quarantaine")[0].text())
    assert total == len(bilan.run["quarantaine"]) == 4
    lines = section.find_all("table", id="tableau-quarantaine")[0].find_all("tr")[1:]
    assert sum(int(row.find_all("td")[-1].text()) for row in lines) == 4


def test_quality_page_lists_every_row_and_cell_to_correct_with_the_terminal_s_counts(bilan):
    def rows(table_id: str) -> list[list[str]]:
        table = bilan.quality.find_all("table", id=table_id)[0]
        return [[c.text() for c in tr.children if c.tag == "td"] for tr in table.find_all("tr")[1:]]

    quarantined = rows("tableau-lignes-quarantaine")
    assert [(r[0], r[1], int(r[2])) for r in quarantined] == [
        (q["tableur"], q["onglet"], q["ligne"]) for q in bilan.run["quarantaine"]
    ]
    cells = rows("tableau-cellules-a-corriger")
    assert [(r[0], r[1], int(r[2]), r[3]) for r in cells] == [
        (c["tableur"], c["onglet"], c["ligne"], c["colonne"]) for c in bilan.run["cellules_signalees"]
    ] and cells, "the withheld title's row and column, as the terminal says"
    read = {(r[0], r[1]): [int(v) for v in r[2:]] for r in rows("tableau-lignes-lues")}
    for counted in bilan.run["lignes_lues"]:
        lues, valides, quarantaine, vides = read[(counted["tableur"], counted["onglet"])]
        assert lues == counted["lignes"] == valides + quarantaine + vides


def test_xlsx_export_of_the_sample_equals_the_mart(bilan):
    assert_xlsx_equals_mart(bilan.xlsx, bilan.settings.published_db, 2019)


# --- Self-contained: no URL, no request ------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "poster", "data", "background", "xlink:href",
                  "manifest", "ping", "cite", "longdesc", "usemap", "codebase", "archive", "icon"}


def external_references(html: str) -> list[str]:
    """Every reference the page makes to something other than itself (data: or #fragment)."""
    found = []
    for node in parse_html(html).iter():
        if node.tag in ("script", "link", "iframe", "object", "embed", "img", "base", "frame"):
            found.append(f"<{node.tag}>")
        for name, value in node.attrs.items():
            if name in URL_ATTRIBUTES and value and not value.startswith(("#", "data:")):
                found.append(f"{name}={value}")
            if name == "style" and value and "url(" in value:
                found.append(f"style={value}")
    for match in re.finditer(r"url\(\s*['\"]?([^'\")]*)", html):
        if not match.group(1).startswith(("#", "data:")):
            found.append(f"url({match.group(1)})")
    if "@import" in html:
        found.append("@import")
    found += re.findall(r"(?:https?|ftp)://[^\s\"'<>]+", html)
    return found


def test_bilan_references_nothing_outside_itself(bilan):
    assert external_references(bilan.text) == []
    assert bilan.dom.find_all("style") and bilan.dom.find_all("svg"), "styles and charts are inline"


def test_the_reference_check_catches_external_resources():
    page = '<html><head><link rel="stylesheet" href="https://cdn.example/x.css"></head>' \
           '<body style="background:url(logo.png)"><img src="logo.png"><a href="#top">haut</a></body></html>'
    assert len(external_references(page)) >= 4


CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
    "--disable-default-apps", "--no-pings", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--hide-scrollbars",
    # Chromium's own background calls (updates, time, sign-in) must not leave the machine: every
    # request goes to a closed loopback port and no name is resolved.
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--enable-logging=stderr", "--v=0",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run installs Debian's `chromium` package")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    return found


def page_requests(netlog: Path) -> list[str]:
    """URLs the page itself asked for (its requests carry the file:// page's isolation key)."""
    text = netlog.read_text(encoding="utf-8")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # a log cut short by the browser's exit lacks its closing brackets
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start and str(event["params"].get("network_isolation_key", "")).startswith("file://")
    ]


def open_in_chromium(page: Path, work: Path, *extra: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    netlog = work / "netlog.json"
    result = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={work / 'profil'}", f"--log-net-log={netlog}", *extra,
         page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    return result, page_requests(netlog)


def test_bilan_opens_in_headless_chromium_without_any_request(bilan, tmp_path, capsys):
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "rapport-2019.png"
    screenshot.unlink(missing_ok=True)
    result, requests = open_in_chromium(
        bilan.html_path, tmp_path, f"--screenshot={screenshot}", "--window-size=1280,2000"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert requests == []
    assert "Failed to load resource" not in result.stderr and "net::ERR_" not in result.stderr
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
    with capsys.disabled():
        print(f"\ncapture du bilan : {screenshot}")


def test_the_request_check_catches_a_page_that_loads_something(tmp_path):
    page = tmp_path / "externe.html"
    page.write_text('<html><body><img src="http://127.0.0.1:9/logo.png"><p>x</p></body></html>', encoding="utf-8")
    result, requests = open_in_chromium(page, tmp_path, f"--screenshot={tmp_path / 'x.png'}")
    assert result.returncode == 0
    assert requests == ["http://127.0.0.1:9/logo.png"]


def test_print_to_pdf_gives_a4_pages(bilan, tmp_path):
    pdf = tmp_path / "bilan.pdf"
    result, requests = open_in_chromium(bilan.html_path, tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert result.returncode == 0 and requests == []
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf.read_bytes())
    assert len(boxes) >= 5, "one page per section at least"
    assert {(round(float(w)), round(float(h))) for w, h in boxes} == {(595, 842)}, "A4 portrait (points)"


def running_in_group(group: int) -> list[str]:
    """Processes of a process group still running, as `ps` lists them (zombies excluded)."""
    listing = subprocess.run(["ps", "-eo", "pid=,pgid=,stat="], capture_output=True, text=True, check=True).stdout
    return [pid for pid, pgid, stat in map(str.split, listing.splitlines()) if int(pgid) == group and stat[0] != "Z"]


def test_the_browser_leaves_no_helper_running_and_no_profile_behind():
    with headless_browser("--remote-debugging-port=0", "about:blank", stderr=subprocess.PIPE, text=True) as browser:
        next(line for line in browser.stderr if "ws://" in line)  # up and answering: its helpers have started
        profile = Path(next(arg for arg in browser.args if arg.startswith("--user-data-dir=")).partition("=")[2])
        assert profile.is_dir()
        helpers = [int(pid) for pid in running_in_group(browser.pid) if int(pid) != browser.pid]
        assert helpers  # the processes that outlive the main one
        os.kill(helpers[-1], signal.SIGSTOP)  # a helper that gets no CPU, as on a loaded machine
    assert running_in_group(browser.pid) == []
    assert not profile.exists()


def test_print_to_pdf_prints_the_bilan_and_leaves_no_profile_behind(bilan, tmp_path, monkeypatch):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # where the browser's profile goes
    pdf = print_to_pdf(bilan.html_path, tmp_path / "bilan.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert list(temporary.iterdir()) == []


# --- Errors and the hook after a sync -----------------------------------------------------------


def test_unknown_year_is_refused_with_the_available_years(bilan):
    with pytest.raises(InputError, match=r"2017 n'est pas dans l'entrepôt publié \(années disponibles : 2018, 2019"):
        produce_bilan(bilan.settings, 2017)


def test_report_after_sync_writes_the_last_complete_year_and_never_raises(bilan, tmp_path, caplog):
    written = report_after_sync(bilan.settings)
    assert [(f.annee, f.provisoire) for f in written] == [(2020, False)] and written[0].html.exists()
    empty = replace(bilan.settings, warehouse_dir=tmp_path / "vide", private_dir=tmp_path / "prive")
    assert report_after_sync(empty) == []
    assert "lancez d'abord « pdn synchroniser »" in caplog.text


# --- `pdn documentation` ----------------------------------------------------------------------------------


def test_docs_site_describes_every_published_mart_and_column_and_the_exposures(bilan):
    from flows.outputs.dbt_docs import build_docs

    before = bilan.settings.published_db.read_bytes()
    page = build_docs(bilan.settings)
    assert page == bilan.settings.warehouse_dir / "docs-dbt" / "static_index.html" and page.stat().st_size > 100_000
    assert bilan.settings.published_db.read_bytes() == before, "dbt works on a copy, never on the published file"
    catalog = json.loads((page.parent / "catalog.json").read_text(encoding="utf-8"))
    manifest = json.loads((page.parent / "manifest.json").read_text(encoding="utf-8"))
    with duckdb.connect(str(bilan.settings.published_db), read_only=True) as con:
        published = {
            f"{schema}.{table}"
            for schema, table in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        }
    documented = {f"{n['metadata']['schema']}.{n['metadata']['name']}" for n in catalog["nodes"].values()}
    assert documented == published - {"qualite.synchronisation"}  # written by the flow, not by dbt
    undocumented = [
        (uid, column)
        for uid, node in catalog["nodes"].items()
        for column in [None, *node["columns"]]
        if not (manifest["nodes"][uid] if column is None else manifest["nodes"][uid]["columns"].get(column, {}))
        .get("description")
    ]
    assert undocumented == []
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert set(exposures) == {"bilan_annuel", "exports_caf", "tableaux_de_bord_bi"}
    assert "model.pdn.reponses_questionnaire" in exposures["bilan_annuel"]["depends_on"]["nodes"]


def test_xlsx_holds_the_questionnaire_and_the_detailed_actions_as_published_codes_as_text(bilan):
    from openpyxl import load_workbook

    workbook = load_workbook(bilan.xlsx)
    with duckdb.connect(str(bilan.settings.published_db), read_only=True) as con:
        actions = con.execute(
            "select departement, intitule from bilan.actions_detaillees where annee = 2019 order by date_action"
        ).fetchall()
        answers = con.execute(
            "select count(*), count(*) filter (where secret) from bilan.reponses_questionnaire where annee <= 2019"
        ).fetchone()
    header, rows = sheet_table(workbook["Actions détaillées"], "Année")
    assert header[:4] == ["Année", "Date", "Département", "Code département"]
    assert len(rows) == len(actions) > 0 and {row[0].value for row in rows} == {2019}, "the bilan's year only"
    codes = [row[3] for row in rows]
    assert all(cell.data_type == "s" for cell in codes) and "03" in {cell.value for cell in codes}, "03 stays 03"
    assert {row[5].value for row in rows} - {None} == {title for _, title in actions} - {None}
    questionnaire = [tuple(c.value for c in row) for row in sheet_table(workbook["Questionnaire"], "Année")[1]]
    assert len(questionnaire) == answers[0] > 0
    assert sum(1 for row in questionnaire if row[-1] == "secret") == answers[1]
    shares = [row[-1] for row in questionnaire if row[-1] not in ("secret", None)]
    assert shares and all(isinstance(share, (int, float)) and share == round(share, 3) for share in shares)


# --- Links to the cells, when the source is a Google spreadsheet -------------------------------------------


GOOGLE_LINK = re.compile(r"^https://docs\.google\.com/spreadsheets/d/([^/]+)/edit#gid=(\d+)&range=([A-Z]*\d+(?::\d+)?)$")


@dataclass(frozen=True)
class GoogleQuality:
    quality: Node  # the quality page after the second sync, which reused the first one's read
    run: dict  # that second sync's run report
    gids: dict[tuple[str, str], int]  # (spreadsheet key, tab) -> the emulator's sheetId
    keys: dict[str, str]  # spreadsheet title -> key


@pytest.fixture(scope="module")
def google_quality(prefect_harness, tmp_path_factory) -> GoogleQuality:
    """The sample served by the Sheets emulator, synced twice (the second read reuses the first: unchanged)."""
    import requests

    from flows.pipeline.sync import nightly_sync
    from tests.conftest import QUESTIONNAIRE_2020_KEY, QUESTIONNAIRE_KEY, SHEETS_CONFIG, SUIVI_KEY, use_warehouse
    from tests.google_emulator import SheetsEmulator

    root = tmp_path_factory.mktemp("qualite-google")
    config = root / "sources.toml"
    config.write_text(SHEETS_CONFIG, encoding="utf-8")
    keys = {"Suivi": SUIVI_KEY, "Questionnaire 2019": QUESTIONNAIRE_KEY, "Questionnaire 2020": QUESTIONNAIRE_2020_KEY}
    with SheetsEmulator() as emulator, pytest.MonkeyPatch.context() as patch:
        from tests.conftest import serve_sample

        serve_sample(emulator)
        use_warehouse(patch, root)
        patch.setenv("PDN_SOURCES", str(config))
        patch.setenv("PDN_SHEETS_API_URL", emulator.url)
        nightly_sync()
        run = nightly_sync()
        files = produce_bilan(load_settings(), 2019)
        gids = {}
        for key in keys.values():
            answer = requests.get(f"{emulator.url}/v4/spreadsheets/{key}", params={"fields": "sheets.properties"}, timeout=10)
            gids |= {(key, s["properties"]["title"]): s["properties"]["sheetId"] for s in answer.json()["sheets"]}
    return GoogleQuality(parse_html(files.qualite.read_text(encoding="utf-8")), run, gids, keys)


def linked_rows(quality: Node, table_id: str) -> list[tuple[list[str], str | None]]:
    """Each row's cells, and the link of its row number (None without one)."""
    table = quality.find_all("table", id=table_id)[0]
    rows = []
    for tr in table.find_all("tr")[1:]:
        links = [a.attrs["href"] for a in tr.find_all("a")]
        rows.append(([c.text() for c in tr.children if c.tag == "td"], links[0] if links else None))
    return rows


def test_quality_page_links_each_row_and_cell_of_a_google_spreadsheet_to_its_place(google_quality):
    assert google_quality.run["statut"] == "publie" and google_quality.run["requetes_sheets"] == 3, "no extra request"
    with open(SAMPLE_DIR / "Suivi - Activités.csv", encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split(",")
    title_column = chr(ord("A") + header.index("Intitule"))
    quarantined = linked_rows(google_quality.quality, "tableau-lignes-quarantaine")
    cells = linked_rows(google_quality.quality, "tableau-cellules-a-corriger")
    assert len(quarantined) == len(google_quality.run["quarantaine"]) > 0 and cells
    for (tableur, onglet, ligne, *_), link in quarantined:
        key, gid, a1 = GOOGLE_LINK.match(link).groups()
        assert key == google_quality.keys[tableur] and int(gid) == google_quality.gids[(key, onglet)]
        assert a1 == f"{ligne}:{ligne}", "a quarantined row opens the whole row"
    for (tableur, onglet, ligne, colonne, _), link in cells:
        key, gid, a1 = GOOGLE_LINK.match(link).groups()
        assert key == google_quality.keys[tableur] and int(gid) == google_quality.gids[(key, onglet)]
        if colonne == "Intitulé":
            assert a1 == f"{title_column}{ligne}", "a flagged title opens its cell"
    assert ("Activités", "38") in {(onglet, ligne) for (_, onglet, ligne, *_), _ in cells}  # the sample's named title
    assert {int(gid) for gid in re.findall(r"#gid=(\d+)", str([link for _, link in cells]))} - {0}, "not the first tab only"


def test_quality_page_of_exported_files_has_no_link(bilan):
    assert bilan.quality.find_all("table", id="tableau-lignes-quarantaine")
    assert not [a for a in bilan.quality.find_all("a") if "docs.google.com" in (a.attrs.get("href") or "")]
