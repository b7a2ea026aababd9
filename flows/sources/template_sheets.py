"""`pdn modele` on Google Sheets: read the spreadsheet in one call, bring it to the template in one batchUpdate.

Rows below the header of Promeneurs and Activités are never written (only their validation and number
format change), and no data cell is ever printed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import gspread
from gspread.exceptions import APIError

from flows.errors import InputError
from flows.settings import Settings
from flows.sources.config import SourceConfig, spreadsheet_key
from flows.sources.contract import (
    ACTIVITES,
    LISTES,
    TableContract,
    column_letter,
    contract_for_tab,
    map_header,
    normalise_label,
)
from flows.sources.lists import LIST_NAMES
from flows.sources.template import (
    FLAG_FILL,
    FLAG_TEXT,
    NEW_TAB_ROWS,
    NOTHING_TO_CHANGE,
    PROTECTION_DESCRIPTION,
    RESERVED_ROWS,
    TEMPLATE_CONTRACTS,
    VALIDATED_CONTRACTS,
    ColumnRule,
    ListBlock,
    ListPlace,
    bundled_values,
    column_rules,
    configured_suivi_key,
    format_bound,
    formation_without_duration_formula,
    listes_layout,
    network_config,
    template_header,
)

T = TypeVar("T")

# ----------------------------------------------------------------------------------------------
# Google Sheets: read the current state in one spreadsheets.get
# ----------------------------------------------------------------------------------------------

# Tab properties, protections, conditional formats' conditions, and per cell only the text, the validation, the
# number format and the boldness.
_STATE_FIELDS = (
    "properties(title,locale),"
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount,frozenRowCount)),"
    "protectedRanges(description,range),conditionalFormats(booleanRule(condition)),"
    "data(rowData(values(formattedValue,dataValidation,userEnteredFormat(numberFormat,textFormat.bold)))))"
)


@dataclass
class SheetTab:
    """A template tab as found: its grid, and the cells read (rows 1-2, or all of `Listes`)."""

    contract: TableContract
    title: str
    sheet_id: int
    row_count: int
    column_count: int
    frozen_rows: int
    protected: bool  # already carries the template's header protection
    cells: list[list[dict[str, Any]]]  # CellData by row, trimmed like the API trims them
    formulas: set[str] = field(default_factory=set)  # its conditional formats' custom formulas, comparable form

    def text(self, row: int, column: int) -> str:
        """The displayed text of a cell read (0-based), "" when empty or not read."""
        if row < len(self.cells) and column < len(self.cells[row]):
            return str(self.cells[row][column].get("formattedValue", "")).strip()
        return ""

    def row_texts(self, row: int) -> list[str]:
        return [self.text(row, column) for column in range(len(self.cells[row]) if row < len(self.cells) else 0)]

    def used_width(self) -> int:
        """How many columns hold a value in the rows read."""
        widths = (i + 1 for r in range(len(self.cells)) for i, text in enumerate(self.row_texts(r)) if text)
        return max(widths, default=0)

    def holds_values(self) -> bool:
        return self.used_width() > 0


@dataclass
class SheetState:
    """What the formatter needs to know of a spreadsheet."""

    key: str
    title: str
    locale: str
    tabs: dict[TableContract, SheetTab]
    sheet_ids: set[int]


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _ranges(titles: dict[TableContract, tuple[str, int]]) -> list[str]:
    """Rows 1-2 of Promeneurs and Activités (header and first data row), and the whole `Listes` tab."""
    ranges = []
    for contract, (title, row_count) in titles.items():
        rows = "1:2" if row_count >= 2 else "1:1"
        ranges.append(_quoted(title) if contract is LISTES else f"{_quoted(title)}!{rows}")
    return ranges


def _formula_key(formula: str) -> str:
    """A custom formula as compared with the wanted one: Google may add spaces or change the case."""
    return "".join(formula.split()).lstrip("=").upper()


def _custom_formula(conditional_format: dict[str, Any]) -> str:
    """The formula of a conditional format read back ("" for another kind of condition)."""
    values = conditional_format.get("booleanRule", {}).get("condition", {}).get("values") or [{}]
    return str(values[0].get("userEnteredValue", ""))


def _state_from(key: str, body: dict[str, Any]) -> SheetState:
    tabs: dict[TableContract, SheetTab] = {}
    for sheet in body.get("sheets", []):
        props = sheet["properties"]
        contract = contract_for_tab(props["title"], "suivi")
        if contract is None or contract in tabs:
            continue
        grid = props.get("gridProperties", {})
        data = sheet.get("data") or [{}]
        tabs[contract] = SheetTab(
            contract=contract,
            title=props["title"],
            sheet_id=props.get("sheetId", 0),
            row_count=grid.get("rowCount", 0),
            column_count=grid.get("columnCount", 0),
            frozen_rows=grid.get("frozenRowCount", 0),
            protected=any(p.get("description") == PROTECTION_DESCRIPTION for p in sheet.get("protectedRanges", [])),
            cells=[row.get("values", []) for row in data[0].get("rowData", [])],
            formulas={_formula_key(_custom_formula(rule)) for rule in sheet.get("conditionalFormats", [])},
        )
    props = body.get("properties", {})
    ids = {sheet["properties"].get("sheetId", 0) for sheet in body.get("sheets", [])}
    return SheetState(key, props.get("title", ""), props.get("locale", "fr_FR"), tabs, ids)


def read_state(client: gspread.Client, key: str) -> SheetState:
    """One spreadsheets.get guessing the template's tab titles; when one is missing or renamed (400), the
    titles are looked up first, then read."""
    http = client.http_client
    template = {contract: (contract.tab_titles[0], 2) for contract in TEMPLATE_CONTRACTS}
    params = {"includeGridData": "true", "fields": _STATE_FIELDS}
    try:
        return _state_from(key, http.fetch_sheet_metadata(key, {**params, "ranges": _ranges(template)}))
    except APIError as err:
        if err.code != 400:
            raise
    listing_fields = "properties(title,locale),sheets.properties(sheetId,title,gridProperties.rowCount)"
    listing = http.fetch_sheet_metadata(key, {"fields": listing_fields})
    found: dict[TableContract, tuple[str, int]] = {}
    for sheet in listing.get("sheets", []):
        props = sheet["properties"]
        contract = contract_for_tab(props["title"], "suivi")
        if contract is not None and contract not in found:
            found[contract] = (props["title"], props.get("gridProperties", {}).get("rowCount", 0))
    # No template tab at all (a new spreadsheet): the listing says all there is to know.
    state = _state_from(key, http.fetch_sheet_metadata(key, {**params, "ranges": _ranges(found)}) if found else listing)
    state.sheet_ids |= {sheet["properties"].get("sheetId", 0) for sheet in listing.get("sheets", [])}
    return state


def _check_blank_headers(client: gspread.Client, state: SheetState) -> None:
    """A data tab whose rows 1-2 are blank may still hold data lower down: then its header is not in row 1."""
    for contract in VALIDATED_CONTRACTS:
        tab = state.tabs.get(contract)
        if tab is None or tab.holds_values():
            continue
        values = client.http_client.values_get(state.key, _quoted(tab.title)).get("values", [])
        if any(str(cell).strip() for row in values for cell in row):
            raise InputError(
                f"Tableur « {state.title} », onglet « {tab.title} » : la ligne 1 est vide mais l'onglet contient "
                "des données plus bas. Supprimez les lignes vides au-dessus de l'en-tête, pour que les colonnes "
                "soient nommées en ligne 1, puis relancez « pdn modele »."
            )


# ----------------------------------------------------------------------------------------------
# Google Sheets: the requests that bring a spreadsheet to the template
# ----------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """The batchUpdate requests to send, and what they change, in French."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, request: dict[str, Any], change: str | None = None) -> None:
        self.requests.append(request)
        if change:
            self.changes.append(change)

    def lines(self) -> list[str]:
        """What `pdn modele` prints."""
        done = ["Modifications apportées au tableur :", *(f"  - {c}" for c in self.changes)]
        return (done if self.changes else [NOTHING_TO_CHANGE]) + [f"Attention : {w}" for w in self.warnings]


