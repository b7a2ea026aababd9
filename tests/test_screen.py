"""The screen of text a person can read (flows/screen.py), on one table of cases, in Python and in SQL alike."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import jinja2
import pytest

from flows import screen
from flows.identity import REDACTED
from flows.screen import (
    CONTACT,
    ERASED,
    FORMULA,
    NAME,
    KnownNames,
    SourceFolder,
    folder_label,
    known_names,
    name_key,
    reason,
    screened_label,
    screened_quotes,
    text_key,
    withheld_label,
)
from flows.screen_plugin import Plugin
from flows.settings import DBT_PROJECT_DIR

# Roster rows as typed: (first name, last name).
ROSTER = [("Léa", "Bertrand"), ("Hugo", "MERCIER"), ("Jean-Édouard", "Tournesol-Lebrun"), (None, "Petit"), ("Anne", "McDonald")]

# One table of cases: a text and why the screen withholds it (None: shown as typed).
CASES = [
    ("Formation « La présence éducative sur Internet »", None),
    ("Atelier avec Léa Bertrand", NAME),
    ("Atelier avec BERTRAND Léa", NAME),
    ("Atelier animé par  bertrand   lea", NAME),
    ("Stand de Jean Edouard Tournesol Lebrun", NAME),
    ("Atelier avec Hu\u00adgo MERCIER", NAME),  # soft hyphen: Chromium shows « Hugo MERCIER »
    ("Atelier avec Hugo\u2060 MERCIER", NAME),  # word joiner
    ("Atelier avec Hugo\u200b MERC\u200bIER", NAME),  # zero-width spaces
    ("Atelier avec Hugo M\u0415RCI\u0415R", NAME),  # Cyrillic Е
    ("Atelier avec Ηugo ΜERCIER", NAME),  # Greek Η and Μ
    ("Atelier avec Ｈｕｇｏ ＭＥＲＣＩＥＲ", NAME),  # full-width letters (NFKC)
    ("Retour sur #LéaBertrand", NAME),
    ("Retour sur #leabertrand", NAME),
    ("Atelier chez Mme Bertrand", NAME),
    ("Atelier chez M. Petit", NAME),
    ("Atelier chez M. McDonald", NAME),
    ("Atelier chez Mme MCDONALD", NAME),
    ("Atelier « Le Petit Prince »", None),  # a last name alone is a word, too
    ("Atelier Bertrand et Léandre", None),
    ("Atelier au moulin de Saint-Martin", None),
    ("Inscriptions : lea.bertrand@example.org", CONTACT),
    ("Suivez @pdn03 sur Instagram", CONTACT),
    ("Rappeler au 04 70 12 34 56", CONTACT),
    ("Rappeler au 0470123456", CONTACT),
    ("Rappeler au 06.12.34.56.78", CONTACT),
    ("Rappeler au 06-12-34-56-78", CONTACT),
    ("Rappeler au 06/12/34/56/78", CONTACT),
    ("Rappeler au +33 6 12 34 56 78", CONTACT),
    ("Rappeler au +33 (0)6 12 34 56 78", CONTACT),
    ("Rappeler au 0033 6 12 34 56 78", CONTACT),
    ("Rappeler au 06\u200b12 34 56 78", CONTACT),
    ("Atelier du 06/12/2019 à 14 h 30", None),  # a date and an hour are no phone number
    ("Atelier de 2 h, 12 participants sur 15", None),
    ('=HYPERLINK("http://exemple.invalid","clic")', FORMULA),
    ("+33 6 12 34 56 78", FORMULA),
    ("-Atelier", FORMULA),
    ("@pdn03", FORMULA),
    ("\tAtelier", FORMULA),
    ("\rAtelier", FORMULA),
    ("＝SUM(A1:A2)", FORMULA),  # full-width equals sign: NFKC makes it a formula again
    ("Atelier = réunion", None),
    (f"Atelier animé par {REDACTED}", ERASED),
    ("Réponses au formulaire 1", None),
]


@pytest.fixture(scope="module")
def names() -> KnownNames:
    return KnownNames.from_pairs(ROSTER)


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_python_screen_gives_each_case_its_reason(names, text, expected):
    assert reason(text, names) == expected


def test_keys_ignore_what_a_reader_cannot_see_and_split_hashtags():
    assert name_key("Jean-Pierre D’Arc") == name_key("jean pierre  d'arc") == "jean pierre d arc"
    assert name_key("Hu\u00adgo M\u0415RCIER") == "hugo mercier"
    assert text_key("#LéaBertrand") == "lea bertrand | leabertrand"
    assert text_key("Atelier") == "atelier" and text_key("") is None and text_key(None) is None


def test_an_unknown_person_is_not_withheld_and_no_names_withhold_only_contact_and_formulas():
    assert reason("Atelier avec Ernestine Vauquelin", KnownNames.from_pairs(ROSTER)) is None
    no_names = KnownNames.from_pairs([])
    assert [reason(text, no_names) for text, expected in CASES if expected in (NAME, None)] == [None] * sum(
        expected in (NAME, None) for _, expected in CASES
    )


def test_the_erasure_marker_is_the_one_erasure_writes():
    assert screen.REDACTED == REDACTED


def test_withheld_metadata_gets_a_stable_label_that_tells_two_apart(names):
    assert screened_label("Suivi", "tableur masqué", names) == "Suivi"
    label = screened_label("Suivi Léa Bertrand", "tableur masqué", names)
    assert label == withheld_label("tableur masqué", "Suivi Léa Bertrand") and label.startswith("tableur masqué ")
    assert "bertrand" not in label.lower() and label != screened_label("Suivi Hugo Mercier", "tableur masqué", names)


def test_quoted_values_of_a_message_are_screened_and_the_rest_kept(names):
    message = "Tableur « Suivi Léa Bertrand » : onglet « Activités » introuvable (onglets présents : « Promeneurs »)."
    screened = screened_quotes(message, names)
    assert "Bertrand" not in screened
    assert screened == message.replace("Suivi Léa Bertrand", withheld_label("texte masqué", "Suivi Léa Bertrand"))


def test_a_source_folder_is_published_by_its_screened_name_only(names, tmp_path):
    assert folder_label(tmp_path / "exports", names) == "exports"
    assert folder_label(tmp_path / "Exports Léa Bertrand", names) == "dossier masqué"


def test_prefect_gets_nothing_of_a_source_folder_path(tmp_path):
    from fastapi.encoders import jsonable_encoder

    folder = SourceFolder.of(tmp_path / "Exports Léa Bertrand")
    assert folder.chemin == tmp_path / "Exports Léa Bertrand"
    assert jsonable_encoder({"source_dir": folder}) == {"source_dir": {}}
    assert str(tmp_path) not in repr(folder)


def test_known_names_are_every_roster_name_of_the_raw_history(tmp_path):
    raw = tmp_path / "raw.duckdb"
    assert known_names(raw).patterns == frozenset()
    with duckdb.connect(str(raw)) as con:
        con.execute("create table promeneurs (snapshot_id varchar, nom varchar, prenom varchar)")
        con.execute("insert into promeneurs values ('s1', 'Bertrand', 'Léa'), ('s2', 'Mercier', 'Hugo'), ('s2', null, null)")
    found = known_names(raw)
    assert found.named_in("Atelier de Hugo Mercier") and found.named_in("Atelier de Mme Bertrand")
    assert known_names(raw) is found  # read once while the file does not change


# --- The same table through dbt's SQL: the macros of dbt/macros/donnees_personnelles.sql, rendered as dbt renders
# them, on a DuckDB connection configured by the dbt-duckdb plugin named in dbt/profiles.yml.


def render_macro(call: str) -> str:
    """SQL of a macro call, rendered from the project's macro files with `ref` naming the given relation."""
    macros = (DBT_PROJECT_DIR / "macros" / "donnees_personnelles.sql").read_text(encoding="utf-8")
    return jinja2.Environment().from_string(macros + "{{ " + call + " }}").render(ref=lambda name: name).strip()


