"""The raw history's health: found damaged before use, backed up after each publication, `pdn reparer` restores it.

`raw.duckdb` is the one file that cannot be rebuilt from the sources (past versions of the sheets live only
there). A sync records its SHA-256 after landing (`raw.empreinte.json`, private folder); the next start
compares: the same bytes need no further look, other bytes (a purge, an erasure, a killed write, a disk
fault) are read back whole, and what does not read back stops everything with `DamagedHistory` (exit 6)
before anything is written or published. After each publication a copy is kept in `sauvegardes/` (the last
two); `pdn reparer` puts the newest sound one back and says which syncs it loses.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from flows.errors import DamagedHistory
from flows.settings import Settings
from flows.storage import (
    PRIVATE_FILE_MODE,
    database_damage,
    file_checksum,
    write_text_atomically,
    writing_atomically,
)

logger = logging.getLogger(__name__)

CHECKSUM_FILE = "raw.empreinte.json"
BACKUP_DIR = "sauvegardes"
DAMAGED_DIR = "endommages"  # damaged histories set aside by `pdn reparer`, for a look before deleting them
BACKUPS_KEPT = 2
REPAIR_HINT = "lancez « pdn reparer » pour le reconstruire depuis la dernière sauvegarde"


def _checksum_file(settings: Settings) -> Path:
    return settings.private_dir / CHECKSUM_FILE


def backups(settings: Settings) -> list[Path]:
    """The kept copies of the raw history, newest first (their names sort by sync id, which sorts by time)."""
    return sorted((settings.private_dir / BACKUP_DIR).glob("raw-*.duckdb"), reverse=True)


def backup_sync_id(backup: Path) -> str:
    """The sync after which a backup was taken."""
    return backup.stem.removeprefix("raw-")


def record_checksum(settings: Settings) -> None:
    """Remember the raw history's bytes as a sync left them; best effort (a missing record costs one full read)."""
    try:
        text = json.dumps({"sha256": file_checksum(settings.raw_db), "octets": settings.raw_db.stat().st_size})
        os.chmod(write_text_atomically(_checksum_file(settings), text), PRIVATE_FILE_MODE)
    except OSError as err:
        logger.warning("Empreinte de l'historique brut non enregistrée (%s) : il sera relu en entier.", err.strerror)


