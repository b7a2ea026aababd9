"""bilan.actions_detaillees: the actions the CAF report lists one by one, titles and communes screened for names
and contact details, through the real `pdn synchroniser`."""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from flows.cli import main
from tests.conftest import use_warehouse_and_files
from tests.test_bad_input import ACTIVITES_FILE, rewrite, sample_copy
from tests.test_privacy import leaks

# Free text typed into sample rows (sheet rows of Suivi / Activités; the people are on the sample's roster).
NAMED_TITLE = (29, "Formation « La présence éducative sur Internet »,Moulins", "Atelier avec Chloé Giraud,Moulins")
EMAIL_TITLE = (
    42,
    "Formation « Optimiser les pratiques sur les réseaux sociaux »,Clermont-Ferrand",
    "Formation : inscriptions auprès de mathieu.fournier@example.fr,Clermont-Ferrand",
)
NAMED_COMMUNE = (48, "sociaux »,Ebreuil,Promeneurs", "sociaux »,Ebreuil (chez FOURNIER  Mathieu),Promeneurs")
# A meeting's commune is published (where the network met), screened like any other.
NAMED_MEETING_COMMUNE = (45, "TikTok,Ebreuil,Promeneurs", "TikTok,Ebreuil chez Chloé Giraud,Promeneurs")
# What must not reach the published file, in any case or spelling the sheet used.
WITHHELD = ("Chloé Giraud", "Giraud", "mathieu.fournier@example.fr", "FOURNIER  Mathieu", "Fournier", "Julien Blanc")
# The network's meetings: published with their date, department and commune, never their title.
MEETING_TYPES = ("Réunion d'échange de pratiques", "Réunion d'accueil des nouveaux Promeneurs", "Réunion de lancement")
PUBLIC_TYPES = {"Formation", "Atelier", "Événement", "Comité de pilotage", "Comité technique", *MEETING_TYPES}
SAMPLE_NAMED_ROW = 38  # the bundled sample's own title naming a Promeneur (flows/sample/README.md)


@dataclass(frozen=True)
class ScreenedRun:
    root: Path
    code: int
    report: dict

    @property
    def published_db(self) -> Path:
        return self.root / "warehouse" / "pdn.duckdb"

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.published_db), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def action(self, date: str, type_action: str) -> dict:
        with duckdb.connect(str(self.published_db), read_only=True) as con:
            frame = con.execute(
                "select * from bilan.actions_detaillees where date_action = ? and type_action = ?", [date, type_action]
            ).df()
        assert len(frame) == 1, (date, type_action)
        return frame.iloc[0].to_dict()


@pytest.fixture(scope="module")
def screened_run(prefect_harness, tmp_path_factory) -> ScreenedRun:
    """The sample with a name and an e-mail in two Formation titles and a name in a commune, synced by `pdn synchroniser`."""
    root = tmp_path_factory.mktemp("actions-detaillees")
    exports = sample_copy(root)
    for _, old, new in (NAMED_TITLE, EMAIL_TITLE, NAMED_COMMUNE, NAMED_MEETING_COMMUNE):
        rewrite(exports / ACTIVITES_FILE, old, new)
    with pytest.MonkeyPatch.context() as patch:
        use_warehouse_and_files(patch, root)
        code = main(["sync", "--source", str(exports)])
    report = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    return ScreenedRun(root=root, code=code, report=report)


def test_the_sync_publishes_with_the_screened_titles(screened_run):
    assert screened_run.code == 0 and screened_run.report["statut"] == "publie"


def test_a_title_naming_a_promeneur_is_withheld_and_the_action_still_listed(screened_run):
    row = screened_run.action("2019-06-04", "Formation")
    assert row["intitule"] is None and row["intitule_masque"]
    assert (row["annee"], row["departement"], row["commune"], row["participants"]) == (2019, "03", "Moulins", 13)


def test_a_title_holding_an_email_is_withheld_and_the_action_still_listed(screened_run):
    row = screened_run.action("2019-09-17", "Formation")
    assert row["intitule"] is None and row["intitule_masque"]
    assert (row["departement"], row["commune"], row["commune_masquee"]) == ("63", "Clermont-Ferrand", False)


def test_a_commune_naming_a_promeneur_is_withheld_and_the_title_still_shown(screened_run):
    row = screened_run.action("2019-10-08", "Formation")
    assert row["commune"] is None and row["commune_masquee"]
    assert row["intitule"] == "Formation « Optimiser les pratiques sur les réseaux sociaux »"
    assert not row["intitule_masque"]


def test_a_clean_title_is_published_verbatim(screened_run):
    row = screened_run.action("2019-06-20", "Formation")
    assert row["intitule"] == "Formation « La présence éducative sur Internet »" and not row["intitule_masque"]
    assert (row["departement"], row["commune"], row["participants"]) == ("63", "Clermont-Ferrand", 24)


def test_withheld_cells_are_listed_for_correction_without_their_content(screened_run):
    listed = {
        (c["tableur"], c["onglet"], c["ligne"], c["colonne"]): c["motif"]
        for c in screened_run.report["cellules_signalees"]
    }
    expected = {("Suivi", "Activités", row, "Intitulé") for row in (NAMED_TITLE[0], EMAIL_TITLE[0], SAMPLE_NAMED_ROW)}
    expected |= {("Suivi", "Activités", row, "Commune") for row in (NAMED_COMMUNE[0], NAMED_MEETING_COMMUNE[0])}
    assert expected <= set(listed)
    assert all(listed[cell].startswith(("Intitulé contenant", "Commune contenant")) for cell in expected)
    counted = dict(
        screened_run.query(
            "select colonne, sum(lignes) from qualite.cellules_signalees where onglet = 'Activités' "
            "and motif like '%contenant%' group by colonne"
        )
    )
    assert counted == {"Intitulé": 3, "Commune": 2}
    assert not leaks(json.dumps(screened_run.report, ensure_ascii=False))


