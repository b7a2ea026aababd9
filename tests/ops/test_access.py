"""`pdn acces`: the extract for one person quotes what concerns them and names nobody else.

The raw history is landed from a copy of the bundled sample with the flow's landing step (the extract reads
the raw history only); `pdn acces` runs through the CLI."""

from __future__ import annotations

import csv
import re
import shutil
import sys
from pathlib import Path

import pytest

from flows.settings import SAMPLE_DIR, Settings
from tests.ops.test_erasure import ACTIVITIES, BY_NAME, EXTRACTED, ROSTER, SamplePerson

OTHER_PHONE = "04 70 11 22 33"  # written in a comment about both people: not the extract's person's


def rewrite(path: Path, edit) -> None:
    """Rewrite a CSV export after `edit(rows)` changed its rows in place."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    edit(rows)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)


def name_both_in_one_comment(rows: list[list[str]]) -> None:
    """Line 3 of the activity log names the extract's person and another Promeneur, with address and phone."""
    comment = rows[0].index("Commentaire")
    a, b = EXTRACTED, BY_NAME
    rows[2][comment] = (
        f"Contact : {a.nom.upper()} {a.prenom} ({a.email}), avec {b.prenom} {b.nom} ({b.email}, {OTHER_PHONE}) "
        f"et Mme {b.nom}"
    )


def name_the_other_in_their_remarks(rows: list[list[str]]) -> None:
    """The extract's person's own roster row remarks name the other Promeneur (in their own row)."""
    remarks, email = rows[0].index("Remarques"), rows[0].index("E-mail")
    for row in rows[1:]:
        if row[email].lower() == EXTRACTED.email.lower():
            row[remarks] = f"Binôme avec {BY_NAME.nom.upper()} {BY_NAME.prenom}"


@pytest.fixture
def history(warehouse: Settings, tmp_path: Path) -> Settings:
    """A raw history landed from the sample with those two rows changed (landing only: no build needed)."""
    from flows.pipeline.land import land_sync
    from flows.sources.config import load_source_config
    from flows.sources.files import extract_files

    exports = Path(shutil.copytree(SAMPLE_DIR, tmp_path / "exports"))
    rewrite(exports / ACTIVITIES, name_both_in_one_comment)
    rewrite(exports / ROSTER, name_the_other_in_their_remarks)
    config = load_source_config(exports / "sources.toml")
    land_sync(warehouse.raw_db, "sync-acces", "fichiers", config.departements, extract_files(exports, config), [],
              warehouse.pseudonym_key())
    return warehouse


def run_access(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """`pdn acces ARGS`; returns the exit code and the extract's text."""
    from flows.cli import main

    monkeypatch.setattr(sys, "argv", ["pdn"])
    code = main(["acces", *args])
    extract = re.search(r"Extrait écrit : (\S+)", capsys.readouterr().out)
    return code, Path(extract[1]).read_text(encoding="utf-8") if extract else ""


def identities(person: SamplePerson) -> list[str]:
    """How a person may be named: address, full name both ways, surname."""
    return [person.email, f"{person.prenom} {person.nom}", f"{person.nom} {person.prenom}", person.nom]


def test_the_extract_names_no_other_person_in_the_text_it_quotes(history, monkeypatch, capsys):
    code, text = run_access(monkeypatch, capsys, "--email", EXTRACTED.email)

    assert code == 0
    assert [found for found in identities(BY_NAME) if found.lower() in text.lower()] == []
    assert OTHER_PHONE not in text
    # What concerns the person is still quoted: their own name and address, the rest of the comment and remarks.
    assert f"Commentaire : Contact : {EXTRACTED.nom.upper()} {EXTRACTED.prenom} ({EXTRACTED.email}), avec " \
           "[autre personne] ([autre personne], [autre personne]) et [autre personne]" in text
    assert "Remarques : Binôme avec [autre personne]" in text


def test_the_other_persons_extract_quotes_the_same_comment_the_other_way_round(history, monkeypatch, capsys):
    code, text = run_access(monkeypatch, capsys, "--email", BY_NAME.email)

    assert code == 0
    assert [found for found in identities(EXTRACTED) if found.lower() in text.lower()] == []
    assert f"Commentaire : Contact : [autre personne] ([autre personne]), avec {BY_NAME.prenom} {BY_NAME.nom} " \
           f"({BY_NAME.email}, [autre personne]) et Mme {BY_NAME.nom}" in text
