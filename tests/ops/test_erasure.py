"""`pdn oubli` and `pdn acces` (RGPD): one person erased everywhere and proven gone, byte by byte; their data
extracted on request. Real runs of `pdn` on a copy of the bundled sample, with their own Prefect database."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from flows.errors import InputError
from flows.identity import name_identity, pseudonym
from flows.settings import SAMPLE_DIR, load_settings
from flows.sources.contract import PROMENEURS, REPONSES, map_header
from tests.conftest import PSEUDONYM_KEY_FOR_TESTS, cold_pdn, use_warehouse
from tests.prefect_service import PrefectService

ROSTER = "Suivi - Promeneurs.csv"
ACTIVITIES = "Suivi - Activités.csv"
QUESTIONNAIRES = tuple(f"Questionnaire {year} - Réponses au formulaire 1.csv" for year in (2019, 2020))
ERASED_REASON = "Personne ayant demandé l'effacement de ses données"
ERASED_PHONE = ("06 12 34 56 78", "+33 6 12 34 56 78")  # in the erased person's remarks, then in a comment
ORGANISATION = "Réseau des Promeneurs du Net, copie de test"  # the exports' own sources.toml
ACTION_DAY = "2020-01-15"  # the action whose title and commune name the erased person (added to the exports)
# A Promeneur in the roster of the first sync only, and an action whose title names her (in both syncs).
LEFT = {"Prènom": "Zélie", "NOM": "Quintard", "E-mail": "zelie.quintard@example.org", "Structure": "MJC de Riom",
        "Commune": "Riom", "Departement": "63", "Type de Structure": "MJC", "profil": "Animateur enfance/jeunesse",
        "Date de signature de la Charte": "12/09/2019"}
LEFT_ACTION_DAY = "2020-01-20"


# --- The people, read from the sample ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SamplePerson:
    prenom: str
    nom: str
    email: str
    departement: str
    roster_rows: int  # rows of the sample roster with their e-mail
    responses: int  # responses of the sample questionnaires with their e-mail
    phones: tuple[str, ...] = ()  # as written in the exports

    def needles(self) -> list[bytes]:
        """What must not remain anywhere: address, full name both ways, the surname (unique in the sample, so
        « Mme X » too), and their phone whatever its separators."""
        texts = [self.email, f"{self.prenom} {self.nom}", f"{self.nom} {self.prenom}", self.nom]
        texts += [form for phone in self.phones for form in (phone, phone.replace(" ", ""), phone.replace(" ", "."))]
        return [text.lower().encode("utf-8") for text in texts]


def _read(file_name: str, contract) -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE_DIR / file_name, header=None, dtype=str, keep_default_na=False)
    positions = map_header(frame.iloc[0].tolist(), contract, "test").contract_positions
    return pd.DataFrame({field: frame.iloc[1:, position].str.strip() for field, position in positions.items()})


def sample_people() -> list[SamplePerson]:
    """Promeneurs active since 2018 in 03 or 63 who answered the questionnaire, whose surname is nowhere else."""
    roster = _read(ROSTER, PROMENEURS)
    answers = pd.concat([_read(name, REPONSES) for name in QUESTIONNAIRES])["email"].str.lower()
    files = (ROSTER, ACTIVITIES, *QUESTIONNAIRES)
    every_text = "\n".join((SAMPLE_DIR / name).read_text(encoding="utf-8").lower() for name in files)
    people = []
    for row in roster.itertuples():
        email = row.email.lower()
        if not (
            email and row.departement in ("03", "63") and not row.date_sortie
            and re.fullmatch(r"\d\d/\d\d/2018", row.date_signature_charte)
            and (answers == email).any() and every_text.replace(email, "").count(row.nom.lower()) == 1
        ):
            continue
        rows, responses = int((roster["email"].str.lower() == email).sum()), int((answers == email).sum())
        people.append(SamplePerson(row.prenom, row.nom, row.email, row.departement, rows, responses))
    assert len(people) >= 3, "the sample has people to erase and to extract"
    return people


ERASED, EXTRACTED, BY_NAME = sample_people()[:3]
ERASED = SamplePerson(**{**ERASED.__dict__, "phones": ERASED_PHONE[:1]})


def rewrite(path: Path, edit) -> list[list[str]]:
    """Rewrite a CSV export after `edit(rows)` changed its rows in place; return the rows."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    edit(rows)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)
    return rows


