"""The source configuration file (sources.toml): which spreadsheets to read and what they hold.

The file is validated with a schema (pydantic): every error is a French message naming the file, the
line, the field and how to fix it. A configuration that could publish a wrong figure (the same
spreadsheet declared twice, a campaign whose year does not match its dates) is refused, never guessed.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flows.errors import InputError
from flows.settings import SAMPLE_DIR
from flows.sources.contract import normalise_label

_KEY_IN_URL = re.compile(r"/(?:spreadsheets|forms|document)/d/(?:e/)?([A-Za-z0-9_-]+)")
_KEY = re.compile(r"^[A-Za-z0-9_-]{10,}$")
_DEPARTEMENT = re.compile(r"^(0?[1-9]|[1-8][0-9]|9[0-5]|2[ABab]|97[1-6])$")


def spreadsheet_key(key_or_url: str, where: str) -> str:
    """Accept a bare key or any Google Sheets / Forms / Docs URL; return the key."""
    value = key_or_url.strip()
    match = _KEY_IN_URL.search(value)
    if match:
        return match.group(1)
    if _KEY.match(value):
        return value
    raise InputError(f"{where} : « {value} » n'est ni une clé ni une adresse de document Google.")


# ----------------------------------------------------------------------------------------------
# What the rest of the code uses
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Campaign:
    """A questionnaire campaign: the year it evaluates and when it was open."""

    annee: int
    ouverture: date
    cloture: date


@dataclass(frozen=True)
class SpreadsheetSource:
    """One source document: a Suivi (roster + activity log) or a questionnaire's responses."""

    kind: str  # 'suivi' | 'questionnaire'
    title: str  # the spreadsheet's title; for the files source, the export's file-name prefix
    key: str | None  # Google spreadsheet key (sheets source only)
    campaign: Campaign | None = None
    correspondances: tuple[tuple[str, str], ...] = ()  # questionnaire: a form title -> catalogue question
    form_id: str | None = None  # questionnaire read from the Google Forms API instead of its response sheet


@dataclass(frozen=True)
class Bounds:
    """Plausibility bounds: a value outside them quarantines its row (configurable in [bornes])."""

    date_min: date = date(2010, 1, 1)  # no Promeneur, action or answer before the network could exist
    mois_sortie_future: int = 12  # an exit may be announced this many months ahead of the sync
    participants_max: int = 1000
    duree_jours_max: float = 10.0

    def as_record(self) -> dict[str, Any]:
        """JSON-friendly form, recorded with each sync so that replays apply the same bounds."""
        return {
            "date_min": self.date_min.isoformat(),
            "mois_sortie_future": self.mois_sortie_future,
            "participants_max": self.participants_max,
            "duree_jours_max": self.duree_jours_max,
        }


@dataclass(frozen=True)
class Narrative:
    """The coordinator's text of one year's bilan: a Google Doc, or a Markdown file (offline)."""

    annee: int
    document_id: str | None = None
    fichier: Path | None = None  # resolved against the directory of sources.toml


@dataclass(frozen=True)
class BilanSettings:
    """What the bilan shows besides the data ([bilan] in sources.toml)."""

    organisation: str | None = None  # on the cover, e.g. « Fédération des Centres Sociaux de l'Allier »
    seuil_confidentialite: int = 5  # K: a questionnaire group is shown only with at least K respondents
    # (month, day) of year N+1 on which year N closes by itself (`pdn cloturer` at the first sync after it).
    cloture_automatique: tuple[int, int] | None = None


@dataclass(frozen=True)
class WriteBack:
    """The « À corriger » tab written back into each spreadsheet after a sync ([retour]; off by default)."""

    actif: bool = False


@dataclass(frozen=True)
class SourceConfig:
    """The network's départements, its spreadsheets, the plausibility bounds and what the bilan needs."""

    departements: tuple[str, ...]
    spreadsheets: tuple[SpreadsheetSource, ...]
    bounds: Bounds = Bounds()
    bilan: BilanSettings = BilanSettings()
    recits: tuple[Narrative, ...] = ()
    retour: WriteBack = WriteBack()

    def narrative(self, annee: int) -> Narrative | None:
        """The narrative document declared for that year, if any."""
        return next((recit for recit in self.recits if recit.annee == annee), None)


# ----------------------------------------------------------------------------------------------
# The schema of sources.toml
# ----------------------------------------------------------------------------------------------


