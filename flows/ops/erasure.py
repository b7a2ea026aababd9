"""`pdn oubli`: erase one person from the whole raw history on request (RGPD), then republish.

Under the warehouse lock, from start to end:
- their rows (roster, questionnaire responses and answer cells) are deleted from every snapshot, and every
  free-text cell of the history that names them (full name, civility and name, address, a phone number of
  theirs; flows/pipeline/land.py FREE_TEXT_COLUMNS) has the mention replaced by « [effacé] »;
- an erasure record is added (date, pseudonymous keys, counts; never a name or an address): a later sync
  lands a row of theirs still in a sheet without its personal data, and dbt quarantines it;
- the file is rewritten, so that deleted values do not linger in DuckDB's free blocks; the private build
  (built from the history before the erasure) is deleted; error traces and access extracts of the private
  folder that name them are deleted;
- the warehouse is rebuilt from the published sync's snapshots into a fresh private build and republished
  through the normal gate (whose change checks do not block an erasure), listing the figures that moved. The
  republication is a sync like any other: published files get a sync's permissions, and the bilan follows the
  configuration of the folder the published sync read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from flows.errors import InputError, PdnError
from flows.identity import REDACTED
from flows.ops.purge import compact, published_sync_id
from flows.ops.repair import renew_backups
from flows.ops.subject import (
    KEY_PREFIX,
    PERSON_ROWS,
    Person,
    SubjectRequest,
    TabCount,
    find_person,
    mentions_in,
    mentions_outside_copies,
    redact_marked,
    tab_counts,
)
from flows.outputs.report_data import read_run_report
from flows.pipeline.land import SCHEMA_VERSION, ensure_raw_schema, schema_version
from flows.pipeline.publish import remove_build, warehouse_lock
from flows.pipeline.run_report import new_sync_id
from flows.pseudonym_keys import require_history_key
from flows.settings import Settings
from flows.storage import private_umask

# Folders of the private folder whose files may name someone: error traces, access extracts, dbt's logs.
SCANNED_FOLDERS = ("erreurs", "acces", "dbt")
# A run report's source when the sync read a folder of exports (flows/pipeline/sync.py writes « kind (folder) »:
# the folder's name since reports stopped naming paths, its path in reports of earlier releases).
_FOLDER_SOURCE = re.compile(r"^fichiers \((?P<folder>.+)\)$")


@dataclass
class ErasurePlan:
    """What an erasure removes, as the coordinator confirms it: counts per tab and sync, never content."""

    nature: str  # 'email' | 'nom'
    cle_personne: str
    onglets: list[TabCount]
    # Rows still in the spreadsheets the latest sync read: (tableur, onglet, ligne), to delete there too.
    lignes_derniere_sync: list[tuple[str, str, int]] = field(default_factory=list)
    hors_copies: int = 0  # texts naming them outside the copies of tabs (frozen figures, unread tabs' names…)

    def total(self, table_name: str) -> int:
        return sum(count.lignes for count in self.onglets if count.table_name == table_name)

    @property
    def mentions(self) -> int:
        in_copies = sum(count.lignes for count in self.onglets if count.table_name.startswith("mentions_"))
        return in_copies + self.hors_copies

    def as_counts(self) -> dict[str, int]:
        """The counts kept in the erasure record."""
        return {table: self.total(table) for table in PERSON_ROWS} | {"mentions": self.mentions}


@dataclass
class ErasureSummary:
    """What an erasure did; `republication` is the error of the rebuild, if it failed (the erasure stands)."""

    effacement_id: str
    efface_le: datetime
    plan: ErasurePlan
    fichiers_supprimes: int = 0
    octets_avant: int = 0
    octets_apres: int = 0
    rapport: dict | None = None  # the republication's run report
    republication: PdnError | None = None
    dossier_bilan: Path | None = None  # the folder whose sources.toml the republished bilan followed, if any
    bilan_echantillon: bool = False  # no folder and no PDN_SOURCES: the bilan followed the bundled sample's


@dataclass(frozen=True)
class ErasureRecord:
    """One erasure as `pdn etat` lists it."""

    effacement_id: str
    efface_le: datetime
    nature: str
    cle_personne: str
    comptes: dict[str, int]


def _require_history(settings: Settings) -> None:
    if not settings.raw_db.exists():
        raise InputError(f"Aucun historique brut ({settings.raw_db}) : personne à effacer ni à extraire.")


def _latest_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """The person's rows and the cells naming them in the snapshots of the latest sync (sheet row numbers)."""
    latest = (
        "select snapshot_id from sync_snapshots "
        "where sync_id = (select sync_id from syncs order by started_at desc, sync_id desc limit 1)"
    )
    marked = " union all ".join(
        f"select snapshot_id, numero_ligne from {table} where rowid in "
        f"(select rid from {marks} where table_name = '{table}')"
        for table in ("promeneurs", "reponses", "activites", "reponses_cellules", "listes")
        for marks in ("personne_lignes", "personne_mentions")
    )
    return con.execute(
        f"select distinct s.spreadsheet_title, s.tab, m.numero_ligne from ({marked}) as m "
        f"inner join snapshots as s on s.snapshot_id = m.snapshot_id where m.snapshot_id in ({latest}) order by all"
    ).fetchall()