def name_in_the_activity_log(rows: list[list[str]]) -> None:
    """The activity log names people as coordinators write: full name in comments, a civility and the surname in
    a title, first name and surname in a commune, the surname in a public, a phone number in a comment."""
    header = rows[0]
    comment = header.index("Commentaire")
    rows[1][comment] = f"Animée avec {ERASED.prenom} {ERASED.nom}"
    rows[2][comment] = f"Contact : {EXTRACTED.nom.upper()} {EXTRACTED.prenom} ({EXTRACTED.email})"
    cells = {"Date": "15/01/2020", "Type d’action": "Atelier", "Département": "63",
             "Intitule": f"Atelier animé par Mme {ERASED.nom}", "Commune": f"Riom chez {ERASED.prenom} {ERASED.nom}",
             "Public": "Jeunes", "Participants": "12", "Commentaire": f"Rappeler au {ERASED_PHONE[1]}"}
    rows.append([cells.get(name.strip(), "") for name in header])
    rows.append([{"Date": "22/01/2020", "Type d’action": "Comité technique", "Département": "63", "Commune": "Riom",
                  "Public": f"Partenaires, M. {ERASED.nom}", "Participants": "8"}.get(name.strip(), "")
                 for name in header])


def give_the_erased_person_a_phone(rows: list[list[str]]) -> None:
    """Their own roster rows hold their phone number in the free column « Remarques »."""
    remarks, email = rows[0].index("Remarques"), rows[0].index("E-mail")
    for row in rows[1:]:
        if row[email].lower() == ERASED.email.lower():
            row[remarks] = f"Joignable au {ERASED_PHONE[0]}"


def add_the_left_promeneur(rows: list[list[str]]) -> None:
    rows.append([LEFT.get(name.strip(), "") for name in rows[0]])


def remove_the_left_promeneur(rows: list[list[str]]) -> None:
    rows[:] = [row for row in rows if LEFT["E-mail"] not in row]


def name_the_left_promeneur_in_a_title(rows: list[list[str]]) -> None:
    cells = {"Date": "20/01/2020", "Type d’action": "Formation", "Département": "63",
             "Intitule": f"Formation animée par Mme {LEFT['NOM']}", "Commune": "Clermont-Ferrand",
             "Public": "Promeneurs", "Participants": "9", "Durée (Jours)": "1"}
    rows.append([cells.get(name.strip(), "") for name in rows[0]])


def prepare_exports(exports: Path) -> list[int]:
    """The sample, with the rows above and its own organisation; returns the activity lines naming the erased."""
    rows = rewrite(exports / ACTIVITIES, name_in_the_activity_log)
    rewrite(exports / ACTIVITIES, name_the_left_promeneur_in_a_title)
    rewrite(exports / ROSTER, give_the_erased_person_a_phone)
    rewrite(exports / ROSTER, add_the_left_promeneur)
    config = exports / "sources.toml"
    config.write_text(re.sub(r'organisation = ".*"', f'organisation = "{ORGANISATION}"',
                             config.read_text(encoding="utf-8")), encoding="utf-8")
    return [2, len(rows) - 1, len(rows)]


# --- Scanning bytes -------------------------------------------------------------------------------------------


def found_in_files(folders: list[Path], person: SamplePerson) -> dict[str, list[str]]:
    """Every file under `folders` holding one of the person's strings (bytes, case-blind for ASCII)."""
    found = {}
    for folder in folders:
        for path in (p for p in folder.rglob("*") if p.is_file()):
            content = path.read_bytes().lower()
            hits = [needle.decode() for needle in person.needles() if needle in content]
            if hits:
                found[str(path)] = hits
    return found


