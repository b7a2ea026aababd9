"""Who an erasure (`pdn oubli`) or an access request (`pdn acces`) is about: their rows in every snapshot.

The person is found with the identity rule of flows/identity.py. By e-mail: their roster rows, the rows
without e-mail that have the same name and structure (the duplicate check pairs them the same way) and
their questionnaire answers. By name: the roster rows of that full name, in either order, refused when
they belong to several people. An address carrying several full names is a mailbox shared by several people:
asked by that address, the request is refused (it would name someone else too); asked by name, the person is
their rows of that address and full name, recorded by their name and structure's keys only (never the
address's, which would quarantine the others), and the mailbox's questionnaire answers, nobody's in
particular, are left. Free-text cells that name them are found too, in every free-text column of
the history (flows/pipeline/land.py FREE_TEXT_COLUMNS): full name, civility and name, address, or a phone
number written in their own rows. Names, addresses and phones stay in memory, never in a log or an error:
the rows found are marked in temporary tables of the caller's connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import pandas as pd

from flows.errors import InputError
from flows.identity import (
    MentionFinder,
    full_name_tokens,
    mention_identities,
    normalised_email,
    person_identity,
    phones_in,
    pseudonym,
)
from flows.pipeline.land import FREE_TEXT_COLUMNS
from flows.sources.contract import normalise_label

# The person's own rows, by table; their answer cells follow their responses.
PERSON_ROWS = ("promeneurs", "reponses", "reponses_cellules")
KEY_PREFIX = 8  # characters of a pseudonymous key shown to the coordinator
# Preselects cells that may hold a phone number (four pairs of digits), before MentionFinder reads them.
PHONE_LIKE = r"[0-9]{2}[ .-]?[0-9]{2}[ .-]?[0-9]{2}[ .-]?[0-9]{2}"


@dataclass(frozen=True)
class SubjectRequest:
    """How the coordinator names the person: their e-mail, or their full name (and structure)."""

    email: str | None = None
    nom: str | None = None
    structure: str | None = None

    @property
    def nature(self) -> str:
        return "email" if self.email else "nom"


@dataclass(frozen=True)
class Person:
    """The person found: pseudonymous keys and mention fingerprints (recorded), needles (memory only)."""

    nature: str
    cle_personne: str  # the key of the identity asked for
    cles: frozenset[str]  # every key their rows carry (e-mail identities, name + structure identities)
    mentions: MentionFinder  # their full name (either order), civility and name, address or phones in free text
    needles: tuple[str, ...]  # normalised fragments of those mentions, to preselect candidate text cheaply
    telephones: bool = False  # whether phone numbers of theirs are looked for too (preselected by PHONE_LIKE)
    adresse_partagee: str | None = None  # the key of a shared address: their rows are those of it and `cles`


@dataclass(frozen=True)
class TabCount:
    """Rows of the person in one tab: how many, in how many copies and syncs, from when to when."""

    table_name: str
    tableur: str
    onglet: str
    lignes: int
    instantanes: int
    syncs: int
    premiere_copie: object
    derniere_copie: object


def _needles(names: set[tuple[str, str]], addresses: set[str]) -> tuple[str, ...]:
    """The longest plain run of each surname (« Mme Quintard » has no first name), and each address: a text
    naming the person contains one of them."""
    needles = set(addresses)
    for _, last in names:
        runs = re.findall(r"[a-z0-9]+", normalise_label(last))
        needles |= {max(runs, key=len)} if runs else set()
    return tuple(sorted(needles))


def _person(
    nature: str, cle: str, keys: set[str], names: set, addresses: set, phones: set[str], key: bytes,
    shared: str | None = None,
) -> Person:
    identities = mention_identities(names, addresses, phones)
    fingerprints = frozenset(pseudonym(identity, key) for identity in identities)
    return Person(
        nature, cle, frozenset(keys), MentionFinder(fingerprints, key), _needles(names, addresses), bool(phones),
        shared,
    )


_BYTE_ESCAPES = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")


def mentions_in(text: str, person: Person) -> bool:
    """Whether `text` (a file) names the person; byte escapes such as \\xc3\\xa9 are read as UTF-8 too."""
    unescaped = _BYTE_ESCAPES.sub(lambda m: bytes.fromhex(m[0].replace("\\x", "")).decode("utf-8", "replace"), text)
    for version in {text, unescaped}:
        plain = normalise_label(version)
        candidate = any(needle in plain for needle in person.needles) or (person.telephones and phones_in(version))
        if candidate and person.mentions.spans(version):
            return True
    return False


# --- Finding the person ----------------------------------------------------------------------------------------


def _roster(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every distinct roster identity of the history (a person appears once per spelling, not per snapshot)."""
    return con.execute(
        "select distinct nom, prenom, email, structure, departement, cle_promeneur, cle_nom_structure "
        "from promeneurs where cle_promeneur is not null"
    ).df()