def _plan(con: duckdb.DuckDBPyConnection, person: Person) -> ErasurePlan:
    return ErasurePlan(
        person.nature, person.cle_personne, tab_counts(con), _latest_rows(con), mentions_outside_copies(con)
    )


def preview_erasure(settings: Settings, request: SubjectRequest) -> ErasurePlan:
    """Find the person and count what an erasure would remove, changing no data (under the lock)."""
    _require_history(settings)
    with warehouse_lock(settings.lock_file), duckdb.connect(str(settings.raw_db)) as con:
        if schema_version(con) < SCHEMA_VERSION:  # a history of an earlier release: migrated, as a sync would
            ensure_raw_schema(con, settings.pseudonym_key())
        require_history_key(con, settings.pseudonym_key())  # another key would find nobody, or someone else
        con.execute("begin transaction")
        try:
            return _plan(con, find_person(con, request, settings.pseudonym_key()))
        finally:
            con.execute("rollback")


def _delete_rows(con: duckdb.DuckDBPyConnection) -> None:
    for table in PERSON_ROWS:
        con.execute(
            f"delete from {table} where rowid in (select rid from personne_lignes where table_name = ?)", [table]
        )


def erase_from_history(
    raw_db: Path, request: SubjectRequest, key: bytes, now: datetime
) -> tuple[str, ErasurePlan, Person]:
    """Delete the person from every snapshot, record the erasure and rewrite the file (the caller holds the lock)."""
    effacement_id = new_sync_id()
    with duckdb.connect(str(raw_db)) as con:
        ensure_raw_schema(con, key)
        require_history_key(con, key)
        con.execute("begin transaction")
        try:
            person = find_person(con, request, key)
            plan = _plan(con, person)
            redact_marked(con, person)
            _delete_rows(con)
            con.execute(
                "insert into effacements (effacement_id, efface_le, nature, cle_personne, cles, empreintes, "
                "comptes_json) values (?, ?, ?, ?, ?, ?, ?)",
                [effacement_id, now, person.nature, person.cle_personne, sorted(person.cles),
                 sorted(person.mentions.fingerprints), json.dumps(plan.as_counts())],
            )
        except BaseException:
            con.execute("rollback")
            raise
        con.execute("commit")
        con.execute("checkpoint")
    compact(raw_db)
    return effacement_id, plan, person


def forget_files(private_dir: Path, person: Person) -> int:
    """Delete the error traces, access extracts and dbt logs that name the person; return how many."""
    removed = 0
    for folder in SCANNED_FOLDERS:
        for path in sorted((private_dir / folder).rglob("*")):
            if path.is_file() and mentions_in(path.read_bytes().decode("utf-8", "replace"), person):
                path.unlink()
                removed += 1
    return removed


def forget_build(settings: Settings) -> None:
    """Delete the private build: it was made from the history before the erasure (the republication rebuilds it)."""
    remove_build(settings.build_db)


def published_source_dir(settings: Settings, sync_id: str) -> Path | None:
    """The folder of exports the published sync read, as its run report names it (a path, or a name in the
    current directory), when that folder has a sources.toml; None otherwise."""
    report = read_run_report(settings.runs_dir, sync_id) or {}
    match = _FOLDER_SOURCE.match(str(report.get("source") or ""))
    folder = Path(match["folder"]) if match else None
    return folder if folder is not None and (folder / "sources.toml").is_file() else None