def indicators(published_db: Path) -> dict[tuple, float]:
    with duckdb.connect(str(published_db), read_only=True) as con:
        rows = con.execute("select annee, departement, indicateur, valeur from bilan.indicateurs_annuels").fetchall()
    return {(annee, departement, indicateur): valeur for annee, departement, indicateur, valeur in rows}


def pdn(args: list[str], root: Path, server: PrefectService) -> subprocess.CompletedProcess:
    """`pdn ARGS` in a process of its own, its flow runs recorded by `server` (whose database the scan covers)."""
    process = cold_pdn(args, root, server.home, PREFECT_API_URL=server.url)
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def detailed_action(published_db: Path, day: str = ACTION_DAY) -> tuple:
    """The published row of the action of that day (by default, the one naming the erased person)."""
    with duckdb.connect(str(published_db), read_only=True) as con:
        return con.execute(
            "select intitule, intitule_masque, commune, commune_masquee, participants from bilan.actions_detaillees "
            "where date_action = ?", [day]
        ).fetchone()


def published_modes(warehouse_dir: Path) -> dict[str, int]:
    """Permissions of what a sync publishes: the warehouse file, the bilans and exports, the run reports."""
    files = [warehouse_dir / "pdn.duckdb", *(warehouse_dir / "rapports").rglob("*"), *(warehouse_dir / "runs").glob("*")]
    return {str(path.relative_to(warehouse_dir)): path.stat().st_mode & 0o777 for path in files if path.is_file()}


def bilan_pages(warehouse_dir: Path) -> str:
    """Every bilan page a sync wrote (the quality page is not the bilan: it explains the markers)."""
    pages = sorted((warehouse_dir / "rapports").glob("bilan-*.html"))
    assert pages
    return "\n".join(path.read_text(encoding="utf-8") for path in pages)


# --- One history, two syncs, an erasure, a sync after it (module-scoped: each run costs ~20 s) -----------------------


