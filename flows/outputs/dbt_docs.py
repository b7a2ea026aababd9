"""`pdn documentation`: the dbt documentation site (marts, columns, lineage, exposures) of the published warehouse.

dbt reads the column types of the catalog from a database it opens for writing, so it works on a
private copy of the published file: the file analysts and the BI tool read is never locked, and a
sync may replace it meanwhile. The site is written to $PDN_WAREHOUSE_DIR/docs-dbt/, where
`static_index.html` is a single self-contained page (manifest and catalog inlined) to open offline.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from flows.errors import InputError, PdnError
from flows.pipeline.transform import invoke_dbt
from flows.settings import DBT_PROJECT_DIR, Settings

DOCS_SUBDIR = "docs-dbt"
SITE_FILES = ("static_index.html", "index.html", "manifest.json", "catalog.json")


class DocsFailed(PdnError):
    """dbt could not generate the documentation (exit 1)."""

    exit_code = 1


def docs_dir(settings: Settings) -> Path:
    """Where the documentation site is written."""
    return settings.warehouse_dir / DOCS_SUBDIR


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for dbt's profile, then restore them (dbt runs in this process)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def generate_site(database: Path, work_dir: Path) -> Path:
    """Run `dbt docs generate --static` against `database`; return dbt's target folder."""
    # The profile attaches the raw history read-only: an empty file stands in for it (nothing reads it,
    # since --no-compile skips compilation and the catalog only describes the marts).
    raw = work_dir / "raw.duckdb"
    duckdb.connect(str(raw)).close()
    target = work_dir / "target"
    common = [
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target),
        "--log-path", str(work_dir / "logs"),
    ]
    with _environment(PDN_DBT_DATABASE=str(database), PDN_RAW_DATABASE=str(raw)):
        # `docs generate --no-compile` reuses the manifest that `parse` writes.
        result = invoke_dbt(["--quiet", "--no-use-colors", "parse", *common])
        if result.success:
            result = invoke_dbt(
                ["--quiet", "--no-use-colors", "docs", "generate", "--static", "--no-compile", *common]
            )
    if not result.success or not (target / "static_index.html").exists():
        raise DocsFailed(f"dbt n'a pas pu générer la documentation : {result.exception or 'voir les journaux dbt'}.")
    return target


def build_docs(settings: Settings) -> Path:
    """Generate the documentation of the published warehouse; return the self-contained page."""
    published = settings.published_db
    if not published.exists():
        raise InputError(f"Aucun entrepôt publié ({published}) : lancez d'abord « pdn synchroniser ».")
    destination = docs_dir(settings)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pdn-docs-", dir=destination.parent) as tmp:
        work_dir = Path(tmp)
        # Named like the published file so the site shows the same database name (pdn).
        copy = work_dir / published.name
        shutil.copyfile(published, copy)
        target = generate_site(copy, work_dir)
        site = work_dir / "site"
        site.mkdir()
        for name in SITE_FILES:
            shutil.copy2(target / name, site / name)
        # Swap the folder in: a reader sees the old site or the new one, never a mix.
        previous = work_dir / "ancien"
        if destination.exists():
            destination.rename(previous)
        site.rename(destination)
    return destination / "static_index.html"
