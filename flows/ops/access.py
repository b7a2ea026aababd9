"""`pdn acces`: everything the raw history holds about one person, as a French text file to send them (RGPD).

The person is found as for an erasure (flows/ops/subject.py). The extract lists, copy by copy, their roster
fields, the actions of the activity log that name them and their questionnaire answers (question as asked,
answer as given). It is written into the private folder, owner-only; the console shows its path and counts.

What it quotes may name other people (« Contact : Léa Bertrand, lea.bertrand@… », in a comment about them):
every other Promeneur's name (full name either order, civility and name, as landed in any sync), and every
e-mail address or phone number that is not theirs, becomes « [autre personne] ». The rest of the text is
theirs to read: quoting only the part about them would need to understand the sentence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from flows.errors import InputError
from flows.identity import MentionFinder, contact_spans, mention_identities, merged_spans, pseudonym, replace_spans
from flows.ops.subject import KEY_PREFIX, Person, SubjectRequest, find_person
from flows.pipeline.publish import warehouse_lock
from flows.pseudonym_keys import require_history_key
from flows.settings import Settings
from flows.sources.contract import ACTIVITES, PROMENEURS, REPONSES
from flows.storage import private_umask, write_text_atomically

ACCESS_FOLDER = "acces"  # in the private folder; `pdn oubli` deletes the extracts of the person it erases
OTHER_PERSON = "[autre personne]"  # what replaces another person's name, address or phone in quoted text


@dataclass(frozen=True)
class OtherPeople:
    """Who the extract must not name: every other Promeneur by name, and any address or phone not theirs."""

    names: MentionFinder  # other Promeneurs' names (memory only)
    person: MentionFinder  # the person's own mentions: never hidden from them

    def hide(self, value: object) -> object:
        """The value with other people's names, addresses and phones replaced (non-text values as they are)."""
        if not isinstance(value, str):
            return value
        spans = self.names.spans(value) + contact_spans(value)
        others = [(start, end) for start, end in spans if not self.person.spans(value[start:end])]
        return replace_spans(value, merged_spans(others), OTHER_PERSON)


def other_people(con: duckdb.DuckDBPyConnection, person: Person, key: bytes) -> OtherPeople:
    """Every name of the roster history that is not the person's (homonyms included: theirs stays visible)."""
    names = con.execute(
        "select distinct prenom, nom from promeneurs where nullif(trim(prenom), '') is not null "
        "and nullif(trim(nom), '') is not null and cle_promeneur not in (select unnest(?)) "
        "and coalesce(cle_nom_structure not in (select unnest(?)), true)",  # their rows of a shared mailbox
        [sorted(person.cles), sorted(person.cles)],
    ).fetchall()
    fingerprints = frozenset(pseudonym(identity, key) for identity in mention_identities(names, ()))
    return OtherPeople(MentionFinder(fingerprints, key), person.mentions)


@dataclass(frozen=True)
class HeldData:
    """What the history holds about the person, read under the lock."""

    cle_personne: str
    roster: pd.DataFrame
    actions: pd.DataFrame
    responses: pd.DataFrame
    cells: pd.DataFrame
    other_mentions: int
    others: OtherPeople


@dataclass(frozen=True)
class AccessSummary:
    """The extract written, and its counts (what the console shows)."""

    fichier: Path
    lignes_promeneurs: int
    actions: int
    reponses: int
    copies: int


def _marked(con: duckdb.DuckDBPyConnection, table: str, marks: str, order: str) -> pd.DataFrame:
    """The rows of `table` marked in `marks`, with their copy's spreadsheet, tab and extraction time."""
    return con.execute(
        f"select s.extracted_at, s.spreadsheet_title, s.tab, t.* from {table} as t "
        f"inner join snapshots as s on s.snapshot_id = t.snapshot_id "
        f"where t.rowid in (select rid from {marks} where table_name = '{table}') order by s.extracted_at, {order}"
    ).df()


def read_held_data(settings: Settings, request: SubjectRequest) -> HeldData:
    """Find the person and read their rows (under the lock: no sync writes meanwhile)."""
    if not settings.raw_db.exists():
        raise InputError(f"Aucun historique brut ({settings.raw_db}) : aucune donnée détenue.")
    with warehouse_lock(settings.lock_file), duckdb.connect(str(settings.raw_db)) as con:
        require_history_key(con, settings.pseudonym_key())  # rows landed under another key would be missed
        con.execute("begin transaction")
        try:
            person = find_person(con, request, settings.pseudonym_key())
            return HeldData(
                cle_personne=person.cle_personne,
                roster=_marked(con, "promeneurs", "personne_lignes", "t.numero_ligne"),
                actions=_marked(con, "activites", "personne_mentions", "t.numero_ligne"),
                responses=_marked(con, "reponses", "personne_lignes", "t.numero_ligne"),
                cells=_marked(con, "reponses_cellules", "personne_lignes", "t.numero_ligne, t.rowid"),
                other_mentions=con.execute(
                    "select count(*) from personne_mentions where table_name <> 'activites'"
                ).fetchone()[0],
                others=other_people(con, person, settings.pseudonym_key()),
            )
        finally:
            con.execute("rollback")


# --- The French text -------------------------------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return f"{moment:%d/%m/%Y à %H:%M}"


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value) or str(value).strip() == ""