def _republish(
    settings: Settings, effacement_id: str, folder: Path | None
) -> tuple[dict | None, PdnError | None]:
    """Rebuild the published sync without the person and publish it (the caller holds the lock); the bilan
    follows `folder`'s sources.toml (PDN_SOURCES, when set, wins as for any sync)."""
    published = published_sync_id(settings.published_db)
    if published is None:  # nothing published: nothing to rebuild; the next sync builds without them
        return None, None
    from flows.pipeline.sync import nightly_sync
    from flows.screen import SourceFolder

    source = SourceFolder.of(folder) if folder else None  # Prefect stores no path (flows/screen.py)
    try:
        return nightly_sync(source_dir=source, replay=published, effacement=effacement_id), None
    except PdnError as error:
        return getattr(error, "report", None), error


def run_erasure(
    settings: Settings, request: SubjectRequest, now: datetime | None = None, source_dir: Path | None = None
) -> ErasureSummary:
    """`pdn oubli`: erase, rewrite, clean the private folder, rebuild and republish, all under the lock.

    The republished bilan follows `source_dir`'s sources.toml (`pdn oubli --source`), else the folder the
    published sync read, when it can be found."""
    _require_history(settings)
    with warehouse_lock(settings.lock_file):
        before = settings.raw_db.stat().st_size
        now = now or datetime.now()
        with private_umask():  # only the private folder's files: the republication publishes with a sync's rights
            effacement_id, plan, person = erase_from_history(settings.raw_db, request, settings.pseudonym_key(), now)
            forget_build(settings)
            removed = forget_files(settings.private_dir, person)
            renew_backups(settings)  # the backups still hold the person: one copy of the erased history replaces them
        summary = ErasureSummary(
            effacement_id, now, plan, fichiers_supprimes=removed, octets_avant=before,
            octets_apres=settings.raw_db.stat().st_size,
        )
        published = published_sync_id(settings.published_db)
        summary.dossier_bilan = source_dir or (published_source_dir(settings, published) if published else None)
        summary.rapport, summary.republication = _republish(settings, effacement_id, summary.dossier_bilan)
        summary.bilan_echantillon = bool(summary.rapport) and not (summary.dossier_bilan or settings.sources_file)
    return summary


# --- The record, as `pdn etat` lists it ---------------------------------------------------------------------


def erasure_records(raw_db: Path) -> list[ErasureRecord]:
    """Every erasure recorded in the raw history, newest first (none before the registry existed)."""
    if not raw_db.exists():
        return []
    with duckdb.connect(str(raw_db), read_only=True) as con:
        try:
            rows = con.execute(
                "select effacement_id, efface_le, nature, cle_personne, comptes_json from effacements "
                "order by efface_le desc, effacement_id desc"
            ).fetchall()
        except duckdb.CatalogException:
            return []
    return [ErasureRecord(i, when, nature, key, json.loads(counts or "{}")) for i, when, nature, key, counts in rows]


# --- French text: counts only ---------------------------------------------------------------------------------

_WHAT = {
    "promeneurs": ("ligne de la liste des Promeneurs", "lignes de la liste des Promeneurs"),
    "reponses": ("réponse au questionnaire", "réponses au questionnaire"),
    "reponses_cellules": ("cellule de réponse", "cellules de réponse"),
}
_MENTION = ("texte libre qui la nomme", "textes libres qui la nomment")
_NATURE = {"email": "par adresse e-mail", "nom": "par nom"}


def _count(n: int, words: tuple[str, str]) -> str:
    return f"{n} {words[0] if n <= 1 else words[1]}"


def _day(moment: datetime) -> str:
    return f"{moment:%d/%m/%Y}"


def _period(first: datetime, last: datetime) -> str:
    return f"le {_day(first)}" if _day(first) == _day(last) else f"du {_day(first)} au {_day(last)}"


def _tab_line(count: TabCount, cells: int) -> str:
    what = _count(count.lignes, _WHAT.get(count.table_name, _MENTION))
    what += f" ({_count(cells, _WHAT['reponses_cellules'])})" if count.table_name == "reponses" else ""
    copies = _count(count.instantanes, ("copie", "copies"))
    syncs = _count(count.syncs, ("synchronisation", "synchronisations"))
    period = _period(count.premiere_copie, count.derniere_copie)
    return f"  {count.tableur} / {count.onglet} : {what}, dans {copies} ({syncs}, {period})"