@dataclass
class PlacedTab:
    """A template tab as the plan leaves it: its id, its header mapping, and whether it was blank before."""

    title: str
    sheet_id: int
    positions: dict[str, int]
    fresh: bool  # created or empty: nothing below the header to read
    current: SheetTab | None

    def row_two(self, column: int) -> dict[str, Any]:
        """The CellData of row 2 as read (its validation, its format); {} for a fresh tab."""
        cells = self.current.cells if self.current is not None and not self.fresh else []
        return cells[1][column] if len(cells) > 1 and column < len(cells[1]) else {}

    def header_bold(self) -> bool:
        """Every header cell of the contract's columns was read in bold (appended or new ones were not read)."""
        cells = self.current.cells[0] if self.current is not None and self.current.cells else []
        return all(
            column < len(cells) and cells[column].get("userEnteredFormat", {}).get("textFormat", {}).get("bold")
            for column in self.positions.values()
        )


def _write_row(sheet_id: int, row: int, column: int, rows: list[list[str]]) -> dict[str, Any]:
    """updateCells writing text rows from (row, column), 0-based; an empty string leaves its cell without value."""
    data = [
        {"values": [{"userEnteredValue": {"stringValue": text}} if text else {} for text in values]}
        for values in rows
    ]
    start = {"sheetId": sheet_id, "rowIndex": row, "columnIndex": column}
    return {"updateCells": {"start": start, "rows": data, "fields": "userEnteredValue"}}


