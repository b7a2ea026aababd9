"""The one screen of text a person can read: what must not be published, reported, logged or sent.

Written once, used twice: Python calls it on metadata (spreadsheet titles, tab names, question headers, list
values, the source folder) before a run report, a log line, an alert or an error message quotes them, and dbt
calls the same functions as DuckDB SQL functions (`register`, through the dbt-duckdb plugin
flows/screen_plugin.py) on free text and metadata before a mart publishes them.

A text is withheld when it holds, as a reader would see it (invisible characters such as a soft hyphen or a
word joiner dropped, compatibility forms folded with NFKC, Cyrillic and Greek look-alikes of Latin letters
read as those letters, case and accents ignored, hashtags and camelCase split into words):
- a formula for a spreadsheet (first character = + - @, a tab or a carriage return): an analyst's CSV or XLSX
  export would make it live;
- the erasure marker « [effacé] » (landing put it where an erased person was named);
- contact details: an e-mail address or a @handle, a French phone number in any usual format
  (06 12 34 56 78, 06.12.34.56.78, 06/12/34/56/78, +33 6…, +33 (0)6…, 0033 6…);
- a known person's first and last names side by side in either order, run together (« #LeaBertrand »), or
  their last name after a civility (« Mme Bertrand »). A last name alone is not enough: many are also words,
  first names or places (Martin, Petit, Moulin).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

REDACTED = "[effacé]"  # the erasure marker (flows/identity.py writes it; kept equal by a test)
MASKED = "[masqué]"  # what a published or reported text shows instead of a withheld one

# Why a text is withheld, as `reason` returns it (dbt turns it into a French sentence: macro phrase_motif_ecran).
FORMULA, ERASED, CONTACT, NAME = "formule", "efface", "coordonnees", "nom"

# Unicode's Default_Ignorable_Code_Point characters: drawn as nothing, so « Hu\u00adgo » reads « Hugo ».
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# Cyrillic and Greek letters drawn like Latin ones (Unicode's confusables, the letters a French name can use).
# The maintained packages (confusables, confusable-homoglyphs) detect rather than fold, or transliterate (Cyrillic
# р -> r, not p); these few dozen are the ones that matter for a name written in Latin letters.
_LOOK_ALIKES = str.maketrans(
    {
        **dict(zip("АВЕЅІЈКМНОРСТХУаеіјорсхуѕԁԛԝһӏ", "ABESIJKMHOPCTXYaeijopcxysdqwhl")),
        **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαικνορτυχϲ", "ABEZHIKMNOPTYXaiknoptuxc")),
    }
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_AT = re.compile(r"@\w")  # an address (x@y) or a handle (@x)
# A French phone number: 0X, +33 X or 0033 X ((0) tolerated after 33), then four pairs of digits, run together
# or separated by spaces, dots or hyphens (mixed), or by slashes (all of them, so that 06/12/2019 is a date).
_PHONE = re.compile(
    r"(?<![0-9])(?:(?:\+|00) ?33 ?(?:\(0\) ?)?|0)[1-9](?:(?:[ .-]?[0-9]{2}){4}|(?:/[0-9]{2}){4})(?![0-9])"
)
CIVILITIES = ("m", "mr", "mme", "mlle", "monsieur", "madame", "mademoiselle")
MAX_NAME_WORDS = 8  # a name pattern longer than this (civility or first names + last names) is not looked for


def _accent_table() -> dict[int, str | None]:
    """Latin letters with accents -> their base letters (œ, æ, ß spelled out); lone combining marks dropped."""
    table: dict[int, str | None] = {ord("œ"): "oe", ord("æ"): "ae", ord("ß"): "ss"}
    for code in range(0xC0, 0x250):
        base = "".join(ch for ch in unicodedata.normalize("NFKD", chr(code)) if not unicodedata.combining(ch))
        if base.isascii() and base and code not in table:
            table[code] = base
    return table | dict.fromkeys(range(0x300, 0x370))


# str.translate with one table: ~10 times faster than decomposing each text (100,000 titles a build).
_ACCENTS = _accent_table()
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-zß-öø-ÿ])(?=[A-ZÀ-ÖØ-Þ])")


def visible(text: str) -> str:
    """The text as a reader sees it: invisible characters dropped, NFKC, look-alike letters made Latin."""
    if text.isascii():  # nothing invisible, nothing to compose, no look-alike: most texts
        return text
    return unicodedata.normalize("NFKC", _IGNORABLE.sub("", text)).translate(_LOOK_ALIKES)


def _split_camel(text: str) -> str:
    """« LéaBertrand » -> « Léa Bertrand »: a space where a lower-case letter meets an upper-case one."""
    return _CAMEL_BOUNDARY.sub(" ", text)


def _fold(text: str) -> str:
    """Lower case, no accents, œ/æ spelled out, every run of anything but a-z and 0-9 one space, trimmed."""
    return _NOT_WORD.sub(" ", text.lower().translate(_ACCENTS)).strip()


def name_key(text: str | None) -> str | None:
    """A name's word key: « Jean-Pierre D’Arc » and « jean pierre  d'arc » -> « jean pierre d arc »."""
    if text is None:
        return None
    return _fold(visible(text)) or None


def text_key(text: str | None) -> str | None:
    """A text's word key, with camelCase split; when splitting changed it, « | » and the unsplit key follow.

    « #LéaBertrand » -> « lea bertrand | leabertrand »: padded with spaces, it contains « lea bertrand »,
    and a name typed « McDonald » (key « mcdonald ») is still found in « M. McDonald ». No name key holds
    « | », so a name is never found across it."""
    if text is None:
        return None
    seen = visible(text)
    split, whole = _fold(_split_camel(seen)), _fold(seen)
    key = split if split == whole else f"{split} | {whole}"
    return key or None


def is_formula(text: str) -> bool:
    """True when a spreadsheet would read the text as a formula (first visible character = + - @, tab, CR)."""
    if text.startswith(("\t", "\r")):
        return True
    return visible(text).lstrip(" \u00a0").startswith(_FORMULA_START)


def has_contact_details(text: str) -> bool:
    """True when the text holds an e-mail address, a @handle or a French phone number."""
    seen = visible(text)
    return bool(_AT.search(seen) or _PHONE.search(seen))


def reason_without_names(text: str | None) -> str | None:
    """Why the text is withheld whoever the known people are (formula, erasure marker, contact), or None."""
    if text is None:
        return None
    if is_formula(text):
        return FORMULA
    if REDACTED in text:
        return ERASED
    if has_contact_details(text):
        return CONTACT
    return None


def word_windows(text: str | None) -> list[str] | None:
    """Every run of 1 to MAX_NAME_WORDS consecutive words of the text's key: a name is found in a text when one
    of its patterns is one of these (a set lookup, or a hash join in SQL, not a scan of every pattern)."""
    key = text_key(text)
    if key is None:
        return None
    windows = set()
    for part in key.split(" | "):
        words = part.split()
        for size in range(1, min(MAX_NAME_WORDS, len(words)) + 1):
            windows.update(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))
    return sorted(windows)


@dataclass(frozen=True)
class KnownNames:
    """The ways known people's names may be written in a text, as word keys (never stored: built per run)."""

    patterns: frozenset[str]

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str | None, str | None]]) -> KnownNames:
        """From (first name, last name) pairs as typed in the roster: either may be blank."""
        patterns = set()
        for first, last in pairs:
            patterns |= name_patterns(name_key(first), name_key(last))
        return cls(frozenset(patterns))

    def named_in(self, text: str | None) -> bool:
        """True when the text holds one of the patterns as whole consecutive words."""
        return bool(self.patterns) and not self.patterns.isdisjoint(word_windows(text) or ())