@pytest.fixture(scope="module")
def sql(names) -> duckdb.DuckDBPyConnection:
    """A connection as dbt gets it: the plugin registered the screen's functions; the roster as staging keys it."""
    assert "flows.screen_plugin" in (DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8")
    con = duckdb.connect()
    Plugin(name="screen_plugin", plugin_config={}).configure_connection(con)
    con.execute("create table roster (prenom varchar, nom varchar)")
    con.executemany("insert into roster values (?, ?)", ROSTER)
    first, last = render_macro("cle_mots('prenom')"), render_macro("cle_mots('nom')")
    con.execute(f"create view stg_sheets__noms_promeneurs as select {first} as cle_prenom, {last} as cle_nom from roster")
    con.execute(f"create table motifs_noms as {render_macro('motifs_noms()')}")
    con.execute("create table cas (numero integer, texte varchar)")
    con.executemany("insert into cas values (?, ?)", list(enumerate(text for text, _ in CASES)))
    return con


def test_dbt_macros_and_python_give_the_same_reason_for_every_case(sql):
    motif = render_macro("motif_ecran('cas.texte')")
    rows = sql.execute(f"select numero, {motif} from cas order by numero").fetchall()
    assert [motif for _, motif in rows] == [expected for _, expected in CASES]


def test_dbt_shows_metadata_or_its_withheld_label_like_python(sql, names):
    shown = render_macro("filtrer_metadonnee('cas.texte', 'tableur masqué')")
    rows = sql.execute(f"select texte, {shown} from cas order by numero").fetchall()
    assert [shown for _, shown in rows] == [screened_label(text, "tableur masqué", names) for text, _ in rows]


def test_the_sql_screen_of_titles_scales_with_titles_not_with_titles_times_names():
    """National scale: 100,000 titles against a roster of 3,000 people (30,000 name patterns), in seconds."""
    con = duckdb.connect()
    Plugin(name="screen_plugin", plugin_config={}).configure_connection(con)
    con.execute("create table roster as select 'Prénom' || i as prenom, 'Nom' || i as nom from range(3000) t(i)")
    first, last = render_macro("cle_mots('prenom')"), render_macro("cle_mots('nom')")
    con.execute(f"create view stg_sheets__noms_promeneurs as select {first} as cle_prenom, {last} as cle_nom from roster")
    con.execute(f"create table motifs_noms as {render_macro('motifs_noms()')}")
    assert con.execute("select count(*) from motifs_noms").fetchone()[0] == 30000
    con.execute(
        "create table titres as select 'Atelier numéro ' || i || ' à Moulins avec ' || "
        "case when i % 1000 = 0 then 'Prénom' || (i % 3000) || ' NOM' || (i % 3000) else 'les jeunes' end as texte "
        "from range(100000) t(i)"
    )
    motif = render_macro("motif_ecran('titres.texte')")
    started = time.perf_counter()
    withheld = con.execute(f"select count(*) filter (where {motif} = 'nom') from titres").fetchone()[0]
    elapsed = time.perf_counter() - started
    print(f"100000 titres, 30000 motifs : {elapsed:.1f} s")
    assert withheld == 100 and elapsed < 120, elapsed


def test_the_plugin_is_what_dbt_loads(tmp_path: Path):
    from dbt.adapters.duckdb.plugins import BasePlugin

    plugin = BasePlugin.create("flows.screen_plugin")
    con = duckdb.connect()
    plugin.configure_connection(con)
    assert con.execute("select pdn_motif_ecran('=1'), pdn_cle_nom('Léa')").fetchone() == (FORMULA, "lea")
