"""The source configuration file (sources.toml): which spreadsheets to read and what they hold."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flows.errors import InputError

_KEY_IN_URL = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_KEY = re.compile(r"^[A-Za-z0-9_-]{10,}$")


@dataclass(frozen=True)
class Campaign:
    """A questionnaire campaign: the year it evaluates and when it was open."""

    annee: int
    ouverture: date
    cloture: date


@dataclass(frozen=True)
class SpreadsheetSource:
    """One spreadsheet: a Suivi (roster + activity log) or a questionnaire's response sheet."""

    kind: str  # 'suivi' | 'questionnaire'
    title: str  # the spreadsheet's title; for the files source, the export's file-name prefix
    key: str | None  # Google spreadsheet key (sheets source only)
    campaign: Campaign | None = None


@dataclass(frozen=True)
class SourceConfig:
    """The network's departments and its spreadsheets."""

    departements: tuple[str, ...]
    spreadsheets: tuple[SpreadsheetSource, ...]


def spreadsheet_key(key_or_url: str, where: str) -> str:
    """Accept a bare key or any Google Sheets URL; return the key."""
    value = key_or_url.strip()
    match = _KEY_IN_URL.search(value)
    if match:
        return match.group(1)
    if _KEY.match(value):
        return value
    raise InputError(f"{where} : « {value} » n'est ni une clé ni une adresse de Google Sheets.")


def _as_date(value: object, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as err:
        raise InputError(f"{where} : date « {value} » illisible (format attendu AAAA-MM-JJ).") from err


def _campaign(entry: dict, where: str) -> Campaign:
    try:
        annee = int(entry["annee"])
        ouverture = _as_date(entry["ouverture"], where)
        cloture = _as_date(entry["cloture"], where)
    except KeyError as err:
        raise InputError(f"{where} : le champ « {err.args[0]} » est obligatoire.") from err
    if cloture < ouverture:
        raise InputError(f"{where} : la clôture précède l'ouverture de la campagne.")
    return Campaign(annee=annee, ouverture=ouverture, cloture=cloture)


def _spreadsheet(entry: dict, kind: str, where: str) -> SpreadsheetSource:
    title = str(entry.get("titre", "")).strip()
    if not title:
        raise InputError(f"{where} : le champ « titre » est obligatoire.")
    raw_key = str(entry.get("cle", "")).strip()
    key = spreadsheet_key(raw_key, where) if raw_key else None
    campaign = _campaign(entry, where) if kind == "questionnaire" else None
    return SpreadsheetSource(kind=kind, title=title, key=key, campaign=campaign)


def parse_source_config(document: dict, origin: str) -> SourceConfig:
    """Build the configuration from a parsed TOML document."""
    departements = tuple(str(code).strip() for code in document.get("departements", ["03", "63"]))
    spreadsheets = [
        _spreadsheet(entry, "suivi", f"{origin} [[suivi]] n°{number}")
        for number, entry in enumerate(document.get("suivi", []), start=1)
    ] + [
        _spreadsheet(entry, "questionnaire", f"{origin} [[questionnaires]] n°{number}")
        for number, entry in enumerate(document.get("questionnaires", []), start=1)
    ]
    if not any(sheet.kind == "suivi" for sheet in spreadsheets):
        raise InputError(f"{origin} : aucun tableur de suivi ([[suivi]]) n'est déclaré.")
    return SourceConfig(departements=departements, spreadsheets=tuple(spreadsheets))


def load_source_config(path: Path) -> SourceConfig:
    """Read sources.toml, with French errors naming the file."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputError(f"Fichier de configuration introuvable : {path}") from err
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path.name} : syntaxe incorrecte ({err}).") from err
    return parse_source_config(document, path.name)