def _code_departement(value: Any) -> str:
    text = str(value).strip()
    if not _DEPARTEMENT.match(text):
        raise ValueError(f"« {text} » n'est pas un code de département (par exemple \"03\" ou \"63\")")
    return text.upper().zfill(2)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    titre: Annotated[str, Field(min_length=1)]
    cle: str | None = None


class _Suivi(_Entry):
    pass


class _Questionnaire(_Entry):
    formulaire: str | None = None
    annee: Annotated[int, Field(ge=2000, le=2100)]
    ouverture: date
    cloture: date
    correspondances: dict[str, str] = {}

    @field_validator("correspondances")
    @classmethod
    def _known_questions(cls, value: dict[str, str]) -> dict[str, str]:
        from flows.sources.catalogue import question_codes

        codes = question_codes()
        unknown = sorted({code for code in value.values() if code not in codes})
        if unknown:
            raise ValueError(
                f"question(s) inconnue(s) du catalogue : {', '.join(unknown)} (codes permis : {', '.join(codes)})"
            )
        return value

    @model_validator(mode="after")
    def _dates_agree(self) -> _Questionnaire:
        if self.cle and self.formulaire:
            raise ValueError(
                "« cle » (la feuille de réponses) et « formulaire » (le formulaire Google Forms) sont donnés "
                "ensemble : une campagne se lit d'un seul endroit, gardez l'un des deux"
            )
        if self.cloture < self.ouverture:
            raise ValueError("la clôture précède l'ouverture de la campagne")
        if self.annee not in (self.ouverture.year, self.cloture.year - 1):
            raise ValueError(
                f"l'année évaluée ({self.annee}) ne correspond pas aux dates de la campagne "
                f"({self.ouverture:%d/%m/%Y} au {self.cloture:%d/%m/%Y}) : « annee » doit être l'année "
                f"de l'ouverture ({self.ouverture.year}) ou l'année qui précède la clôture "
                f"({self.cloture.year - 1})"
            )
        return self


class _Bornes(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date_min: date = Bounds.date_min
    mois_sortie_future: Annotated[int, Field(ge=0, le=120)] = Bounds.mois_sortie_future
    participants_max: Annotated[int, Field(ge=1)] = Bounds.participants_max
    duree_jours_max: Annotated[float, Field(gt=0)] = Bounds.duree_jours_max


class _Bilan(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organisation: Annotated[str, Field(min_length=1)] | None = None
    seuil_confidentialite: Annotated[int, Field(ge=1, le=100)] = BilanSettings.seuil_confidentialite
    cloture_automatique: str | None = None  # « 31/03 »: day/month of the following year

    @field_validator("cloture_automatique")
    @classmethod
    def _day_and_month(cls, value: str | None) -> str | None:
        if value is not None:
            _closing_day(value)
        return value


def _closing_day(text: str) -> tuple[int, int]:
    """« 31/03 » as (3, 31); a French error for anything that is not a day of the year."""
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})", text)
    try:
        day, month = (int(part) for part in match.groups())  # type: ignore[union-attr]
        date(2001, month, day)  # not a leap year: 29/02 would close some years only
        return month, day
    except (AttributeError, ValueError):
        raise ValueError("jour et mois attendus au format JJ/MM entre guillemets (par exemple \"31/03\")") from None


class _Recit(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    annee: Annotated[int, Field(ge=2000, le=2100)]
    document: str | None = None
    fichier: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_place(self) -> _Recit:
        if bool(self.document) == bool(self.fichier):
            raise ValueError(
                "indiquez soit « document » (l'adresse du document Google Docs), soit « fichier » (un fichier "
                "Markdown), un seul des deux"
            )
        return self


class _Retour(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    actif: bool = WriteBack.actif


class _SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    departements: Annotated[list[Annotated[str, Field()]], Field(min_length=1)] = ["03", "63"]
    bornes: _Bornes = _Bornes()
    bilan: _Bilan = _Bilan()
    suivi: Annotated[list[_Suivi], Field(min_length=1)]
    questionnaires: list[_Questionnaire] = []
    recits: list[_Recit] = []
    retour: _Retour = _Retour()

    @field_validator("departements", mode="before")
    @classmethod
    def _list_of_codes(cls, value: Any) -> list[str]:
        if isinstance(value, str):
            raise ValueError(
                "« departements » doit être une liste entre crochets, chaque code entre guillemets : "
                'departements = ["03", "63"]'
            )
        if not isinstance(value, list):
            raise ValueError('« departements » doit être une liste : departements = ["03", "63"]')
        codes = [_code_departement(code) for code in value]
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise ValueError(f"le département {', '.join(repeated)} est indiqué deux fois")
        return codes


# ----------------------------------------------------------------------------------------------
# Errors that point at a line
# ----------------------------------------------------------------------------------------------

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z_]+)\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([A-Za-z_.]+)\s*\]")
_KEY_LINE = re.compile(r'^\s*"?([^"=\s]+)"?\s*=')