def format_plan(plan: ErasurePlan) -> str:
    """What will be removed, for the confirmation: counts per tab and sync."""
    cells = {(c.tableur, c.onglet): c.lignes for c in plan.onglets if c.table_name == "reponses_cellules"}
    key = plan.cle_personne[:KEY_PREFIX]
    lines = [f"Personne trouvée ({_NATURE[plan.nature]}, clé {key}) dans l'historique brut :"]
    lines += [
        _tab_line(count, cells.get((count.tableur, count.onglet), 0))
        for count in plan.onglets
        if count.table_name != "reponses_cellules"
    ]
    if plan.hors_copies:
        other_texts = _count(plan.hors_copies, _MENTION)
        lines.append(f"  Autres textes de l'historique (chiffres figés, onglets non lus…) : {other_texts}")
    lines.append(
        "Ses lignes seront supprimées de toutes les copies ; dans tous les textes libres de l'historique, chaque "
        f"mention d'elle (nom, adresse, téléphone) sera remplacée par « {REDACTED} ». L'entrepôt sera ensuite "
        "reconstruit et republié sans elle."
    )
    return "\n".join(lines)


def format_erasure(summary: ErasureSummary) -> str:
    """A French account of the erasure: counts, record, what the coordinator still has to do."""
    plan = summary.plan
    counts = plan.as_counts()
    size = f"{summary.octets_avant / 1_000_000:.1f} Mo → {summary.octets_apres / 1_000_000:.1f} Mo".replace(".", ",")
    lines = [
        f"Effacement {summary.effacement_id} enregistré le {summary.efface_le:%d/%m/%Y à %H:%M} "
        f"(clé {plan.cle_personne[:KEY_PREFIX]}, ni nom ni adresse).",
        f"  Supprimé de l'historique brut : {_count(counts['promeneurs'], _WHAT['promeneurs'])}, "
        f"{_count(counts['reponses'], _WHAT['reponses'])} "
        f"({_count(counts['reponses_cellules'], _WHAT['reponses_cellules'])}) ; "
        f"{_count(counts['mentions'], _MENTION)} : nom, adresse ou téléphone remplacé par « {REDACTED} ».",
        f"  Fichier réécrit (raw.duckdb : {size}) ; fichiers du dossier privé qui la citaient (traces d'erreur, "
        f"extraits, journaux) supprimés : {summary.fichiers_supprimes}.",
    ]
    if summary.rapport is None and summary.republication is None:
        lines.append("  Aucun entrepôt publié : rien à republier ; la prochaine synchronisation publiera sans elle.")
    if summary.bilan_echantillon:
        lines.append(
            "  Bilan refait avec la configuration de l'échantillon fourni (dossier d'exports introuvable) : relancez "
            "« pdn rapport --source DOSSIER », ou donnez --source DOSSIER à pdn oubli."
        )
    if plan.lignes_derniere_sync:
        places = "; ".join(f"{tableur} / {onglet} ligne {line}" for tableur, onglet, line in plan.lignes_derniere_sync)
        lines.append(
            f"  À faire : supprimez-la aussi des tableurs ({places}). D'ici là, chaque synchronisation met ces lignes "
            "en quarantaine sans les recopier (les textes libres, eux, seraient recopiés : corrigez-les)."
        )
    lines.append(
        "  Les sauvegardes du dossier privé faites avant cet effacement la contiennent encore : effacez-la aussi de "
        "celles que vous gardez, ou laissez-les expirer (voir le guide)."
    )
    return "\n".join(lines)


def format_erasure_records(records: list[ErasureRecord]) -> list[str]:
    """`pdn etat`'s lines about erasures (newest first): date, key prefix, counts."""
    lines = [f"Effacements (RGPD, pdn oubli) : {len(records)}"]
    words = {"promeneurs": _WHAT["promeneurs"], "reponses": _WHAT["reponses"], "mentions": _MENTION}
    for record in records:
        counts = ", ".join(_count(record.comptes.get(table, 0), what) for table, what in words.items())
        key, nature = record.cle_personne[:KEY_PREFIX], _NATURE.get(record.nature, record.nature)
        lines.append(f"  {record.efface_le:%d/%m/%Y %H:%M}  clé {key}  {nature} : {counts}")
    return lines