def name_patterns(first: str | None, last: str | None) -> set[str]:
    """Word-key patterns of one person: first last, last first, first and last run together, civility + last
    (none longer than MAX_NAME_WORDS words: such a name is not looked for)."""
    if not last:
        return set()
    patterns = {f"{civility} {last}" for civility in CIVILITIES}
    if first:
        patterns |= {f"{first} {last}", f"{last} {first}", (first + last).replace(" ", "")}
    return {pattern for pattern in patterns if len(pattern.split()) <= MAX_NAME_WORDS}


NO_NAMES = KnownNames(frozenset())


def reason(text: str | None, names: KnownNames) -> str | None:
    """Why the text is withheld (FORMULA, ERASED, CONTACT or NAME), or None when it may be shown."""
    return reason_without_names(text) or (NAME if names.named_in(text) else None)


def shown(text: str | None, names: KnownNames, instead: str = MASKED) -> str | None:
    """The text, or `instead` when the screen withholds it."""
    return instead if reason(text, names) else text


def withheld_label(what: str, text: str) -> str:
    """How a withheld piece of metadata is shown, `what` being e.g. « tableur masqué »: « tableur masqué 3fa1 », the same in dbt (filtrer_metadonnee),
    so that a report and the quality page name it alike; 4 hex digits of its MD5 tell two apart, not who."""
    return f"{what} {hashlib.md5(text.encode('utf-8')).hexdigest()[:4]}"