def _free_sheet_id(title: str, used: set[int]) -> int:
    """A stable sheetId for a new tab, so that later requests of the same batch can name it."""
    sheet_id = zlib.crc32(title.encode()) & 0x7FFFFFFF
    while sheet_id in used:
        sheet_id = (sheet_id + 1) & 0x7FFFFFFF
    used.add(sheet_id)
    return sheet_id


def _add_tab(plan: Plan, state: SheetState, contract: TableContract) -> PlacedTab:
    title, header = contract.tab_titles[0], template_header(contract)
    sheet_id = _free_sheet_id(title, state.sheet_ids)
    grid = {"rowCount": NEW_TAB_ROWS, "columnCount": max(26, len(header)), "frozenRowCount": 1}
    plan.add(
        {"addSheet": {"properties": {"sheetId": sheet_id, "title": title, "gridProperties": grid}}},
        f"onglet « {title} » créé, avec l'en-tête du modèle figé en ligne 1",
    )
    plan.add(_write_row(sheet_id, 0, 0, [header]))
    positions = {name: index for index, name in enumerate(contract.columns)}
    return PlacedTab(title, sheet_id, positions, fresh=True, current=None)


def _grow(plan: Plan, tab: SheetTab, rows: int, columns: int) -> None:
    """Enlarge a tab's grid when what is written would not fit (Google refuses writes past the grid)."""
    grid, masks = {}, []
    if rows > tab.row_count:
        grid["rowCount"], tab.row_count = rows, rows
        masks.append("gridProperties.rowCount")
    if columns > tab.column_count:
        grid["columnCount"], tab.column_count = columns, columns
        masks.append("gridProperties.columnCount")
    if masks:
        properties = {"sheetId": tab.sheet_id, "gridProperties": grid}
        plan.add({"updateSheetProperties": {"properties": properties, "fields": ",".join(masks)}})