def _line_index(text: str) -> dict[tuple, int]:
    """Line number of each (section, entry index, key) of the TOML text, for error messages."""
    lines: dict[tuple, int] = {}
    counts: dict[str, int] = {}
    section: tuple = ()
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _ARRAY_HEADER.match(line):
            name = match.group(1)
            counts[name] = counts.get(name, -1) + 1
            section = (name, counts[name])
            lines.setdefault(section, number)
        elif match := _TABLE_HEADER.match(line):
            parts = tuple(match.group(1).split("."))
            # [questionnaires.correspondances] belongs to the current [[questionnaires]] entry.
            section = (*section[:2], *parts[1:]) if section and parts[0] == section[0] else parts
            lines.setdefault(section, number)
        elif match := _KEY_LINE.match(line):
            lines.setdefault((*section, match.group(1)), number)
    return lines


def _entry_name(loc: tuple) -> str:
    """« [[questionnaires]] n°2 » or « [bornes] » for a location of the document."""
    if len(loc) >= 2 and loc[0] in ("suivi", "questionnaires", "recits") and isinstance(loc[1], int):
        return f"[[{loc[0]}]] n°{loc[1] + 1}"
    if len(loc) >= 1 and loc[0] in ("bornes", "bilan", "retour"):
        return f"[{loc[0]}]"
    return ""


_TYPE_MESSAGES = {
    "extra_forbidden": "champ inconnu (faute de frappe ? les champs permis sont décrits dans sources.example.toml)",
    "int_parsing": "nombre entier attendu, sans guillemets (par exemple annee = 2019)",
    "int_type": "nombre entier attendu, sans guillemets (par exemple annee = 2019)",
    "int_from_float": "nombre entier attendu (sans décimale)",
    "float_parsing": "nombre attendu, sans guillemets, avec un point décimal (par exemple 0.5)",
    "float_type": "nombre attendu, sans guillemets, avec un point décimal (par exemple 0.5)",
    "date_from_datetime_parsing": "date attendue au format AAAA-MM-JJ, sans guillemets (par exemple 2019-12-01)",
    "date_parsing": "date attendue au format AAAA-MM-JJ, sans guillemets (par exemple 2019-12-01)",
    "date_type": "date attendue au format AAAA-MM-JJ, sans guillemets (par exemple 2019-12-01)",
    "date_from_datetime_inexact": "date sans heure attendue (AAAA-MM-JJ)",
    "string_type": "texte attendu, entre guillemets",
    "list_type": "liste attendue, entre crochets",
    "too_short": "au moins une entrée est attendue",
    "string_too_short": "ne doit pas être vide",
    "greater_than_equal": "valeur trop petite",
    "less_than_equal": "valeur trop grande",
    "greater_than": "valeur trop petite",
    "model_type": "section attendue",
    "bool_type": "true ou false attendu, sans guillemets (par exemple actif = true)",
}


def _describe(error: dict) -> str:
    if error["type"] == "value_error":
        return str(error["ctx"]["error"])
    message = _TYPE_MESSAGES.get(error["type"], error["msg"])
    if error["type"] in ("greater_than_equal", "less_than_equal", "greater_than"):
        limit = next(iter(error.get("ctx", {}).values()), "")
        message += f" (limite : {limit})"
    if error["type"] not in ("missing", "extra_forbidden") and "input" in error and not isinstance(
        error["input"], (dict, list)
    ):
        message += f" ; lu : « {error['input']} »"
    return message