def _names(rows: pd.DataFrame) -> set[tuple[str, str]]:
    return {
        (str(first).strip(), str(last).strip())
        for first, last in rows[["prenom", "nom"]].itertuples(index=False)
        if first is not None and last is not None and str(first).strip() and str(last).strip()
    }


def _full_names(rows: pd.DataFrame) -> pd.Series:
    """Each row's full name as the identity rule compares it: its words, in any order."""
    names = [full_name_tokens(f"{nom or ''} {prenom or ''}") for nom, prenom in zip(rows["nom"], rows["prenom"])]
    return pd.Series(names, index=rows.index, dtype=object)


def _shared_by(rows: pd.DataFrame) -> int:
    """How many full names the rows of one address carry (more than one: a shared mailbox)."""
    return len({name for name in _full_names(rows) if name})


def _addresses(rows: pd.DataFrame) -> set[str]:
    return {address for address in rows["email"].map(normalised_email) if address}


def _ambiguous(people: dict[str, pd.DataFrame]) -> InputError:
    """Several people have that name: described by key, department and e-mail or not, never by name."""
    lines = []
    for n, (key, rows) in enumerate(sorted(people.items()), start=1):
        departements = ", ".join(sorted(set(rows["departement"].dropna().map(str)))) or "non renseigné"
        email = "avec" if (rows["cle_promeneur"] != rows["cle_nom_structure"]).any() else "sans"
        lines.append(f"  - personne {n} (clé {key[:KEY_PREFIX]}) : département {departements}, {email} adresse e-mail")
    return InputError(
        f"Ce nom correspond à {len(people)} personnes différentes (structures ou adresses différentes) : rien n'a été "
        "fait.\n" + "\n".join(lines) + "\nRelancez avec --email ADRESSE (l'adresse de la personne dans le tableur), ou "
        "précisez la structure avec --structure."
    )


def _own_phones(con: duckdb.DuckDBPyConnection, keys: set[str]) -> set[str]:
    """The phone numbers written anywhere in the person's own rows: roster rows, responses and their answers."""
    rows = con.execute("select * from promeneurs where cle_promeneur in (select unnest(?))", [sorted(keys)]).fetchall()
    rows += con.execute("select * from reponses where cle_repondant in (select unnest(?))", [sorted(keys)]).fetchall()
    rows += con.execute(
        "select c.colonne, c.valeur from reponses_cellules as c inner join reponses as r "
        "on r.snapshot_id = c.snapshot_id and r.numero_ligne = c.numero_ligne "
        "where r.cle_repondant in (select unnest(?))",
        [sorted(keys)],
    ).fetchall()
    return {phone for row in rows for value in row if isinstance(value, str) for phone in phones_in(value)}


def _by_email(con: duckdb.DuckDBPyConnection, roster: pd.DataFrame, request: SubjectRequest, key: bytes) -> Person:
    identity = person_identity(request.email)
    if identity is None:
        raise InputError("L'adresse e-mail donnée n'est pas une adresse valide (forme attendue : nom@domaine).")
    email_key = pseudonym(identity, key)
    own = roster[roster["cle_promeneur"] == email_key]
    if (people := _shared_by(own)) > 1:
        raise InputError(
            f"Cette adresse est partagée par {people} personnes (noms différents dans la liste des Promeneurs) : "
            "rien n'a été fait. Relancez avec --nom « Prénom Nom » (et --structure si besoin)."
        )
    name_keys = set(own["cle_nom_structure"].dropna())
    addresses = _addresses(own) | {identity.removeprefix("email:")}
    keys = {email_key} | name_keys
    return _person("email", email_key, keys, _names(own), addresses, _own_phones(con, keys), key)