def _complete_header(plan: Plan, state: SheetState, tab: SheetTab) -> PlacedTab:
    """Write the header into an empty tab, or append the required columns its header lacks."""
    contract = tab.contract
    where = f"Tableur « {state.title} », onglet « {tab.title} »"
    if not tab.holds_values():
        header = template_header(contract)
        _grow(plan, tab, 2, len(header))
        plan.add(_write_row(tab.sheet_id, 0, 0, [header]), f"en-tête du modèle écrit en ligne 1 ({tab.title})")
        positions = {name: index for index, name in enumerate(contract.columns)}
        return PlacedTab(tab.title, tab.sheet_id, positions, fresh=True, current=tab)
    header = tab.row_texts(0)
    present = {normalise_label(cell) for cell in header}
    known = [name for name, label in contract.columns.items() if normalise_label(label) in present]
    if not known:
        raise InputError(
            f"{where} : la ligne 1 ne contient aucune des colonnes attendues "
            f"({', '.join(f'« {label} »' for label in contract.columns.values())}). "
            "L'en-tête doit être en ligne 1 : supprimez les lignes au-dessus (un titre ?), "
            "puis relancez « pdn modele »."
        )
    # Optional columns (free text) may have been deleted on purpose: only required ones are added back.
    missing = [
        label for name, label in contract.columns.items() if name not in known and name not in contract.optional
    ]
    if missing:
        first_free = tab.used_width()
        _grow(plan, tab, 1, first_free + len(missing))
        header = header + [""] * (first_free - len(header)) + missing
        added = ", ".join(f"« {label} »" for label in missing)
        plan.add(
            _write_row(tab.sheet_id, 0, first_free, [missing]),
            f"colonne(s) {added} ajoutée(s) à la fin de l'en-tête ({tab.title}, à partir de la colonne "
            f"{column_letter(first_free)})",
        )
    positions = map_header(header, contract, where).contract_positions
    return PlacedTab(tab.title, tab.sheet_id, positions, fresh=False, current=tab)


def _freeze_and_protect(plan: Plan, placed: PlacedTab, tab: SheetTab | None) -> None:
    """Row 1 frozen, and protected by a warning only (the coordinator stays able to edit it)."""
    if tab is not None and tab.frozen_rows != 1:
        _grow(plan, tab, 2, 1)  # Google refuses to freeze every row of a grid
        properties = {"sheetId": placed.sheet_id, "gridProperties": {"frozenRowCount": 1}}
        plan.add(
            {"updateSheetProperties": {"properties": properties, "fields": "gridProperties.frozenRowCount"}},
            f"ligne d'en-tête figée ({placed.title})",
        )
    if tab is None or not tab.protected:
        protection = {
            "range": {"sheetId": placed.sheet_id, "startRowIndex": 0, "endRowIndex": 1},
            "description": PROTECTION_DESCRIPTION,
            "warningOnly": True,
        }
        plan.add(
            {"addProtectedRange": {"protectedRange": protection}},
            f"ligne d'en-tête protégée par un avertissement ({placed.title})",
        )


def _bold_header(plan: Plan, placed: PlacedTab) -> None:
    """Row 1 in bold, unless every header cell already is."""
    if placed.header_bold():
        return
    header = {"sheetId": placed.sheet_id, "startRowIndex": 0, "endRowIndex": 1}
    bold = {"userEnteredFormat": {"textFormat": {"bold": True}}}
    request = {"range": header, "cell": bold, "fields": "userEnteredFormat.textFormat.bold"}
    plan.add({"repeatCell": request}, f"ligne d'en-tête en gras ({placed.title})")


def _pixels(texts: list[str]) -> int:
    """A column width in pixels showing the longest text whole (about 8 px a character, Google's 100 px minimum)."""
    return max([100, *(8 * len(text) + 24 for text in texts)])


def _widen(plan: Plan, placed: PlacedTab, widths: dict[int, list[str]]) -> None:
    """Columns as wide as their longest text, on a tab whose header the template has just written only: the
    widths of a tab in use are the coordinator's."""
    if not placed.fresh:
        return
    for column, texts in sorted(widths.items()):
        dimension = {"sheetId": placed.sheet_id, "dimension": "COLUMNS", "startIndex": column, "endIndex": column + 1}
        request = {"range": dimension, "properties": {"pixelSize": _pixels(texts)}, "fields": "pixelSize"}
        plan.add({"updateDimensionProperties": request})


