"""The Suivi template `pdn modele` applies: tabs, headers, `Listes` blocks and the rule of each constrained column.

Declared once here, rendered twice: as Sheets batchUpdate requests (flows/sources/template_sheets.py) and
as openpyxl validations (flows/sources/template_xlsx.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.errors import InputError
from flows.settings import Settings
from flows.sources.config import SourceConfig, config_file_for, load_source_config
from flows.sources.contract import (
    ACTIVITES,
    LISTES,
    PROMENEURS,
    TableContract,
    column_letter,
)
from flows.sources.lists import DATE_FIELDS, FIELD_LISTS, LIST_NAMES, NUMBER_FIELDS, bundled_lists

TEMPLATE_CONTRACTS = (PROMENEURS, ACTIVITES, LISTES)  # in the order the tabs are created
VALIDATED_CONTRACTS = (PROMENEURS, ACTIVITES)
RESERVED_ROWS = 20  # free rows per list block: room for the coordinator's additions inside the dropdown's range
NEW_TAB_ROWS = 1000  # the grid Google gives a new tab
# Identifies the template's header protection, so that a re-run does not add a second one.
PROTECTION_DESCRIPTION = "Modèle pdn : ligne d'en-tête (la modifier casse la synchronisation)"
NOTHING_TO_CHANGE = "Le tableur suit déjà le modèle : rien à changer."
VARIANT_SEPARATOR = " ; "
# The action types whose rows need a duration (dbt: int_activites_validated, 'Durée manquante pour une Formation').
FORMATION_INDICATOR = "sessions_formation"
# How the flagged duration cell looks: Excel's own "light red fill with dark red text" (RGB hex).
FLAG_FILL, FLAG_TEXT = "FFC7CE", "9C0006"


def template_header(contract: TableContract) -> list[str]:
    """A tab's header in the template: the contract's labels, in order."""
    return list(contract.columns.values())


@dataclass(frozen=True)
class ListBlock:
    """The rows of `Listes` holding one list (1-based sheet rows, inclusive) and its Valeur column."""

    liste: str
    first_row: int
    last_row: int
    column: str  # letter of the Valeur column

    def reference(self, tab_title: str = "Listes") -> str:
        """Absolute A1 reference of the block's values, e.g. 'Listes'!$B$2:$B$31."""
        quoted = "'" + tab_title.replace("'", "''") + "'"
        return f"{quoted}!${self.column}${self.first_row}:${self.column}${self.last_row}"


@dataclass(frozen=True)
class ListPlace:
    """Where a dropdown takes a list's values from: a block of `Listes`, or fixed values when there is none."""

    liste: str
    block: ListBlock | None
    values: tuple[str, ...] = ()  # only without a block


def bundled_values(liste: str) -> list[str]:
    """The bundled values of one list, in file order."""
    return [entry.valeur for entry in bundled_lists() if entry.liste == liste]


def formation_spellings() -> tuple[str, ...]:
    """Every accepted spelling of the action types that need a duration (« Formation », « Formations »)."""
    entries = [entry for entry in bundled_lists() if entry.indicateur == FORMATION_INDICATOR]
    return tuple(spelling for entry in entries for spelling in (entry.valeur, *entry.variantes))


def formation_without_duration_formula(positions: dict[str, int]) -> str:
    """The flag of a Formation without a duration, for row 2 of the duration column (rows below shift with it):
    true when the row's action type is a Formation and its duration empty or 0, as dbt quarantines it."""
    kind, duration = column_letter(positions["type_action"]), column_letter(positions["duree_jours"])
    quoted = ('"' + spelling.replace('"', '""') + '"' for spelling in formation_spellings())
    is_formation = ",".join(f"TRIM(${kind}2)={spelling}" for spelling in quoted)
    return f'AND(OR({is_formation}),OR(${duration}2="",${duration}2=0))'


def listes_layout(positions: dict[str, int] | None = None) -> tuple[list[list[str]], dict[str, ListPlace]]:
    """The rows below the `Listes` header (one block per list: its values, then free rows) and each block's place.

    `positions` are the Liste/Valeur/Variantes columns of the tab (the template's order by default).
    Action types' indicators are not written: they belong to the project, not to the coordinator.
    """
    positions = positions or {name: index for index, name in enumerate(LISTES.columns)}
    width = max(positions.values()) + 1
    rows: list[list[str]] = []
    places: dict[str, ListPlace] = {}
    for liste in LIST_NAMES:
        first_row = len(rows) + 2
        entries = [entry for entry in bundled_lists() if entry.liste == liste]
        cells = [(entry.valeur, VARIANT_SEPARATOR.join(entry.variantes)) for entry in entries]
        for valeur, variantes in cells + [("", "")] * RESERVED_ROWS:
            row = [""] * width
            row[positions["liste"]] = liste
            row[positions["valeur"]] = valeur
            if "variantes" in positions:
                row[positions["variantes"]] = variantes
            rows.append(row)
        block = ListBlock(liste, first_row, len(rows) + 1, column_letter(positions["valeur"]))
        places[liste] = ListPlace(liste, block)
    return rows, places