def _by_name(con: duckdb.DuckDBPyConnection, roster: pd.DataFrame, request: SubjectRequest, key: bytes) -> Person:
    wanted = full_name_tokens(request.nom)
    if not wanted:
        raise InputError("Le nom donné est vide : indiquez « Prénom Nom ».")
    names = [full_name_tokens(f"{nom or ''} {prenom or ''}") for nom, prenom in zip(roster["nom"], roster["prenom"])]
    same_name = roster[[name == wanted for name in names]]
    if request.structure:
        structure = normalise_label(request.structure)
        same_name = same_name[same_name["structure"].map(lambda s: normalise_label(str(s or "")) == structure)]
    if same_name.empty:
        raise _not_found()
    with_email = same_name[same_name["cle_promeneur"] != same_name["cle_nom_structure"]]
    # A person is an e-mail identity, or a name + structure never seen with an e-mail.
    people = dict(list(with_email.groupby("cle_promeneur")))
    without_email = same_name[~same_name["cle_nom_structure"].isin(with_email["cle_nom_structure"])]
    people |= dict(list(without_email.groupby("cle_promeneur")))
    if len(people) > 1:
        raise _ambiguous(people)
    (person_key,) = people
    own = roster[roster["cle_promeneur"] == person_key]
    if _shared_by(own) > 1:  # their rows of that mailbox, by the keys of their name and structure only
        own = own[_full_names(own).map(lambda name: name == wanted)]
        keys = set(own["cle_nom_structure"].dropna())
        names = _names(own)
        return _person("nom", min(keys), keys, names, _addresses(own), _own_phones(con, keys), key, person_key)
    keys = {person_key} | set(own["cle_nom_structure"].dropna())
    names = _names(own) | _names(same_name)
    return _person("nom", person_key, keys, names, _addresses(own), _own_phones(con, keys), key)


def _not_found() -> InputError:
    return InputError(
        "Personne introuvable dans l'historique brut (liste des Promeneurs et réponses au questionnaire) : rien n'a "
        "été fait. Vérifiez l'orthographe, ou essayez avec --email (ou --nom)."
    )


def find_person(con: duckdb.DuckDBPyConnection, request: SubjectRequest, key: bytes) -> Person:
    """The person the request names, with every key their rows carry; InputError when nobody or several.

    Someone only named in free text (not a Promeneur, no answer) is found by e-mail too."""
    roster = _roster(con)
    person = _by_email(con, roster, request, key) if request.email else _by_name(con, roster, request, key)
    mark_rows(con, person)
    marked = "select count(*) from personne_lignes union all select count(*) from personne_mentions"
    if not any(count for (count,) in con.execute(marked).fetchall()):
        raise _not_found()
    return person


# --- Marking their rows -------------------------------------------------------------------------------------------


def mark_rows(con: duckdb.DuckDBPyConnection, person: Person) -> None:
    """Temporary tables personne_lignes (their own rows) and personne_mentions (cells naming them elsewhere)."""
    keys = sorted(person.cles)
    con.execute("create or replace temp table personne_lignes (table_name varchar, rid bigint)")
    for table, column in (("promeneurs", "cle_promeneur"), ("reponses", "cle_repondant")):
        con.execute(
            f"insert into personne_lignes select '{table}', rowid from {table} where {column} in (select unnest(?))",
            [keys],
        )
    if person.adresse_partagee:  # their rows of a shared mailbox: that address, their name and structure
        con.execute(
            "insert into personne_lignes select 'promeneurs', rowid from promeneurs "
            "where cle_promeneur = ? and cle_nom_structure in (select unnest(?))",
            [person.adresse_partagee, keys],
        )
    con.execute(
        """insert into personne_lignes
        select 'reponses_cellules', cellules.rowid
        from reponses_cellules as cellules
        inner join reponses
            on reponses.snapshot_id = cellules.snapshot_id and reponses.numero_ligne = cellules.numero_ligne
        where reponses.rowid in (select rid from personne_lignes where table_name = 'reponses')"""
    )
    mark_mentions(con, person)