def screened_label(text: str | None, what: str, names: KnownNames) -> str | None:
    """A piece of metadata (spreadsheet title, tab, header) as it may be shown: itself, or its withheld label."""
    return withheld_label(what, text) if text is not None and reason(text, names) else text


_QUOTED = re.compile(r"«\s*([^«»]*?)\s*»")


def screened_quotes(message: str, names: KnownNames) -> str:
    """A French message with every « quoted » value the screen withholds replaced by its withheld label: messages
    quote what someone typed (a spreadsheet title, a tab, a file name), and are logged, reported and sent."""
    return _QUOTED.sub(
        lambda quoted: f"« {withheld_label('texte masqué', quoted[1])} »" if reason(quoted[1], names) else quoted[0],
        message,
    )


def folder_label(folder: Path, names: KnownNames) -> str:
    """A source folder as it may be published: its own name only, never the path to it, and screened."""
    return shown(folder.name, names, "dossier masqué") if folder.name else "dossier masqué"


class SourceFolder(BaseModel):
    """A `--source` folder given to the sync flow: Prefect stores a flow's parameters, and gets nothing of this
    one (the path is excluded from every serialisation and from its repr; the run report names the folder)."""

    chemin: Path = Field(exclude=True, repr=False)

    @classmethod
    def of(cls, folder: str | Path) -> SourceFolder:
        """The folder as given on the command line, made absolute (the flow may change directory)."""
        return cls(chemin=Path(folder).absolute())


def source_path(source: str | Path | SourceFolder | None) -> Path | None:
    """The folder a sync reads, whether it was given as a path or as a SourceFolder."""
    if source is None or source == "":
        return None
    return source.chemin if isinstance(source, SourceFolder) else Path(source)


@lru_cache(maxsize=4)
def _names_in(raw_db: Path, version: tuple[int, int]) -> KnownNames:
    """Every name the raw history still holds (all syncs), read once per state of the file."""
    import duckdb

    with duckdb.connect(str(raw_db), read_only=True) as con:
        if not con.execute("select count(*) from duckdb_tables() where table_name = 'promeneurs'").fetchone()[0]:
            return NO_NAMES
        rows = con.execute(
            "select distinct prenom, nom from promeneurs where nullif(trim(nom), '') is not null"
        ).fetchall()
    return KnownNames.from_pairs(rows)


def known_names(raw_db: Path) -> KnownNames:
    """The names the screen knows: every roster row of the raw history still holding one (cached per run)."""
    if not raw_db.exists():
        return NO_NAMES
    stat = raw_db.stat()
    return _names_in(raw_db, (stat.st_mtime_ns, stat.st_size))


def configured_known_names() -> KnownNames:
    """known_names of the configured warehouse; none when the settings or the history cannot be read (a
    message about a broken configuration is then screened for contact details and formulas only)."""
    try:
        from flows.settings import load_settings

        return known_names(load_settings().raw_db)
    except Exception:  # noqa: BLE001 (screening a message must never replace the failure it reports)
        return NO_NAMES


# --- The same rules in SQL: DuckDB functions, registered on dbt's connections by flows/screen_plugin.py ---

def name_pattern_list(first: str | None, last: str | None) -> list[str]:
    """name_patterns as a sorted list (a SQL function returns a list)."""
    return sorted(name_patterns(first, last))


def register(con) -> None:
    """Create the screen's SQL functions on a DuckDB connection (null in, null out; deterministic)."""
    from duckdb import list_type, sqltypes

    text = sqltypes.VARCHAR
    functions = {
        "pdn_cle_nom": (name_key, [text], text),
        "pdn_cle_texte": (text_key, [text], text),
        "pdn_motif_ecran": (reason_without_names, [text], text),
        "pdn_motifs_nom": (name_pattern_list, [text, text], list_type(text)),
        "pdn_fenetres_texte": (word_windows, [text], list_type(text)),
    }
    for name, (function, parameters, returns) in functions.items():
        con.create_function(
            name,
            function,
            parameters,
            returns,
            null_handling="special",
            side_effects=False,
        )