def spellings(text: str) -> set[bytes]:
    """The byte strings a value may be stored as: as typed, lower and upper case, without accents, UTF-8 and UTF-16."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    variants = {v for t in (text, plain, re.sub(r"\s+", " ", text)) for v in (t, t.lower(), t.upper(), t.title())}
    return {v.encode(encoding) for v in variants for encoding in ("utf-8", "utf-16-le")}


def test_no_byte_of_a_withheld_name_or_email_is_in_the_published_file(screened_run):
    stored = screened_run.published_db.read_bytes()
    assert "présence éducative sur Internet".encode() in stored  # the scan reads text as DuckDB stores it
    for value in WITHHELD:
        assert not [s for s in spellings(value) if s in stored], value
    tables = screened_run.query("select table_schema, table_name from information_schema.tables")
    with duckdb.connect(str(screened_run.published_db), read_only=True) as con:
        text = "\n".join(con.execute(f'select * from {s}."{t}"').df().to_csv(index=False) for s, t in tables)
    assert not leaks(text)


def test_a_type_not_declared_public_never_appears(screened_run):
    internal = screened_run.query(
        "select activite_id from bilan.activites where type_action in ('Rencontre individuelle', "
        "'Présentation collective', 'Accompagnement individuel')"
    )
    assert len(internal) > 30  # valid actions, counted in the bilan
    published = screened_run.query("select activite_id, type_action from bilan.actions_detaillees")
    assert not {a for (a,) in internal} & {a for a, _ in published}
    assert {t for _, t in published} == PUBLIC_TYPES


def test_meetings_are_published_with_their_commune_never_their_title(screened_run):
    counted = screened_run.query(
        "select activite_id from bilan.activites where type_action in (?, ?, ?)", list(MEETING_TYPES)
    )
    assert len(counted) == 6  # sample README: 3 + 2 + 1
    meetings = screened_run.query(
        "select activite_id, strftime(date_action, '%d/%m/%Y'), departement, commune, commune_masquee, intitule, "
        "intitule_masque, participants from bilan.actions_detaillees where type_action in (?, ?, ?) "
        "order by date_action",
        list(MEETING_TYPES),
    )
    assert {m[0] for m in meetings} == {a for (a,) in counted}
    assert all(m[5:] == (None, False, None) for m in meetings), "no title, no participants"
    assert [m[1:5] for m in meetings] == [
        ("29/01/2019", "03", "Gannat", False),
        ("23/04/2019", "63", "Aubière", False),
        ("26/09/2019", "03", None, True),  # NAMED_MEETING_COMMUNE: withheld, the meeting still listed
        ("10/10/2019", "63", "Romagnat", False),
        ("05/11/2019", "63", "Clermont-Ferrand", False),
        ("07/11/2019", "03", "Vichy", False),
    ]


def test_committees_show_their_date_and_department_only(screened_run):
    committees = screened_run.query(
        "select strftime(date_action, '%d/%m/%Y'), departement, intitule, commune, participants, intitule_masque "
        "from bilan.actions_detaillees where type_action like 'Comité%' order by date_action"
    )
    dates = ["15/01/2019", "11/06/2019", "15/10/2019", "14/01/2020"]
    assert committees == [(date, "03/63", None, None, None, False) for date in dates]


def test_the_sample_publishes_the_2019_report_actions_with_one_title_withheld(published_sample):
    with duckdb.connect(str(published_sample.published_db), read_only=True) as con:
        counts = dict(
            con.execute(
                "select type_action, count(*) from bilan.actions_detaillees where annee = 2019 group by all"
            ).fetchall()
        )
        withheld = con.execute("select count(*) from bilan.actions_detaillees where intitule_masque").fetchone()[0]
        ordered = con.execute("select date_action from bilan.actions_detaillees").fetchall()
    # The 2019 report: 9 workshops, 4 training sessions, 2 events, 1 steering and 2 technical committees.
    assert counts == {"Atelier": 9, "Formation": 4, "Événement": 2, "Comité de pilotage": 1, "Comité technique": 2,
                      "Réunion d'échange de pratiques": 3, "Réunion d'accueil des nouveaux Promeneurs": 2,
                      "Réunion de lancement": 1}
    assert withheld == 1  # sheet row 38: « … avec Julien Blanc … »
    assert ordered == sorted(ordered)


def test_a_meeting_commune_naming_a_promeneur_never_reaches_where_the_network_acted(screened_run, tmp_path):
    from dataclasses import replace

    from flows.settings import load_settings
    from tests.outputs.test_bilan_document import folder_with_text, render, territory_rows

    for part in ("warehouse", "private"):
        shutil.copytree(screened_run.root / part, tmp_path / part)
    settings = replace(load_settings(), warehouse_dir=tmp_path / "warehouse", private_dir=tmp_path / "private")
    bilan = render(settings, 2019, folder_with_text(tmp_path, "# Où le réseau a agi\n\n{{ territoire }}\n"))
    shown = territory_rows(bilan)
    assert ("63", "Aubière") in shown and "Réunion" in shown[("63", "Aubière")]  # the other meetings are there
    # Ebreuil's meeting and training had a name in their commune: only its workshop is left there.
    assert "Réunion" not in shown[("03", "Ebreuil")] and "Formation" not in shown[("03", "Ebreuil")]
    assert not [value for value in WITHHELD if value.casefold() in bilan.text.casefold()]
    assert not [place for place in shown if "chez" in place[1]]