def _union(*lists: list[str]) -> tuple[str, ...]:
    """Values of several lists, each once (tolerant comparison), first spelling kept."""
    seen: dict[str, str] = {}
    for values in lists:
        for value in values:
            if value.strip():
                seen.setdefault(normalise_label(value), value.strip())
    return tuple(seen.values())


def _lists_in_tab(tab: SheetTab, positions: dict[str, int], plan: Plan) -> dict[str, ListPlace]:
    """Each list's block in a filled `Listes` tab: the contiguous rows naming it in column Liste; when its rows
    are scattered (or absent), fixed values instead, and a warning saying how to fix the tab."""
    places: dict[str, ListPlace] = {}
    rows = range(1, len(tab.cells))
    for liste in LIST_NAMES:
        matches = [r for r in rows if normalise_label(tab.text(r, positions["liste"])) == normalise_label(liste)]
        if matches and matches[-1] - matches[0] + 1 == len(matches):
            block = ListBlock(liste, matches[0] + 1, matches[-1] + 1, column_letter(positions["valeur"]))
            places[liste] = ListPlace(liste, block)
            continue
        in_tab = [tab.text(r, positions["valeur"]) for r in matches]
        places[liste] = ListPlace(liste, None, _union(bundled_values(liste), in_tab))
        problem = "ne se suivent pas" if matches else "sont absentes"
        plan.warnings.append(
            f"dans l'onglet « {tab.title} », les lignes de la liste « {liste} » {problem} : son menu déroulant "
            "reprend les valeurs actuelles mais ne suivra pas vos prochaines modifications de l'onglet. Pour qu'il "
            f"les suive, regroupez les lignes « {liste} » d'un seul tenant (avec quelques lignes libres dont seule "
            "la colonne Liste est remplie), par exemple en triant l'onglet sur la colonne Liste, puis relancez "
            "« pdn modele »."
        )
    return places


def _place_listes(plan: Plan, state: SheetState) -> tuple[PlacedTab, dict[str, ListPlace]]:
    """The `Listes` tab: created or filled from the bundled lists when blank; otherwise read, never rewritten."""
    tab = state.tabs.get(LISTES)
    placed = _add_tab(plan, state, LISTES) if tab is None else _complete_header(plan, state, tab)
    _freeze_and_protect(plan, placed, tab)
    _bold_header(plan, placed)
    has_rows = tab is not None and any(any(tab.row_texts(r)) for r in range(1, len(tab.cells)))
    if has_rows:
        return placed, _lists_in_tab(tab, placed.positions, plan)
    rows, places = listes_layout(placed.positions)
    if tab is not None:
        _grow(plan, tab, len(rows) + 1, len(rows[0]))
    widths = {placed.positions[name]: [label] for name, label in LISTES.columns.items() if name != "variantes"}
    for row in rows:
        for column in widths:
            widths[column].append(row[column])
    _widen(plan, placed, widths)
    plan.add(
        _write_row(placed.sheet_id, 1, 0, rows),
        f"onglet « {placed.title} » rempli avec les listes de référence ({', '.join(LIST_NAMES)}), "
        f"chacune suivie de {RESERVED_ROWS} lignes libres pour vos ajouts",
    )
    return placed, places