def _validation_message(origin: str, err: ValidationError, lines: dict[tuple, int]) -> str:
    """Every schema error as « file, line N, [[section]] n°k, champ « x » : what is wrong »."""
    parts = []
    for error in err.errors():
        loc = tuple(error["loc"])
        field = next((str(part) for part in reversed(loc) if isinstance(part, str)), "")
        if error["type"] == "missing" and loc == ("suivi",):
            parts.append("aucun tableur de suivi ([[suivi]]) n'est déclaré")
            continue
        if error["type"] == "missing":
            entry = _entry_name(loc)
            line = lines.get(loc[:2])
            place = ", ".join(p for p in (f"ligne {line}" if line and entry else "", entry) if p)
            parts.append(f"{place + ' : ' if place else ''}le champ « {field} » est obligatoire")
            continue
        line = lines.get(loc) or lines.get(loc[:-1] if len(loc) > 1 else loc) or lines.get(loc[:2])
        if loc and loc[0] in ("suivi", "questionnaires") and len(loc) == 1:
            line = None
        where = ", ".join(
            part
            for part in (
                f"ligne {line}" if line else "",
                _entry_name(loc),
                f"champ « {field} »" if field and field not in ("suivi", "questionnaires") or len(loc) == 1 else "",
            )
            if part
        )
        parts.append(f"{where} : {_describe(error)}" if where else _describe(error))
    return f"{origin} : " + " ; ".join(parts) + "."


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------


def _source(entry: _Entry, kind: str, where: str) -> SpreadsheetSource:
    key = spreadsheet_key(entry.cle, where) if entry.cle else None
    if not isinstance(entry, _Questionnaire):
        return SpreadsheetSource(kind=kind, title=entry.titre, key=key)
    return SpreadsheetSource(
        kind=kind,
        title=entry.titre,
        key=key,
        campaign=Campaign(annee=entry.annee, ouverture=entry.ouverture, cloture=entry.cloture),
        correspondances=tuple(entry.correspondances.items()),
        form_id=spreadsheet_key(entry.formulaire, where) if entry.formulaire else None,
    )


def _refuse_duplicates(origin: str, named: list[tuple[str, int | None, SpreadsheetSource]]) -> None:
    """The same document declared twice would be counted twice: refuse, naming both entries."""
    seen: dict[tuple[str, str], str] = {}
    for label, line, source in named:
        place = f"{label} (ligne {line})" if line else label
        for what, value in (
            ("la même clé", source.key),
            ("la même clé", source.form_id),
            ("le même titre", normalise_label(source.title)),
        ):
            if not value:
                continue
            first = seen.setdefault((what, value), place)
            if first != place:
                shown = value if what == "la même clé" else source.title
                raise InputError(
                    f"{origin} : {first} et {place} déclarent {what} (« {shown} ») : un même tableur "
                    "déclaré deux fois serait compté deux fois. Supprimez l'une des deux entrées."
                )


def _refuse_two_campaigns_for_one_year(origin: str, named: list[tuple[str, int | None, SpreadsheetSource]]) -> None:
    """A year is evaluated by one campaign: its closing date is the participation rate's denominator."""
    seen: dict[int, str] = {}
    for label, line, source in named:
        if source.campaign is None:
            continue
        place = f"{label} (ligne {line})" if line else label
        first = seen.setdefault(source.campaign.annee, place)
        if first != place:
            raise InputError(
                f"{origin} : {first} et {place} évaluent la même année ({source.campaign.annee}) : une année est "
                "évaluée par une seule campagne (sa date de clôture sert au taux de participation)."
            )


def _narratives(origin: str, entries: list[_Recit], lines: dict[tuple, int], base_dir: Path) -> tuple[Narrative, ...]:
    """One narrative per year; a file path is relative to the directory of sources.toml."""
    narratives: dict[int, Narrative] = {}
    for n, entry in enumerate(entries, start=1):
        line = lines.get(("recits", n - 1))
        file_line = lines.get(("recits", n - 1, "fichier"))
        where = f"{origin} [[recits]] n°{n}" + (f" (ligne {line})" if line else "")
        if entry.annee in narratives:
            raise InputError(f"{where} : l'année {entry.annee} a déjà un récit : un seul document par année.")
        narratives[entry.annee] = Narrative(
            annee=entry.annee,
            document_id=spreadsheet_key(entry.document, where) if entry.document else None,
            fichier=_file_inside(base_dir, entry.fichier, f"{origin} [[recits]] n°{n}", file_line or line)
            if entry.fichier
            else None,
        )
    return tuple(narratives.values())