@dataclass
class ErasedWorld:
    root: Path
    prefect_home: Path
    before: dict
    after: dict
    after_next_sync: dict
    erasure: subprocess.CompletedProcess
    erasure_seconds: float
    next_sync: subprocess.CompletedProcess
    found_before: dict
    found_after: dict
    found_after_next_sync: dict
    lines_naming_them: list[int]  # activity lines naming the erased person
    action_before: tuple  # the published row of the action naming them, before and after the erasure
    action_after: tuple
    pages_before: str  # every bilan page written, before and after the erasure
    pages_after: str
    modes_before: dict  # permissions of the published files, before and after the erasure
    modes_after: dict
    raw_sizes: tuple[int, int]  # raw.duckdb before and after the erasure
    left_action: tuple = ()  # the published action naming a Promeneur who left the roster before the last sync

    def report(self, run_id: str) -> dict:
        return json.loads((self.root / "warehouse" / "runs" / f"{run_id}.json").read_text(encoding="utf-8"))

    def latest_report(self) -> dict:
        return json.loads((self.root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> ErasedWorld:
    base = tmp_path_factory.mktemp("oubli")
    root, prefect_home, exports = base / "entrepot", base / "prefect-home", base / "exports"
    shutil.copytree(SAMPLE_DIR, exports)
    lines = prepare_exports(exports)
    # One Prefect server for the four runs (each would start a temporary one); its database is in the scanned home.
    server = PrefectService(prefect_home)
    server.start_server()
    try:
        return erased_world(root, prefect_home, exports, lines, server)
    finally:
        server.stop()


def erased_world(root: Path, prefect_home: Path, exports: Path, lines: list[int], server: PrefectService) -> ErasedWorld:
    """Two syncs, the erasure, a sync after it; what every file holds at each step."""
    folders = [root, prefect_home]  # the exports are the coordinator's sheets: they keep the person
    for n in range(2):
        if n == 1:  # she left: the second sync's roster no longer has her
            rewrite(exports / ROSTER, remove_the_left_promeneur)
        run = pdn(["sync", "--source", str(exports)], root, server)
        assert run.returncode == 0, run.stdout + run.stderr
    warehouse, raw = root / "warehouse", root / "private" / "raw.duckdb"
    published = warehouse / "pdn.duckdb"
    before, found_before = indicators(published), found_in_files(folders, ERASED)
    action_before, pages_before, modes_before = detailed_action(published), bilan_pages(warehouse), published_modes(warehouse)
    raw_before = raw.stat().st_size
    left_action = detailed_action(published, LEFT_ACTION_DAY)

    started = time.perf_counter()
    erasure = pdn(["oubli", "--email", ERASED.email.upper(), "--oui", "--source", str(exports)], root, server)
    seconds = time.perf_counter() - started
    assert erasure.returncode == 0, erasure.stdout + erasure.stderr
    after, found_after = indicators(published), found_in_files(folders, ERASED)
    action_after, pages_after, modes_after = detailed_action(published), bilan_pages(warehouse), published_modes(warehouse)
    raw_after = raw.stat().st_size

    next_sync = pdn(["sync", "--source", str(exports)], root, server)  # the sheet still holds them
    assert next_sync.returncode == 0, next_sync.stdout + next_sync.stderr
    return ErasedWorld(root, prefect_home, before, after, indicators(published), erasure, seconds, next_sync,
                       found_before, found_after, found_in_files(folders, ERASED), lines, action_before, action_after,
                       pages_before, pages_after, modes_before, modes_after, (raw_before, raw_after), left_action)


@pytest.fixture
def settings(world, monkeypatch):
    use_warehouse(monkeypatch, world.root)
    return load_settings()


# --- Erasure ---------------------------------------------------------------------------------------------------------


def test_the_scan_finds_the_person_before_the_erasure(world):
    raw = str(world.root / "private" / "raw.duckdb")
    assert {ERASED.email.lower(), ERASED.nom.lower(), ERASED_PHONE[0]} <= set(world.found_before[raw])


def test_no_byte_of_the_name_or_email_remains_in_any_file_after_the_erasure(world):
    files = {Path(p).name for p in world.found_after}
    assert world.found_after == {}, files
    scanned = {p.name for folder in (world.root, world.prefect_home) for p in folder.rglob("*") if p.is_file()}
    # The scan covered what matters: raw history, private build, published file, run reports, dbt logs, Prefect.
    assert {"raw.duckdb", "work.duckdb", "pdn.duckdb", "dernier.json", "dbt.log", "prefect.db"} <= scanned
    assert not (world.root / "private" / "raw.duckdb.wal").exists()
    assert (world.root / "private" / "raw.duckdb").stat().st_mode & 0o777 == 0o600


def test_erasure_shows_counts_per_tab_never_the_person(world):
    out = world.erasure.stdout
    copies = "dans 2 copies (2 synchronisations"
    assert f"Suivi / Promeneurs : {2 * ERASED.roster_rows} lignes de la liste des Promeneurs, {copies}" in out
    assert f"{2 * ERASED.responses} réponse" in out and "cellules de réponse" in out
    # Three rows in both copies: a comment (full name); a title (civility), a commune (full name) and a comment
    # (phone); a public (civility).
    assert "Suivi / Activités : 6 textes libres qui la nomment" in out
    assert re.search(r"Effacement \S+ enregistré le .* \(clé [0-9a-f]{8}, ni nom ni adresse\)", out)
    for text in (world.erasure.stdout + world.erasure.stderr, world.next_sync.stdout):
        assert not [n for n in ERASED.needles() if n in text.lower().encode()]


def test_a_title_and_a_commune_naming_the_erased_person_stay_withheld_after_the_erasure(world):
    withheld = (None, True, None, True, 12)  # title and commune withheld, the action still published and counted
    assert world.action_before == withheld and world.action_after == withheld
    for pages in (world.pages_before, world.pages_after):
        assert "15/01/2020" in pages  # the action is in the bilan written after the sync, without its details
        assert "Atelier animé par" not in pages and "Riom chez" not in pages


def test_a_name_gone_from_the_roster_since_an_earlier_sync_still_withholds_the_title_naming_her(world):
    # « Formation animée par Mme Quintard »: she is in the first sync's roster only; the published second sync
    # still withholds the title (the commune names nobody: published).
    assert world.left_action == (None, True, "Clermont-Ferrand", False, 9)


def test_every_free_text_of_the_history_loses_her_mentions_and_the_private_build_is_rebuilt(world):
    with duckdb.connect(str(world.root / "private" / "raw.duckdb"), read_only=True) as con:
        action, public = (
            con.execute(
                "select intitule, commune, public, commentaire from activites where numero_ligne = ? order by all",
                [line],
            ).fetchall()
            for line in world.lines_naming_them[1:]
        )
    # Two copies before the erasure, one landed after it from the sheet that still names her: all redacted.
    assert action == [("Atelier animé par [effacé]", "Riom chez [effacé]", "Jeunes", "Rappeler au [effacé]")] * 3
    assert [row[2] for row in public] == ["Partenaires, [effacé]"] * 3
    build = world.root / "private" / "build" / "work.duckdb"
    assert build.exists() and str(build) not in world.found_after


def test_published_files_keep_the_permissions_a_sync_gives_them(world):
    umask = os.umask(0)
    os.umask(umask)
    assert world.modes_before["pdn.duckdb"] == 0o666 & ~umask  # what a sync leaves (0644 under umask 022)
    assert {name: mode for name, mode in world.modes_after.items() if name in world.modes_before} == world.modes_before
    assert set(world.modes_after) > set(world.modes_before)  # and the republication's own report: the same
    assert set(world.modes_after.values()) == set(world.modes_before.values())


def test_the_republished_bilan_follows_the_sources_of_the_exports_folder_given_with_source(world):
    for pages in (world.pages_before, world.pages_after):
        assert ORGANISATION in pages
        assert "Fédération des Centres Sociaux" not in pages  # the bundled sample's organisation


def test_without_source_the_folder_named_by_the_published_syncs_report_is_used_when_it_exists(warehouse, tmp_path):
    from flows.ops.erasure import published_source_dir

    exports = Path(shutil.copytree(SAMPLE_DIR, tmp_path / "exports"))
    warehouse.runs_dir.mkdir(parents=True)
    for run_id, source in (("avec-chemin", f"fichiers ({exports})"), ("sans-dossier", "fichiers (ailleurs)"),
                           ("sheets", "sheets")):
        (warehouse.runs_dir / f"{run_id}.json").write_text(json.dumps({"source": source}), encoding="utf-8")

    assert published_source_dir(warehouse, "avec-chemin") == exports
    assert [published_source_dir(warehouse, run) for run in ("sans-dossier", "sheets", "inconnu")] == [None] * 3


def test_the_summary_says_when_the_republished_bilan_followed_the_bundled_sample():
    from flows.ops.erasure import ErasurePlan, ErasureSummary, format_erasure

    plan = ErasurePlan("email", "0" * 20, [])
    summary = ErasureSummary("e1", datetime(2026, 1, 5), plan, rapport={"statut": "publie"}, bilan_echantillon=True)

    assert "« pdn rapport --source DOSSIER », ou donnez --source DOSSIER à pdn oubli" in format_erasure(summary)
    summary.bilan_echantillon = False
    assert "--source" not in format_erasure(summary)


def test_the_summary_shows_the_real_sizes_of_the_raw_history(world):
    before, after = (f"{size / 1_000_000:.1f} Mo".replace(".", ",") for size in world.raw_sizes)
    assert f"raw.duckdb : {before} → {after})" in world.erasure.stdout
    assert world.raw_sizes[0] > 0 and world.raw_sizes[1] > 0


def test_figures_are_recomputed_without_the_person_and_those_that_moved_are_listed(world):
    actives = "promeneurs_actifs_fin_annee"
    other = {"03": "63", "63": "03"}[ERASED.departement]
    for departement in (ERASED.departement, "ensemble"):
        assert world.after[(2019, departement, actives)] == world.before[(2019, departement, actives)] - 1
    assert world.after[(2019, other, actives)] == world.before[(2019, other, actives)]
    reports = [json.loads(p.read_text(encoding="utf-8")) for p in (world.root / "warehouse" / "runs").glob("*.json")]
    report = next(r for r in reports if r.get("effacement"))
    assert report["statut"] == "publie" and report["source"].startswith("rejeu de ")
    moved = {(f["annee"], f["departement"], f["indicateur"]): (f["avant"], f["apres"])
             for f in report["indicateurs_modifies"]}
    changed = {key for key in world.before if world.before[key] != world.after[key]}
    assert set(world.before) == set(world.after) and changed
    assert moved == {key: (world.before[key], world.after[key]) for key in changed}
    before, after = world.before[(2019, ERASED.departement, actives)], world.after[(2019, ERASED.departement, actives)]
    assert f"2019 / {ERASED.departement} / {actives} : {before:.0f} → {after:.0f}" in world.erasure.stdout


def test_the_next_sync_quarantines_the_row_still_in_the_sheet_without_copying_it(world):
    report = world.latest_report()
    erased_rows = [row for row in report["quarantaine"] if ERASED_REASON in row["motif"]]
    assert {row["onglet"] for row in erased_rows} == {"Promeneurs", "Réponses au formulaire 1"}
    assert len(erased_rows) == ERASED.roster_rows + ERASED.responses
    assert f"Attention : {len(erased_rows)} ligne(s) de personnes ayant demandé l'effacement" in world.next_sync.stdout
    assert world.after_next_sync == world.after  # still counted in nothing
    assert world.found_after_next_sync == {}  # landed without their name or address


def test_the_action_naming_them_still_counts_with_the_name_redacted(world):
    with duckdb.connect(str(world.root / "private" / "raw.duckdb"), read_only=True) as con:
        comments = con.execute(
            "select a.commentaire from activites as a inner join snapshots as s on s.snapshot_id = a.snapshot_id "
            "where a.numero_ligne = 2 order by s.extracted_at"
        ).fetchall()
    # The two copies taken before the erasure, and the one landed after it from the sheet that still names them.
    assert [row[0] for row in comments] == ["Animée avec [effacé]"] * 3
    # The sync after the erasure names exactly the lines that still name her, in the one tab that does: no
    # other row of any tab is reported (blank cells are not « changed »).
    lines = ", ".join(map(str, world.lines_naming_them))
    events = [event for event in world.latest_report()["evenements"] if "nomme une personne ayant demandé" in event]
    assert events == [f"Suivi / Activités, ligne(s) {lines} : un texte libre nomme une personne ayant demandé "
                      "l'effacement de ses données ; enregistré avec « [effacé] » à la place, corrigez-le dans le "
                      "tableur."]
    activity_figures = {key: value for key, value in world.after.items() if "action" in key[2] or "jours" in key[2]}
    assert activity_figures and activity_figures == {key: world.before[key] for key in activity_figures}


def test_status_lists_the_erasure_record(settings):
    from flows.ops.status import status

    _, text = status(settings)

    assert "Effacements (RGPD, pdn oubli) : 1" in text
    assert re.search(r"clé [0-9a-f]{8}  par adresse e-mail : 2 lignes de la liste des Promeneurs", text)
    assert ERASED.email.lower() not in text.lower() and ERASED.nom.lower() not in text.lower()


def test_unknown_person_exits_2_and_changes_nothing(settings, monkeypatch, capsys):
    from flows.cli import main

    monkeypatch.setattr(sys, "argv", ["pdn"])
    before = sha256(settings.raw_db)

    code = main(["oubli", "--email", "personne.inconnue@example.org", "--oui"])

    assert code == 2 and "Personne introuvable" in capsys.readouterr().err
    assert sha256(settings.raw_db) == before


def test_declined_confirmation_exits_2_and_changes_nothing(settings, monkeypatch, capsys):
    from flows.cli import main

    monkeypatch.setattr(sys, "argv", ["pdn"])
    monkeypatch.setattr("builtins.input", lambda prompt: "non")
    before = sha256(settings.raw_db)

    code = main(["oubli", "--email", BY_NAME.email])

    assert code == 2 and "Effacement annulé : rien n'a été modifié." in capsys.readouterr().err
    assert sha256(settings.raw_db) == before


# --- Erasure by name, on a copy of the history (no republication) ----------------------------------------------------


@pytest.fixture
def raw_copy(world, tmp_path) -> Path:
    return Path(shutil.copy(world.root / "private" / "raw.duckdb", tmp_path / "raw.duckdb"))


def test_erasure_by_name_in_either_order_removes_their_rows_and_records_keys_only(raw_copy):
    from flows.ops.erasure import erase_from_history
    from flows.ops.subject import SubjectRequest

    key = PSEUDONYM_KEY_FOR_TESTS.encode()
    name = f"{BY_NAME.nom.upper()}   {BY_NAME.prenom}"  # surname first, shouted, extra spaces

    effacement_id, plan, _ = erase_from_history(raw_copy, SubjectRequest(nom=name), key, now=datetime(2026, 1, 5))

    assert plan.total("promeneurs") == 3 * BY_NAME.roster_rows and plan.total("reponses") == 3 * BY_NAME.responses
    with duckdb.connect(str(raw_copy), read_only=True) as con:
        record = con.execute(
            "select nature, cle_personne, cles, comptes_json from effacements where effacement_id = ?", [effacement_id]
        ).fetchone()
        left = con.execute("select count(*) from promeneurs where cle_promeneur = ?", [record[1]]).fetchone()[0]
    assert record[0] == "nom" and record[1] == pseudonym(f"email:{BY_NAME.email.lower()}", key) and left == 0
    assert json.loads(record[3])["promeneurs"] == 3 * BY_NAME.roster_rows
    assert BY_NAME.nom.lower().encode() not in raw_copy.read_bytes().lower()


def test_a_name_shared_by_two_people_is_refused_without_naming_them(raw_copy):
    from flows.ops.subject import SubjectRequest, find_person

    key = PSEUDONYM_KEY_FOR_TESTS.encode()
    homonym = name_identity(BY_NAME.nom, BY_NAME.prenom, "Une autre structure")
    with duckdb.connect(str(raw_copy)) as con:
        con.execute(
            "insert into promeneurs (snapshot_id, numero_ligne, nom, prenom, departement, structure, cle_promeneur, "
            "cle_nom_structure) select snapshot_id, 99, ?, ?, '63', 'Une autre structure', ?, ? "
            "from promeneurs limit 1",
            [BY_NAME.nom, BY_NAME.prenom, pseudonym(homonym, key), pseudonym(homonym, key)],
        )
        with pytest.raises(InputError) as refused:
            find_person(con, SubjectRequest(nom=f"{BY_NAME.prenom} {BY_NAME.nom}"), key)
        message = str(refused.value)
        assert "correspond à 2 personnes" in message and "--email" in message
        assert BY_NAME.nom.lower() not in message.lower() and "autre structure" not in message.lower()
        narrowed = SubjectRequest(nom=f"{BY_NAME.prenom} {BY_NAME.nom}", structure="une AUTRE structure")
        assert find_person(con, narrowed, key).cles == {pseudonym(homonym, key)}


def test_private_files_naming_the_person_are_deleted(raw_copy, tmp_path):
    from flows.ops.erasure import forget_files
    from flows.ops.subject import SubjectRequest, find_person

    private = tmp_path / "private"
    (private / "erreurs").mkdir(parents=True)
    (private / "acces").mkdir()
    quoted = repr(f"{BY_NAME.prenom} {BY_NAME.nom}".upper().encode())  # as an error quotes bytes: b'\xc3\x89...'
    (private / "erreurs" / "quotes-them.txt").write_text(f"ConversionException: {quoted}", encoding="utf-8")
    (private / "erreurs" / "other.txt").write_text("ConversionException: b'Jean Personne'", encoding="utf-8")
    (private / "acces" / "extract.txt").write_text(f"Adresse e-mail : {BY_NAME.email}", encoding="utf-8")
    with duckdb.connect(str(raw_copy)) as con:
        person = find_person(con, SubjectRequest(email=BY_NAME.email), PSEUDONYM_KEY_FOR_TESTS.encode())

    assert forget_files(private, person) == 2
    assert [p.name for p in private.rglob("*.txt")] == ["other.txt"]


def test_mentions_are_found_whatever_case_accents_spacing_and_order_from_fingerprints_only():
    from flows.identity import MentionFinder, mention_identities, pseudonym

    key = b"k"
    identities = mention_identities([("Léa", "Bertrand"), ("Aminata", "N’Diaye")], ["lea.bertrand@example.org"])
    finder = MentionFinder(frozenset(pseudonym(identity, key) for identity in identities), key)

    assert finder.redact("Animée avec LEA  bertrand.") == "Animée avec [effacé]."
    assert finder.redact("avec Bertrand Léa, puis N'DIAYE Aminata") == "avec [effacé], puis [effacé]"
    assert finder.redact(["Écrire à Lea.Bertrand@Example.org ?", 3]) == ["Écrire à [effacé] ?", 3]
    assert finder.redact("Léa B. et Marc Bertrand") == "Léa B. et Marc Bertrand"  # not a full name: left alone


# --- Access ---------------------------------------------------------------------------------------------------


def run_access(monkeypatch, capsys, *args: str) -> tuple[int, str, Path | None]:
    from flows.cli import main

    monkeypatch.setattr(sys, "argv", ["pdn"])
    code = main(["acces", *args])
    out = capsys.readouterr().out
    match = re.search(r"Extrait écrit : (\S+)", out)
    return code, out, Path(match[1]) if match else None


def test_access_extract_lists_exactly_the_persons_rows(settings, monkeypatch, capsys):
    code, out, extract = run_access(monkeypatch, capsys, "--email", EXTRACTED.email)

    assert code == 0 and extract.parent == settings.private_dir / "acces"
    copies = 3  # three syncs of the exports
    assert (
        f"Liste des Promeneurs : {copies * EXTRACTED.roster_rows} ligne(s) ; actions qui la nomment : {copies} ; "
        f"réponses au questionnaire : {copies * EXTRACTED.responses}" in out
    )
    assert EXTRACTED.email.lower() not in out.lower() and EXTRACTED.nom.lower() not in out.lower()
    assert extract.stat().st_mode & 0o777 == 0o600
    text = extract.read_text(encoding="utf-8")
    assert text.count(f"Nom : {EXTRACTED.nom}") == copies * EXTRACTED.roster_rows
    assert text.count(f"Adresse e-mail : {EXTRACTED.email}") == copies * EXTRACTED.responses
    assert "Quels supports utilisez-vous ?" in text and "Commentaire : Contact :" in text
    everyone = set(_read(ROSTER, PROMENEURS)["email"].str.lower()) - {"", EXTRACTED.email.lower()}
    assert [email for email in everyone if email in text.lower()] == []


def test_access_by_name_finds_the_same_rows(monkeypatch, capsys, settings):
    _, by_email, _ = run_access(monkeypatch, capsys, "--email", EXTRACTED.email)
    unaccented = "".join(c for c in unicodedata.normalize("NFKD", EXTRACTED.prenom) if c.isascii())
    code, by_name, _ = run_access(monkeypatch, capsys, "--nom", f"{EXTRACTED.nom.lower()} {unaccented}")

    counts = re.compile(r"Liste des Promeneurs .*")
    assert code == 0 and counts.search(by_name)[0] == counts.search(by_email)[0]


def test_access_after_the_erasure_shows_only_rows_landed_without_their_personal_data(monkeypatch, capsys, settings):
    code, out, extract = run_access(monkeypatch, capsys, "--email", ERASED.email)

    # The sync after the erasure landed their row (still in the sheet) with its key, not its name or address.
    assert code == 0 and f"Liste des Promeneurs : {ERASED.roster_rows} ligne(s) ; actions qui la nomment : 0" in out
    text = extract.read_text(encoding="utf-8")
    assert "Nom :" not in text and ERASED.nom.lower() not in text.lower().replace(ERASED.email.lower(), "")