def _condition(rule: ColumnRule, listes_title: str, decimal_comma: bool) -> dict[str, Any]:
    if rule.kind == "bloc":
        return {"type": "ONE_OF_RANGE", "values": [{"userEnteredValue": "=" + rule.block.reference(listes_title)}]}
    if rule.kind == "choix":
        return {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": value} for value in rule.choices]}
    if rule.kind == "date":
        return {"type": "DATE_IS_VALID"}
    bounds = ("0", format_bound(rule.maximum, decimal_comma))  # parsed as typed in the spreadsheet's locale
    return {"type": "NUMBER_BETWEEN", "values": [{"userEnteredValue": bound} for bound in bounds]}


def sheets_rule(rule: ColumnRule, listes_title: str = "Listes", locale: str = "fr_FR") -> dict[str, Any]:
    """The Sheets DataValidationRule of a column rule."""
    condition = _condition(rule, listes_title, decimal_comma=locale.startswith("fr"))
    return {"condition": condition, "inputMessage": rule.prompt, "strict": True, "showCustomUi": True}


def _comparable(rule: dict[str, Any] | None) -> tuple | None:
    """A rule as compared with the wanted one: Google leaves defaults out and may drop quotes or $ in a range."""
    if not rule:
        return None
    condition = rule.get("condition", {})
    values = [str(value.get("userEnteredValue", "")) for value in condition.get("values", [])]
    if condition.get("type") == "ONE_OF_RANGE":
        values = [value.replace("'", "").replace("$", "").upper() for value in values]
    flags = (bool(rule.get("strict")), bool(rule.get("showCustomUi")), rule.get("inputMessage", ""))
    return (condition.get("type"), tuple(values), flags)


def _below_header(placed: PlacedTab, column: int) -> dict[str, Any]:
    """Rows 2 to the end of the grid of one column."""
    return {"sheetId": placed.sheet_id, "startRowIndex": 1, "startColumnIndex": column, "endColumnIndex": column + 1}


def _keep_codes_as_text(plan: Plan, placed: PlacedTab, column: int, rule: ColumnRule) -> None:
    """Plain-text format on a département column, unless row 2 already has it."""
    number_format = placed.row_two(column).get("userEnteredFormat", {}).get("numberFormat", {})
    if number_format.get("type") == "TEXT":
        return
    text_format = {"userEnteredFormat": {"numberFormat": {"type": "TEXT"}}}
    request = {"range": _below_header(placed, column), "cell": text_format, "fields": "userEnteredFormat.numberFormat"}
    where = f"({placed.title}, colonne {column_letter(column)})"
    plan.add({"repeatCell": request}, f"format texte pour « {rule.label} » {where}, pour que « 03 » reste « 03 »")


def _validate(plan: Plan, placed: PlacedTab, column: int, wanted: dict[str, Any], rule: ColumnRule) -> bool:
    """The column's validation, unless row 2 already carries the same one (a different one is replaced);
    True when it is (re)set."""
    existing = _comparable(placed.row_two(column).get("dataValidation"))
    if existing == _comparable(wanted):
        return False
    change = rule.description(f"({placed.title}, colonne {column_letter(column)})")
    if existing is not None:
        change += " : la règle en place était différente, elle est remplacée"
    plan.add({"setDataValidation": {"range": _below_header(placed, column), "rule": wanted}}, change)
    return True


def _rgb(hex_colour: str) -> dict[str, float]:
    """A Sheets Color from an RGB hex string."""
    return {name: int(hex_colour[i : i + 2], 16) / 255 for name, i in (("red", 0), ("green", 2), ("blue", 4))}


def _flag_formation_without_duration(plan: Plan, placed: PlacedTab) -> None:
    """The duration cell of a Formation turns red while empty (a validation only checks what is typed).

    Called when the duration column's validation is (re)set: the flag travels with it, so a re-run that finds
    the validation in place sends nothing. A flag already read in the tab is not added twice."""
    formula = formation_without_duration_formula(placed.positions)  # English names and commas, as the API takes
    if placed.current is not None and _formula_key(formula) in placed.current.formulas:
        return
    column = placed.positions["duree_jours"]
    condition = {"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": "=" + formula}]}
    look = {"backgroundColor": _rgb(FLAG_FILL), "textFormat": {"foregroundColor": _rgb(FLAG_TEXT)}}
    rule = {"ranges": [_below_header(placed, column)], "booleanRule": {"condition": condition, "format": look}}
    label = ACTIVITES.columns["duree_jours"]
    plan.add(
        {"addConditionalFormatRule": {"rule": rule, "index": 0}},
        f"« {label} » surlignée en rouge quand une Formation n'a pas de durée ({placed.title}, colonne "
        f"{column_letter(column)})",
    )