def mark_mentions(con: duckdb.DuckDBPyConnection, person: Person) -> None:
    """Temporary table personne_mentions: every free-text cell of the history naming them, outside their own rows
    (personne_lignes, which the caller has created)."""
    con.execute("create or replace temp table personne_mentions (table_name varchar, colonne varchar, rid bigint)")
    for table, columns in FREE_TEXT_COLUMNS.items():
        for column in columns:
            _mark_mentions(con, person, table, column)


def redact_marked(con: duckdb.DuckDBPyConnection, person: Person) -> None:
    """Replace their mentions by « [effacé] » in the cells marked in personne_mentions."""
    for table, column, rid in con.execute("select * from personne_mentions").fetchall():
        value = con.execute(f"select {column} from {table} where rowid = ?", [rid]).fetchone()[0]
        con.execute(f"update {table} set {column} = ? where rowid = ?", [person.mentions.redact(value), rid])


def people_named(
    keys: set[str], names: set[tuple[str, str]], addresses: set[str], phones: set[str], key: bytes
) -> Person:
    """Several people at once, by what names them (`pdn purger`'s departed Promeneurs): no key of a request."""
    return _person("groupe", "", keys, names, addresses, phones, key)


def _mark_mentions(con: duckdb.DuckDBPyConnection, person: Person, table: str, column: str) -> None:
    """Mark the cells of one free-text column that mention the person (cheap SQL preselection, then the finder)."""
    text = f"strip_accents(lower(cast({column} as varchar)))"
    tests = [f"{text} like ?" for _ in person.needles]
    parameters = [f"%{needle}%" for needle in person.needles]
    if person.telephones:
        tests.append(f"regexp_matches(cast({column} as varchar), ?)")
        parameters.append(PHONE_LIKE)
    if not tests:
        return
    candidates = con.execute(
        f"select rowid, cast({column} as varchar) from {table} where {column} is not null and ({' or '.join(tests)}) "
        "and rowid not in (select rid from personne_lignes where table_name = ?)",
        [*parameters, table],
    ).fetchall()
    found = [(table, column, rid) for rid, value in candidates if person.mentions.spans(value)]
    if found:
        con.executemany("insert into personne_mentions values (?, ?, ?)", found)


def tables_of_copies(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables whose rows belong to a copy of a tab (a snapshot_id): the others are counted apart."""
    found = con.execute("select distinct table_name from duckdb_columns() where column_name = 'snapshot_id'")
    return {table for (table,) in found.fetchall()}


def mentions_outside_copies(con: duckdb.DuckDBPyConnection) -> int:
    """Cells naming them in tables that belong to no copy (the frozen figures of closed years)."""
    tables = sorted(tables_of_copies(con))
    return con.execute(
        "select count(*) from personne_mentions where table_name not in (select unnest(?::varchar[]))", [tables]
    ).fetchone()[0]


def tab_counts(con: duckdb.DuckDBPyConnection) -> list[TabCount]:
    """The marked rows per tab (own rows, then cells naming them), with their copies and syncs: counts only."""
    copies = tables_of_copies(con)
    marked = [
        f"select '{table}' as table_name, snapshot_id from {table} "
        f"where rowid in (select rid from personne_lignes where table_name = '{table}')"
        for table in PERSON_ROWS
    ] + [
        f"select 'mentions_{table}' as table_name, snapshot_id from {table} "
        f"where rowid in (select rid from personne_mentions where table_name = '{table}')"
        for table in FREE_TEXT_COLUMNS
        if table in copies
    ]
    rows = con.execute(
        f"""with
        marked as ({' union all '.join(marked)}),
        per_snapshot as (select table_name, snapshot_id, count(*) as lignes from marked group by all),
        syncs_of as (select snapshot_id, list(sync_id) as syncs from sync_snapshots group by snapshot_id)
        select
            p.table_name, s.spreadsheet_title, s.tab, sum(p.lignes)::integer, count(*)::integer,
            len(list_distinct(flatten(list(coalesce(y.syncs, []))))), min(s.extracted_at), max(s.extracted_at)
        from per_snapshot as p
        inner join snapshots as s on s.snapshot_id = p.snapshot_id
        left join syncs_of as y on y.snapshot_id = p.snapshot_id
        group by p.table_name, s.spreadsheet_title, s.tab
        order by all"""
    ).fetchall()
    return [TabCount(*row) for row in rows]