def _fields(row: pd.Series, labels: dict[str, str], others: OtherPeople) -> list[str]:
    """« Label : value » for each filled contract field, then each filled extra column of the row (other
    people hidden)."""
    pairs = [(label, row[name]) for name, label in labels.items() if name in row and not _blank(row[name])]
    extras = row.get("colonnes_extra")
    if not _blank(extras):
        pairs += [(label, value) for label, value in json.loads(extras).items() if not _blank(value)]
    return [f"     {others.hide(label)} : {others.hide(value)}" for label, value in pairs]


def _copy_heading(row: pd.Series) -> str:
    return (
        f"   Copie du {_when(row['extracted_at'])} (tableur « {row['spreadsheet_title']} », onglet « {row['tab']} », "
        f"ligne {row['numero_ligne']})"
    )


def _rows_section(title: str, frame: pd.DataFrame, labels: dict[str, str], others: OtherPeople) -> list[str]:
    lines = [title]
    for _, row in frame.iterrows():
        lines += [_copy_heading(row), *_fields(row, labels, others)]
    return lines


def _responses_section(held: HeldData) -> list[str]:
    lines = [f"3. Vos réponses au questionnaire : {len(held.responses)}"]
    cells = held.cells.groupby(["snapshot_id", "numero_ligne"])
    for _, response in held.responses.iterrows():
        lines.append(_copy_heading(response))
        lines += _fields(response, REPONSES.columns, held.others)
        key = (response["snapshot_id"], response["numero_ligne"])
        answers = cells.get_group(key).itertuples() if key in cells.groups else []
        hide = held.others.hide
        lines += [f"     {hide(a.colonne)} : {hide(a.valeur)}" for a in answers if not _blank(a.valeur)]
    return lines


def _copies(held: HeldData) -> list[str]:
    """Every copy of the history that holds their data, oldest first."""
    frames = [f[["extracted_at", "spreadsheet_title", "tab"]] for f in (held.roster, held.actions, held.responses)]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return []
    copies = pd.concat(frames).drop_duplicates().sort_values(["extracted_at", "spreadsheet_title", "tab"])
    return [f"   - {_when(c.extracted_at)} : {c.spreadsheet_title} / {c.tab}" for c in copies.itertuples()]


def access_text(held: HeldData, request: SubjectRequest, now: datetime, retention_years: int) -> str:
    """The extract, in French, for the person."""
    asked = f"adresse e-mail {request.email.strip()}" if request.email else f"nom « {request.nom.strip()} »"
    copies = _copies(held)
    others = str(held.other_mentions)
    if held.other_mentions:
        others += ", non reproduits ici : ils contiennent les données d'autres personnes"
    roster = f"1. Votre fiche dans la liste des Promeneurs : {len(held.roster)} ligne(s)"
    actions = f"2. Actions du journal des activités qui vous nomment : {len(held.actions)}"
    lines = [
        "Données personnelles détenues à votre sujet par le réseau Promeneurs du Net",
        f"Extrait établi le {_when(now)}, à votre demande (recherche par {asked}).",
        "",
        "Le réseau tient des tableurs de suivi (liste des Promeneurs, journal des activités) et des questionnaires "
        "annuels. Son entrepôt de données en garde une copie à chaque synchronisation, dans un historique privé "
        f"conservé au plus {retention_years} ans ; les indicateurs qu'il publie sont des totaux où personne n'est "
        "nommé.",
        "",
        *_rows_section(roster, held.roster, PROMENEURS.columns, held.others),
        "",
        *_rows_section(actions, held.actions, ACTIVITES.columns, held.others),
        "",
        *_responses_section(held),
        "",
        f"4. Textes libres d'autres lignes qui vous nomment (remarques, réponses d'autres personnes) : {others}.",
        "",
        f"5. Copies de l'historique qui contiennent ces données : {len(copies)}",
        *copies,
        "",
        "Pour faire corriger ou effacer ces données, adressez-vous à la coordination du réseau.",
    ]
    return "\n".join(lines) + "\n"


def write_access_extract(settings: Settings, request: SubjectRequest, now: datetime | None = None) -> AccessSummary:
    """`pdn acces`: write the extract into the private folder (owner-only) and return its counts."""
    now = now or datetime.now()
    held = read_held_data(settings, request)
    target = settings.private_dir / ACCESS_FOLDER / f"acces-{held.cle_personne[:KEY_PREFIX]}-{now:%Y%m%dT%H%M%S}.txt"
    with private_umask():
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_text_atomically(target, access_text(held, request, now, settings.retention_years))
    return AccessSummary(target, len(held.roster), len(held.actions), len(held.responses), len(_copies(held)))


def format_access(summary: AccessSummary) -> str:
    """What the console shows: the file and counts, never its content."""
    return (
        f"Extrait écrit : {summary.fichier}\n"
        f"  Liste des Promeneurs : {summary.lignes_promeneurs} ligne(s) ; actions qui la nomment : {summary.actions} ; "
        f"réponses au questionnaire : {summary.reponses} ; copies de l'historique : {summary.copies}.\n"
        "  Transmettez-le à la personne par un moyen sûr, puis supprimez-le : il contient ses données."
    )