def _recorded_checksum(settings: Settings) -> str | None:
    try:
        return json.loads(_checksum_file(settings).read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def damaged(reason: str) -> DamagedHistory:
    """The French error of a damaged raw history: nothing published, and the way back."""
    return DamagedHistory(
        f"L'historique brut (raw.duckdb, dossier privé) est endommagé : {reason}. Rien n'a été publié ni "
        f"modifié ; {REPAIR_HINT} (voir « Récupération » dans le README)."
    )


def check_raw_history(settings: Settings) -> None:
    """Raise DamagedHistory unless the raw history reads back whole (or there is none yet, and never was)."""
    raw = settings.raw_db
    if not raw.exists():
        if _recorded_checksum(settings) is not None or backups(settings):
            raise damaged("le fichier a disparu")
        return
    recorded = _recorded_checksum(settings)
    if recorded is not None and file_checksum(raw) == recorded:
        return
    reason = database_damage(raw)
    if reason is not None:
        raise damaged(reason)
    record_checksum(settings)  # changed by a purge, an erasure or a replayed WAL, and sound: these bytes now


def keep_backup(settings: Settings, sync_id: str) -> str | None:
    """Copy the raw history (sound: checked at start, landed since) to `sauvegardes/`, keep the newest two.

    Returns a French event when no copy could be made: the sync published all the same."""
    target = settings.private_dir / BACKUP_DIR / f"raw-{sync_id}.duckdb"
    try:
        target.parent.mkdir(mode=0o700, exist_ok=True)
        with writing_atomically(target) as partial:
            shutil.copyfile(settings.raw_db, partial)
            os.chmod(partial, PRIVATE_FILE_MODE)
    except OSError as err:
        return (
            f"Sauvegarde de l'historique brut impossible ({err.strerror}) : les sauvegardes précédentes restent "
            f"({len(backups(settings))}) ; libérez de la place dans le dossier privé."
        )
    for old in backups(settings)[BACKUPS_KEPT:]:
        old.unlink(missing_ok=True)
    return None


def renew_backups(settings: Settings) -> str | None:
    """After an erasure or a purge: every copy of the history before it goes (set-aside damaged ones too), and
    one copy of the result is kept, named by the time it was taken (as a sync id). The caller holds the lock."""
    from flows.pipeline.run_report import new_sync_id

    for old in [*backups(settings), *(settings.private_dir / DAMAGED_DIR).glob("*")]:
        old.unlink(missing_ok=True)
    record_checksum(settings)
    return keep_backup(settings, new_sync_id())


@dataclass
class Repair:
    """What `pdn reparer` did, for its French summary."""

    intact: bool = False
    sauvegarde: str | None = None  # the sync the restored backup was taken after
    mis_de_cote: list[str] = field(default_factory=list)  # where the damaged files went
    syncs_perdues: list[str] = field(default_factory=list)  # landed after the backup: their snapshots are gone
    repartir_de_zero: bool = False


def _set_aside(settings: Settings) -> list[str]:
    """Move the damaged history (and its WAL) into `endommages/`: never deleted without a look."""
    folder = settings.private_dir / DAMAGED_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for path in (settings.raw_db, settings.raw_db.with_name(settings.raw_db.name + ".wal")):
        if path.exists():
            target = folder / f"{path.name}.{stamp}"
            os.replace(path, target)
            moved.append(str(target))
    _checksum_file(settings).unlink(missing_ok=True)
    return moved


def syncs_landed_after(runs_dir: Path, sync_id: str) -> list[str]:
    """Runs after `sync_id` that landed snapshots, from their run reports (replays land nothing)."""
    landed = []
    for path in sorted(runs_dir.glob("*.json")) if runs_dir.is_dir() else []:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if str(report.get("run_id", "")) > sync_id and report.get("lignes_lues"):
            landed.append(str(report["run_id"]))
    return sorted(set(landed))


def _restore(settings: Settings, backup: Path) -> None:
    with writing_atomically(settings.raw_db) as partial:
        shutil.copyfile(backup, partial)
        os.chmod(partial, PRIVATE_FILE_MODE)
    record_checksum(settings)


def repair(settings: Settings, from_scratch: bool = False) -> Repair:
    """`pdn reparer`: put the newest sound backup back (or, when asked, no history at all), under the lock."""
    from flows.pipeline.publish import warehouse_lock

    with warehouse_lock(settings.lock_file):
        if settings.raw_db.exists() and database_damage(settings.raw_db) is None:
            record_checksum(settings)
            return Repair(intact=True)
        if from_scratch:
            return Repair(mis_de_cote=_set_aside(settings), repartir_de_zero=True)
        sound = next((b for b in backups(settings) if database_damage(b) is None), None)
        if sound is None:
            raise DamagedHistory(
                "Aucune sauvegarde lisible de l'historique brut (dossier privé, sauvegardes/) : il ne peut pas être "
                "reconstruit. Pour repartir d'un historique vide, lancez « pdn reparer --repartir-de-zero » (le "
                "fichier endommagé est mis de côté, rien n'est supprimé) ; les synchronisations passées ne "
                "pourront plus être rejouées."
            )
        moved = _set_aside(settings)
        _restore(settings, sound)
        sync_id = backup_sync_id(sound)
        return Repair(sauvegarde=sync_id, mis_de_cote=moved, syncs_perdues=syncs_landed_after(settings.runs_dir, sync_id))


def format_repair(result: Repair) -> str:
    """The French summary of `pdn reparer`."""
    if result.intact:
        return "L'historique brut se relit en entier : rien à réparer."
    lines = []
    if result.repartir_de_zero:
        lines.append(
            "Historique brut mis de côté : la prochaine synchronisation repart d'un historique vide (les "
            "synchronisations passées ne peuvent plus être rejouées ; l'entrepôt publié reste en place)."
        )
    else:
        lines.append(f"Historique brut reconstruit depuis la sauvegarde prise après la synchronisation {result.sauvegarde}.")
        if result.syncs_perdues:
            lines.append(
                f"  Perdues de l'historique : {len(result.syncs_perdues)} synchronisation(s) chargée(s) après cette "
                f"sauvegarde ({', '.join(result.syncs_perdues)}) : elles ne peuvent plus être rejouées ; la prochaine "
                "synchronisation relit les tableurs tels qu'ils sont aujourd'hui."
            )
        else:
            lines.append("  Rien n'est perdu : aucune synchronisation n'avait chargé de données après cette sauvegarde.")
    for path in result.mis_de_cote:
        lines.append(
            f"  Fichier endommagé mis de côté : {path} (données personnelles : supprimez-le une fois la réparation "
            "vérifiée)."
        )
    lines.append("Lancez maintenant « pdn synchroniser ».")
    return "\n".join(lines)
