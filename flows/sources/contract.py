"""The input contract: which tabs and columns the coordinator's spreadsheets must have.

Only the *structure* is resolved here (which sheet column holds which contract field); every cell
value stays text and is typed and normalised in dbt staging. A questionnaire's response sheet has three
fixed columns; every other column is a question, landed as it is and matched to the questionnaire
catalogue (dbt/seeds/questionnaire.csv) in dbt, so that campaigns may differ.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from flows.errors import InputError


@dataclass(frozen=True, eq=False)  # contracts are singletons: compared and hashed by identity
class TableContract:
    """A tab of the contract: its landing table and its columns (raw name -> header label)."""

    table_name: str
    tab_titles: tuple[str, ...]
    columns: dict[str, str]
    spreadsheet_kind: str  # 'suivi' | 'questionnaire'
    optional: frozenset[str] = frozenset()  # columns a tab may lack (free text people delete…)
    tab_optional: bool = False  # a spreadsheet may lack this tab altogether
    # Other headers that hold a column (raw name -> labels): the column's label wins over them, and a second
    # header for a column already found is set aside (neither that column nor an extra one).
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


PROMENEURS = TableContract(
    table_name="promeneurs",
    tab_titles=("Promeneurs",),
    spreadsheet_kind="suivi",
    columns={
        "nom": "Nom",
        "prenom": "Prénom",
        "email": "E-mail",
        "departement": "Département",
        "commune": "Commune",
        "structure": "Structure",
        "type_structure": "Type de structure",
        "profil": "Profil",
        "date_signature_charte": "Date de signature de la charte",
        "date_sortie": "Date de sortie",
    },
)

ACTIVITES = TableContract(
    table_name="activites",
    tab_titles=("Activités",),
    spreadsheet_kind="suivi",
    columns={
        "date": "Date",
        "departement": "Département",
        "type_action": "Type d'action",
        "intitule": "Intitulé",
        "commune": "Commune",
        "public": "Public",
        "participants": "Participants",
        "duree_jours": "Durée (jours)",
        "commentaire": "Commentaire",
    },
    optional=frozenset({"commentaire", "intitule", "public"}),
)

REPONSES = TableContract(
    table_name="reponses",
    # Google Forms names the linked tab after the account's language.
    tab_titles=("Réponses au formulaire 1", "Form Responses 1"),
    spreadsheet_kind="questionnaire",
    columns={
        "horodateur": "Horodateur",
        "email": "Adresse e-mail",
        "departement": "Département",
    },
    # A form that does not collect e-mails has no such column: each answer is then its own respondent.
    optional=frozenset({"email"}),
    # A form that asks the address as a question instead: that answer is the respondent's address (their
    # identity, like a collected one), never a question of the catalogue nor published.
    aliases={
        "email": (
            "E-mail", "Email", "Courriel", "Adresse mail", "Adresse électronique", "Adresse courriel",
            "Votre adresse e-mail", "Votre adresse mail", "Votre e-mail", "Votre courriel",
        )
    },
)

# The coordinator's own additions to the reference lists (flows/sources/lists.py): an optional tab.
LISTES = TableContract(
    table_name="listes",
    tab_titles=("Listes", "Liste", "Listes de référence"),
    spreadsheet_kind="suivi",
    columns={"liste": "Liste", "valeur": "Valeur", "variantes": "Variantes acceptées"},
    optional=frozenset({"variantes"}),
    tab_optional=True,
)

CONTRACTS: tuple[TableContract, ...] = (PROMENEURS, ACTIVITES, REPONSES, LISTES)

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})


class MissingColumns(InputError):
    """A header row lacks required columns (maybe it is not the header row at all)."""


def normalise_label(label: str) -> str:
    """Header/tab matching key: case, accents, apostrophes and spacing do not matter."""
    decomposed = unicodedata.normalize("NFKD", str(label).translate(_APOSTROPHES))
    no_accents = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", no_accents).strip().lower()


def column_letter(index: int) -> str:
    """Spreadsheet column letter of a 0-based index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class HeaderMapping:
    """Where each contract column sits in a tab, and the extra columns kept raw."""

    contract_positions: dict[str, int]  # raw column name -> 0-based sheet column
    extra_positions: dict[str, int]  # unique extra header -> 0-based sheet column


def map_header(header: list[str], contract: TableContract, where: str) -> HeaderMapping:
    """Match a tab's header row against the contract, or raise a French InputError naming `where`."""
    wanted = {normalise_label(label): name for name, label in contract.columns.items()}
    alternatives = {normalise_label(label): name for name, labels in contract.aliases.items() for label in labels}
    positions: dict[str, int] = {}
    by_alias: set[str] = set()  # columns found under an alias so far: their own label replaces it
    extras: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = normalise_label(cell)
        name = wanted.get(key)
        if name is None and key in alternatives:
            name = alternatives[key]
            if name not in positions:
                positions[name] = index
                by_alias.add(name)
            continue
        if name is not None:
            if name in positions and name not in by_alias:
                raise InputError(
                    f"{where} : la colonne « {contract.columns[name]} » apparaît deux fois "
                    f"(colonnes {column_letter(positions[name])} et {column_letter(index)}). "
                    "Supprimez ou renommez l'une des deux."
                )
            positions[name] = index
            by_alias.discard(name)
            continue
        # Blank or repeated extra headers get a generated name: nothing is dropped silently.
        label = str(cell).strip() or f"colonne {column_letter(index)}"
        if label in extras:
            label = f"{label} (colonne {column_letter(index)})"
        extras[label] = index
    missing = [
        contract.columns[name]
        for name in contract.columns
        if name not in positions and name not in contract.optional
    ]
    if missing:
        names = ", ".join(f"« {label} »" for label in missing)
        raise MissingColumns(f"{where} : colonne(s) obligatoire(s) introuvable(s) : {names}.")
    return HeaderMapping(contract_positions=positions, extra_positions=extras)


def contract_for_tab(tab_title: str, spreadsheet_kind: str) -> TableContract | None:
    """The contract a tab title belongs to within a spreadsheet of the given kind, if any."""
    key = normalise_label(tab_title)
    for contract in CONTRACTS:
        if contract.spreadsheet_kind != spreadsheet_kind:
            continue
        if key in {normalise_label(title) for title in contract.tab_titles}:
            return contract
    return None


# A number ending a tab title: a year, a sequence number, bare or in parentheses (« Activités 2020 »,
# « Activités (2) », « Réponses au formulaire 2 », which Google Forms creates when a form is re-linked).
_TRAILING_NUMBER = re.compile(r"\s*(?:\d+|\(\d+\))$")


def _title_stem(key: str) -> str:
    """A normalised tab title without the number that ends it, if any."""
    return _TRAILING_NUMBER.sub("", key).strip()


def contract_holding(tab_title: str, spreadsheet_kind: str) -> TableContract | None:
    """The contract whose table a tab holds: one of its titles, or one continued by a number changed or added.

    « Activités 2020 » continues Activités and « Réponses au formulaire 2 » continues the responses; a copy
    made by Google's « Dupliquer » (« Copie de Activités ») does not: it holds the same rows again."""
    stem = _title_stem(normalise_label(tab_title))
    for contract in CONTRACTS:
        if contract.spreadsheet_kind != spreadsheet_kind or not stem:
            continue
        if stem in {_title_stem(normalise_label(title)) for title in contract.tab_titles}:
            return contract
    return None