def _file_inside(base_dir: Path, name: str, where: str, line: int | None) -> Path:
    """A récit file of the folder of sources.toml (links followed): a folder received from someone else must
    not make the bilan print /etc/passwd or the private pseudonym key."""
    folder = base_dir.resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(folder):
        place = f"{where} (ligne {line})" if line else where
        raise InputError(
            f"{place} : le fichier « {name} » n'est pas dans le dossier de sources.toml ({folder}). Un récit "
            "doit être un fichier de ce dossier ou de l'un de ses sous-dossiers : pas de chemin absolu, pas de "
            "« .. », pas de lien vers un autre dossier. Copiez le fichier dans ce dossier."
        )
    return path


def parse_source_config(document: dict, origin: str, text: str = "", base_dir: Path = Path(".")) -> SourceConfig:
    """Build the configuration from a parsed TOML document; `text` (the file) lets errors name lines."""
    lines = _line_index(text)
    try:
        parsed = _SourcesFile.model_validate(document)
    except ValidationError as err:
        raise InputError(_validation_message(origin, err, lines)) from None
    named = [
        (f"[[suivi]] n°{n}", lines.get(("suivi", n - 1)), _source(e, "suivi", f"{origin} [[suivi]] n°{n}"))
        for n, e in enumerate(parsed.suivi, start=1)
    ] + [
        (
            f"[[questionnaires]] n°{n}",
            lines.get(("questionnaires", n - 1)),
            _source(e, "questionnaire", f"{origin} [[questionnaires]] n°{n}"),
        )
        for n, e in enumerate(parsed.questionnaires, start=1)
    ]
    _refuse_duplicates(origin, named)
    _refuse_two_campaigns_for_one_year(origin, named)
    bornes = parsed.bornes
    return SourceConfig(
        departements=tuple(parsed.departements),
        spreadsheets=tuple(source for _, _, source in named),
        bounds=Bounds(bornes.date_min, bornes.mois_sortie_future, bornes.participants_max, bornes.duree_jours_max),
        bilan=BilanSettings(
            parsed.bilan.organisation,
            parsed.bilan.seuil_confidentialite,
            _closing_day(parsed.bilan.cloture_automatique) if parsed.bilan.cloture_automatique else None,
        ),
        recits=_narratives(origin, parsed.recits, lines, base_dir),
        retour=WriteBack(parsed.retour.actif),
    )


_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def _decoded(data: bytes, name: str) -> str:
    """The file's text: UTF-8 without BOM, else a French error saying how to save it."""
    how = (
        "enregistrez-le en « UTF-8 » sans BOM (Bloc-notes : Fichier → Enregistrer sous → Codage : UTF-8 ; "
        "LibreOffice ou VS Code : UTF-8)"
    )
    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{name} : le fichier commence par une marque d'ordre d'octets (BOM) ; {how}.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(f"{name} : ligne {line}, le texte n'est pas en UTF-8 (un accent enregistré en "
                         f"Windows-1252 ou Latin-1 ?) ; {how}.") from None


def load_source_config(path: Path) -> SourceConfig:
    """Read sources.toml, with French errors naming the file, the line and the field."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"Fichier de configuration introuvable : {path}") from None
    except OSError as err:
        raise InputError(f"Fichier de configuration illisible : {path} ({err.strerror}).") from None
    text = _decoded(data, path.name)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        position = _TOML_POSITION.search(str(err))
        where = f"ligne {position.group(1)}, colonne {position.group(2)}" if position else "fin du fichier"
        raise InputError(
            f"{path.name} : syntaxe incorrecte, {where} ({_TOML_POSITION.sub('', str(err)).strip()}). "
            "Vérifiez les guillemets autour des textes, les crochets des listes, le signe = de chaque champ et "
            "les noms de champs, sans accent (modèle : sources.example.toml)."
        ) from None
    return parse_source_config(document, path.name, text, path.parent)


def config_file_for(sources_file: Path | None, source_dir: Path | None) -> Path:
    """The sources.toml in force: PDN_SOURCES, else the folder's own, else the bundled sample's."""
    if sources_file is not None:
        return sources_file
    if source_dir is None:
        return SAMPLE_DIR / "sources.toml"
    config_file = source_dir / "sources.toml"
    if not config_file.exists():
        raise InputError(
            f"Aucun fichier sources.toml dans {source_dir} et PDN_SOURCES n'est pas défini : "
            "impossible de savoir quels tableurs lire (voir sources.example.toml)."
        )
    return config_file

