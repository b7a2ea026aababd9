"""Google Forms API source: a questionnaire campaign read from its form instead of its response sheet.

Per campaign and sync: one `forms.get` (the questions: ids, titles, kinds) and `forms.responses.list`
pages. The first read (or `pdn synchroniser --complet`) takes every response; later reads only those submitted
since the latest one already landed (`timestamp > …`), and the sync uses the earlier reads too: a
response edited since appears again, and only its latest submission counts (dbt staging). Checkbox
answers arrive as lists and are kept as lists. The questions' ids and titles are landed with each read,
so a question keeps the catalogue match of its first title when it is reworded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
from gspread.exceptions import APIError

from flows.errors import InputError
from flows.sources.config import SpreadsheetSource
from flows.sources.contract import REPONSES, map_header, normalise_label
from flows.sources.snapshot import TabSnapshot

log = logging.getLogger(__name__)

FORMS_API = "https://forms.googleapis.com/v1/forms"
RESPONSES_TAB = "Réponses (API Google Forms)"
TIME_ZONE = "Europe/Paris"  # what the linked response sheet shows; timestamps are compared in local time
HORODATEUR, EMAIL, DEPARTEMENT = (REPONSES.columns[name] for name in ("horodateur", "email", "departement"))


@dataclass(frozen=True)
class FormQuestion:
    """One answerable question of a form (a grid row is one question, titled « Grid [row] »)."""

    question_id: str
    title: str
    multiple: bool  # a checkbox question: its answer is a list of choices


@dataclass(frozen=True)
class FormChain:
    """The reads of a form the latest sync used, and the latest submission time they hold."""

    snapshot_ids: list[str]
    latest_submission: str | None  # RFC 3339, the high-water mark of the next incremental read
    question_titles: list[tuple[str, str]]  # (question id, title) of the latest read


def form_questions(form: dict) -> list[FormQuestion]:
    """The answerable questions of a `forms.get` resource, in form order."""
    questions = []
    for item in form.get("items", []):
        title = str(item.get("title", "")).strip()
        if "questionItem" in item:
            question = item["questionItem"]["question"]
            kind = question.get("choiceQuestion", {}).get("type")
            questions.append(FormQuestion(question["questionId"], title, kind == "CHECKBOX"))
        elif "questionGroupItem" in item:
            group = item["questionGroupItem"]
            multiple = group.get("grid", {}).get("columns", {}).get("type") == "CHECKBOX"
            for row in group.get("questions", []):
                row_title = row.get("rowQuestion", {}).get("title", "")
                questions.append(FormQuestion(row["questionId"], f"{title} [{row_title}]", multiple))
    return questions


def last_chain(raw_db: Path, form_id: str) -> FormChain | None:
    """The latest sync's reads of this form, if it was ever landed."""
    if not raw_db.exists():
        return None
    with duckdb.connect(str(raw_db), read_only=True) as con:
        rows = con.execute(
            """
            with latest as (
                select max(syncs.started_at) as started_at
                from snapshots join sync_snapshots using (snapshot_id) join syncs on syncs.sync_id = sync_snapshots.sync_id
                where snapshots.spreadsheet_id = ?
            )
            select snapshots.snapshot_id, snapshots.modified_time, snapshots.extracted_at
            from snapshots
            join sync_snapshots using (snapshot_id)
            join syncs on syncs.sync_id = sync_snapshots.sync_id
            join latest on latest.started_at = syncs.started_at
            where snapshots.spreadsheet_id = ?
            order by snapshots.extracted_at
            """,
            [form_id, form_id],
        ).fetchall()
        if not rows:
            return None
        questions = con.execute(
            "select question_id, titre from formulaires_questions where snapshot_id = ? order by position",
            [rows[-1][0]],
        ).fetchall()
    marks = [mark for _, mark, _ in rows if mark]
    return FormChain([r[0] for r in rows], max(marks) if marks else None, [(q, t) for q, t in questions])


def is_departement(question: FormQuestion) -> bool:
    """The question that gives a response's département (a fixed column of the response sheet)."""
    return normalise_label(question.title) == normalise_label(DEPARTEMENT)


def _local_text(moment: str) -> str:
    """An RFC 3339 UTC time as the response sheet shows it: local date and time."""
    stamp = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return stamp.astimezone(ZoneInfo(TIME_ZONE)).strftime("%Y-%m-%d %H:%M:%S")


def _answer(answers: dict, question: FormQuestion) -> str | list[str]:
    values = [a.get("value", "") for a in answers.get(question.question_id, {}).get("textAnswers", {}).get("answers", [])]
    return values if question.multiple else ", ".join(values)