def plan_template(state: SheetState, config: SourceConfig) -> Plan:
    """Every request that brings the spreadsheet to the template, in an order Google can apply in one batch."""
    plan = Plan()
    placed: dict[TableContract, PlacedTab] = {}
    for contract in VALIDATED_CONTRACTS:
        tab = state.tabs.get(contract)
        placed[contract] = _add_tab(plan, state, contract) if tab is None else _complete_header(plan, state, tab)
        _freeze_and_protect(plan, placed[contract], tab)
        _bold_header(plan, placed[contract])
    listes, places = _place_listes(plan, state)
    for contract in VALIDATED_CONTRACTS:
        tab = placed[contract]
        rules = [rule for rule in column_rules(contract, config, places) if rule.field in tab.positions]
        widths = {tab.positions[name]: [label] for name, label in contract.columns.items() if name in tab.positions}
        for rule in rules:
            widths[tab.positions[rule.field]] += rule.offered()
        _widen(plan, tab, widths)
        for rule in sorted(rules, key=lambda rule: tab.positions[rule.field]):
            column = tab.positions[rule.field]
            if rule.field == "departement":
                _keep_codes_as_text(plan, tab, column, rule)
            placed_now = _validate(plan, tab, column, sheets_rule(rule, listes.title, state.locale), rule)
            if placed_now and rule.field == "duree_jours" and "type_action" in tab.positions:
                _flag_formation_without_duration(plan, tab)
    return plan


# ----------------------------------------------------------------------------------------------
# Google Sheets: the command
# ----------------------------------------------------------------------------------------------


def _access_error(code: int, key: str, account: str | None) -> InputError:
    """French message for a refused call: share the spreadsheet as Editor with the service account."""
    who = f"le compte de service {account}" if account else "l'adresse e-mail du compte de service"
    if code == 404:
        reason = "est introuvable (clé ou adresse erronée, ou tableur supprimé)"
    else:
        reason = "n'est pas partagé en modification"
    return InputError(
        f"Le tableur de clé {key} {reason}. Ouvrez-le dans Google Sheets, cliquez sur « Partager », ajoutez "
        f"{who} avec le rôle « Éditeur », puis relancez « pdn modele ». Un compte de service ne peut "
        "généralement pas posséder de fichiers Google Drive : créez le tableur dans votre propre Drive, puis "
        "partagez-le."
    )


def _calling_google(call: Callable[[], T], key: str, account: str | None) -> T:
    """Run Google calls, turning their refusals into French errors (the client already retried what it could)."""
    try:
        return call()
    except APIError as err:
        if err.code in (403, 404):
            raise _access_error(err.code, key, account) from None
        raise InputError(f"Tableur de clé {key} : Google Sheets a répondu HTTP {err.code}.") from None


def format_spreadsheet(settings: Settings, key_or_url: str | None = None) -> list[str]:
    """Bring the Suivi spreadsheet to the template in one batchUpdate (none when it already follows it);
    return the French lines saying what changed."""
    from flows.sources.google import WRITE_SCOPES, open_client

    config = network_config(settings)
    origin = settings.sources_file.name
    key = spreadsheet_key(key_or_url, "--cle") if key_or_url else configured_suivi_key(config, origin)
    client = open_client(settings, WRITE_SCOPES)
    account = client.service_account_email

    def apply() -> Plan:
        state = read_state(client, key)
        _check_blank_headers(client, state)
        plan = plan_template(state, config)
        if plan.requests:
            client.http_client.batch_update(key, {"requests": plan.requests})
        return plan

    return _calling_google(apply, key, account).lines()