@dataclass(frozen=True)
class ColumnRule:
    """What a constrained column accepts, independent of where it is written (Google Sheets or Excel)."""

    field: str
    label: str
    kind: str  # 'bloc' (a Listes block) | 'choix' (fixed values) | 'date' | 'nombre'
    prompt: str
    block: ListBlock | None = None
    choices: tuple[str, ...] = ()
    maximum: float = 0.0
    whole: bool = False

    def offered(self) -> list[str]:
        """What the column's dropdown offers from the bundled lists and settings (nothing for dates and numbers)."""
        return bundled_values(self.block.liste) if self.kind == "bloc" else list(self.choices)

    def description(self, where: str) -> str:
        """French description of the rule placed at `where`, for the change list."""
        if self.kind == "bloc":
            liste = self.block.liste
            return f"menu déroulant « {self.label} » {where}, alimenté par le bloc « {liste} » de « Listes »"
        if self.kind == "choix":
            return f"menu déroulant « {self.label} » {where}"
        if self.kind == "date":
            return f"contrôle de date « {self.label} » {where}"
        return f"contrôle « {self.label} » {where} : nombre entre 0 et {reader_bound(self.maximum)}"


def departement_choices(contract: TableContract, departements: tuple[str, ...]) -> list[str]:
    """The network's codes; an action may also concern two départements (« 03/63 »)."""
    pairs = [f"{a}/{b}" for i, a in enumerate(departements) for b in departements[i + 1 :]]
    return list(departements) + (pairs if contract is ACTIVITES else [])


def _list_rule(name: str, label: str, place: ListPlace) -> ColumnRule:
    if place.block is None:
        prompt = f"Choisissez une valeur de la liste « {place.liste} »."
        return ColumnRule(name, label, "choix", prompt, choices=place.values)
    prompt = (
        f"Choisissez une valeur de la liste « {place.liste} ». Une valeur manque ? Ajoutez-la sur la première "
        f"ligne libre du bloc « {place.liste} » de l'onglet « Listes » : le menu la proposera aussitôt."
    )
    return ColumnRule(name, label, "bloc", prompt, block=place.block)


def column_rules(contract: TableContract, config: SourceConfig, places: dict[str, ListPlace]) -> list[ColumnRule]:
    """The rule of every constrained column of a tab, in contract order."""
    rules = []
    for name, label in contract.columns.items():
        if name in FIELD_LISTS:
            rules.append(_list_rule(name, label, places[FIELD_LISTS[name]]))
        elif name == "departement":
            choices = tuple(departement_choices(contract, config.departements))
            pair = " ou deux codes séparés par « / » pour une action commune" if contract is ACTIVITES else ""
            prompt = f"Code du département : {', '.join(config.departements)}{pair}."
            rules.append(ColumnRule(name, label, "choix", prompt, choices=choices))
        elif name in DATE_FIELDS:
            rules.append(ColumnRule(name, label, "date", "Une date, par exemple 15/03/2019."))
        elif name in NUMBER_FIELDS:
            maximum = config.bounds.participants_max if name == "participants" else config.bounds.duree_jours_max
            prompt = f"Un nombre entre 0 et {reader_bound(maximum)}."
            if name == "duree_jours":
                prompt += " Obligatoire pour une Formation."
            rules.append(ColumnRule(name, label, "nombre", prompt, maximum=maximum, whole=name == "participants"))
    return rules


def format_bound(value: float, decimal_comma: bool = True) -> str:
    """A bound as typed in a validation rule: with a decimal comma in a French spreadsheet, a point otherwise."""
    text = f"{value:g}"
    return text.replace(".", ",") if decimal_comma else text


def reader_bound(value: float) -> str:
    """A bound as a French reader expects it in a message: 1 000 ; 0,5."""
    return f"{value:,g}".replace(",", "\u202f").replace(".", ",")


def network_config(settings: Settings) -> SourceConfig:
    """sources.toml: the network's départements and bounds the template's checks use."""
    if settings.sources_file is None:
        raise InputError(
            "PDN_SOURCES n'est pas défini : « pdn modele » lit dans sources.toml les départements du réseau, "
            "les bornes et la clé du tableur de suivi. Indiquez le chemin de sources.toml dans PDN_SOURCES."
        )
    return load_source_config(settings.sources_file)


def template_config(settings: Settings) -> SourceConfig:
    """The départements and bounds of an offline template: PDN_SOURCES' sources.toml, else the bundled sample's."""
    return load_source_config(config_file_for(settings.sources_file, None))


def configured_suivi_key(config: SourceConfig, origin: str) -> str:
    """The key of the one [[suivi]] entry, or a French error asking for --cle."""
    suivis = [source for source in config.spreadsheets if source.kind == "suivi"]
    if len(suivis) != 1:
        raise InputError(
            f"{origin} déclare {len(suivis)} tableurs de suivi : indiquez celui à mettre au modèle avec "
            "« pdn modele --cle CLE_OU_ADRESSE »."
        )
    if not suivis[0].key:
        raise InputError(
            f"{origin} : le tableur de suivi « {suivis[0].title} » n'a pas de clé (« cle ») : ajoutez-la, "
            "ou indiquez-la avec « pdn modele --cle CLE_OU_ADRESSE »."
        )
    return suivis[0].key