class FormsReader:
    """Reads campaigns through the paced, retrying HTTP client shared with the Sheets source."""

    def __init__(self, client, page_size: int) -> None:
        self.http = client.http_client
        self.page_size = page_size

    def _get(self, url: str, params: dict | None = None) -> dict:
        return self.http.request("get", url, params=params or {}).json()

    def responses(self, form_id: str, since: str | None) -> list[dict]:
        """Every response (or those submitted after `since`), page by page."""
        params: dict = {"pageSize": self.page_size}
        if since:
            params["filter"] = f"timestamp > {since}"
        found: list[dict] = []
        while True:
            page = self._get(f"{FORMS_API}/{form_id}/responses", params)
            found += page.get("responses", [])
            if not page.get("nextPageToken"):
                return found
            params["pageToken"] = page["nextPageToken"]

    def read(self, source: SpreadsheetSource, raw_db: Path, full: bool) -> tuple[TabSnapshot | None, list[str]]:
        """One campaign: a new read (None when nothing changed) and the earlier reads it builds on."""
        form_id = source.form_id
        try:
            form = self._get(f"{FORMS_API}/{form_id}")
            questions = form_questions(form)
            chain = None if full else last_chain(raw_db, form_id)
            fresh = self.responses(form_id, chain.latest_submission if chain else None)
        except APIError as err:
            raise forms_access_error(source, err.code) from None
        # The questions as landed: every one but the département, which is a fixed column.
        current = [(q.question_id, q.title) for q in questions if not is_departement(q)]
        if chain and not fresh and chain.question_titles == current:
            log.info("Formulaire « %s » : aucune réponse nouvelle, lectures précédentes réutilisées", source.title)
            return None, chain.snapshot_ids
        collected = form.get("settings", {}).get("emailCollectionType", "DO_NOT_COLLECT") != "DO_NOT_COLLECT"
        snapshot = responses_snapshot(source, questions, fresh, collected, chain.latest_submission if chain else None)
        return snapshot, chain.snapshot_ids if chain else []


def responses_snapshot(
    source: SpreadsheetSource, questions: list[FormQuestion], responses: list[dict], collected: bool, mark: str | None
) -> TabSnapshot:
    """A read of a form as a tab: the response sheet's fixed columns, then one column per question."""
    where = f"Formulaire « {source.title} »"
    departement = next((q for q in questions if is_departement(q)), None)
    if departement is None:
        raise InputError(
            f"{where} : aucune question intitulée « {DEPARTEMENT} » : ajoutez-la au formulaire (les réponses sans "
            "département ne peuvent pas être comptées)."
        )
    others = [q for q in questions if q is not departement]
    header = [HORODATEUR, *([EMAIL] if collected else []), DEPARTEMENT, *(q.title for q in others)]
    rows = [
        [
            _local_text(response["lastSubmittedTime"]),
            *([response.get("respondentEmail", "")] if collected else []),
            _answer(response.get("answers", {}), departement),
            *(_answer(response.get("answers", {}), q) for q in others),
        ]
        for response in responses
    ]
    mapping = map_header(header, REPONSES, where)
    # Titles made unique as a sheet's headers are; a question asking the address is no question (REPONSES aliases).
    first_question = len(header) - len(others)
    question_of = {label: others[position - first_question] for label, position in mapping.extra_positions.items()}
    marks = [r["lastSubmittedTime"] for r in responses] + ([mark] if mark else [])
    return TabSnapshot(
        spreadsheet=source,
        spreadsheet_id=source.form_id,
        tab=RESPONSES_TAB,
        contract=REPONSES,
        header=header,
        mapping=mapping,
        cells=pd.DataFrame(rows, columns=range(len(header)), dtype=object),
        first_row_number=1,
        modified_time=max(marks) if marks else None,
        time_zone=TIME_ZONE,
        question_ids={label: q.question_id for label, q in question_of.items()},
        row_fields={
            "reponse_id": [r["responseId"] for r in responses],
            "cree_le": [r.get("createTime", r["lastSubmittedTime"]) for r in responses],
        },
    )


def forms_access_error(source: SpreadsheetSource, code: int) -> InputError:
    """French message for a form that cannot be read."""
    if code in (403, 404):
        return InputError(
            f"Le formulaire « {source.title} » (identifiant {source.form_id}) "
            f"{'n’est pas partagé' if code == 403 else 'est introuvable ou n’est pas partagé'} : ouvrez-le dans "
            "Google Forms, cliquez sur « ⋮ → Ajouter des collaborateurs » et ajoutez l'adresse du compte de service "
            "(elle lit seulement : les droits demandés sont forms.body.readonly et forms.responses.readonly)."
        )
    return InputError(f"Formulaire « {source.title} » : Google Forms a répondu HTTP {code}.")
