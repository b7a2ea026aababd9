"""The pseudonym key as part of the history: its fingerprint, the check every writer makes, the ring of old keys.

Every pseudonymous key and every erased person's fingerprint in raw.duckdb is an HMAC under one secret key.
Under another key nothing matches: an erased person would be landed again in full and `pdn oubli` would find
nobody. So each sync records a keyed fingerprint of its key (syncs.empreinte_cle: HMAC(key, a constant
label), truncated, never the key), and whatever reads or writes keys refuses to run when the key in use is not
the history's. `pdn recle` (flows/ops/rekey.py) moves the history to a new key and keeps the old one in a
ring (private/cles/<fingerprint>.key), because erased people's keys cannot be recomputed without their
names: landing checks their rows under the key their erasure was made with.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import duckdb

from flows.errors import InputError
from flows.identity import MentionFinder
from flows.settings import Settings
from flows.storage import PRIVATE_FILE_MODE, ensure_private_dir

FINGERPRINT_LABEL = b"pdn-warehouse : empreinte de la cle de pseudonymisation, v1"
FINGERPRINT_CHARS = 16  # 64 bits: enough to tell keys apart, far too short to be of any use against one
RING_DIR = "cles"


def key_fingerprint(key: bytes) -> str:
    """A keyed fingerprint of the key (HMAC of a constant label): tells keys apart, reveals nothing of them."""
    return hmac.new(key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:FINGERPRINT_CHARS]


def history_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    """The fingerprint of the key the history was written with (its latest sync's); None before any."""
    columns = con.execute(
        "select count(*) from duckdb_columns() where table_name = 'syncs' and column_name = 'empreinte_cle' "
        "and database_name = current_database()"
    ).fetchone()[0]
    if not columns:
        return None
    found = con.execute(
        "select empreinte_cle from syncs where empreinte_cle is not null order by started_at desc limit 1"
    ).fetchone()
    return found[0] if found else None


def wrong_key_message(current: str, recorded: str) -> str:
    """What the coordinator reads when the key in use is not the history's, and the two ways out."""
    return (
        f"La clé de pseudonymisation en usage (empreinte {current}) n'est pas celle avec laquelle l'historique "
        f"brut a été écrit (empreinte {recorded}). Avec une autre clé, les personnes effacées seraient chargées "
        "de nouveau et comptées deux fois, et « pdn oubli » ou « pdn acces » ne trouveraient personne : rien n'a "
        "été fait. Remettez la clé d'origine (variable PDN_PSEUDONYM_KEY, ou fichier pseudonym.key du dossier "
        "privé), ou, si la clé a été changée exprès, passez l'historique à la nouvelle clé avec « pdn recle » "
        " en donnant l'ancienne : PDN_ANCIEN_PSEUDONYM_KEY ou --ancienne-cle-fichier."
    )


def require_history_key(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Refuse (exit 2) when the key in use is not the one the history was written with."""
    recorded = history_fingerprint(con)
    if recorded is not None and recorded != key_fingerprint(key):
        raise InputError(wrong_key_message(key_fingerprint(key), recorded))


def check_history_key(settings: Settings) -> None:
    """require_history_key on the configured raw history, if there is one (a first sync has nothing to match)."""
    if not settings.raw_db.exists():
        return
    key = settings.pseudonym_key()
    with duckdb.connect(str(settings.raw_db), read_only=True) as con:
        require_history_key(con, key)


def prepare_key(settings: Settings, sample: bool) -> list[str]:
    """Before a sync or a replay: the bundled sample's key created if none is set, then the history's checked.

    Returns the run summary's events (a key was created, and where)."""
    events = []
    if sample and settings.create_sample_key():
        events.append(
            f"Clé de pseudonymisation créée pour l'échantillon fourni : {settings.pseudonym_key_file} "
            "(à conserver avec l'historique ; pour de vraies sources, définissez PDN_PSEUDONYM_KEY)."
        )
    check_history_key(settings)
    return events


# --- The ring: keys the history was written with before a `pdn recle` ---------------------------------------


def ring_dir(private_dir: Path) -> Path:
    return private_dir / RING_DIR


def keep_in_ring(private_dir: Path, key: bytes) -> Path:
    """Keep an old key (owner-only file named by its fingerprint): erasures made under it still need it."""
    ensure_private_dir(private_dir)
    folder = ring_dir(private_dir)
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{key_fingerprint(key)}.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
    return path


def ring_keys(private_dir: Path) -> dict[str, bytes]:
    """Every old key of the ring, by fingerprint (a file whose content does not match its name is ignored)."""
    folder = ring_dir(private_dir)
    keys = {}
    for path in sorted(folder.glob("*.key")) if folder.is_dir() else ():
        key = path.read_bytes()
        if key_fingerprint(key) == path.stem:
            keys[path.stem] = key
    return keys


def missing_ring_key_message(fingerprint: str) -> str:
    """An erasure was made under a key that is neither the current one nor in the ring."""
    return (
        f"Des effacements ont été faits avec une ancienne clé de pseudonymisation (empreinte {fingerprint}) "
        "qui n'est plus dans le trousseau du dossier privé (cles/) : sans elle, ces personnes ne seraient plus "
        "reconnues et seraient chargées de nouveau. Rien n'a été fait. Remettez le dossier cles/ du dossier privé "
        "tel qu'il était (sauvegarde)."
    )


@dataclass(frozen=True)
class MentionsUnderKeys:
    """Mentions of erased people fingerprinted under several keys (today's and the ring's), read as one."""

    finders: tuple[MentionFinder, ...]

    @cached_property
    def fingerprints(self) -> frozenset[str]:
        return frozenset().union(*(finder.fingerprints for finder in self.finders))

    def redact(self, value: object) -> object:
        """The value with every mention, under any of the keys, replaced by « [effacé] »."""
        for finder in self.finders:
            value = finder.redact(value)
        return value
