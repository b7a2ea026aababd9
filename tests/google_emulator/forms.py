"""Forms API v1: stored forms and their responses, ``forms.get`` and ``forms.responses.list``, and a builder
(``form_item``) to describe a form compactly."""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from tests.google_emulator.common import (
    Response,
    format_timestamp,
    google_error,
    masked,
    one,
    parse_timestamp,
    to_utc,
)
from tests.google_emulator.drive import FORM_MIME_TYPE

MAX_PAGE_SIZE = 5000
EMAIL_COLLECTION_TYPES = ("DO_NOT_COLLECT", "VERIFIED", "RESPONDER_INPUT")
FIRST_SUBMISSION = datetime(2020, 1, 15, 10, 0, tzinfo=timezone.utc)  # when a response gives no time of its own

_CHOICE_TYPES = {"radio": "RADIO", "checkbox": "CHECKBOX", "dropdown": "DROP_DOWN"}
_GRID_TYPES = {"grid": "RADIO", "checkbox_grid": "CHECKBOX"}
ITEM_KINDS = (
    "text",
    "paragraph",
    *_CHOICE_TYPES,
    "scale",
    "date",
    "datetime",
    "time",
    *_GRID_TYPES,
    "section",
    "text_item",
)
_FILTER_RE = re.compile(r"\s*timestamp\s*(>=|>)\s*(\S+)\s*")
_ZULU_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")


# ---------------------------------------------------------------------------------------------------------
# Builder: compact item descriptions -> Forms API Item resources
# ---------------------------------------------------------------------------------------------------------


def form_item(
    title: str,
    kind: str,
    options: Sequence[Any] = (),
    *,
    required: bool = False,
    other: bool = False,
    rows: Sequence[str] = (),
    low_label: str | None = None,
    high_label: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """One Forms API Item (ids are given by ``add_form``).

    ``kind``: text, paragraph, radio, checkbox, dropdown (``options`` are the choices; ``other=True`` adds
    "Autre"), scale (``options=(low, high)``), date, datetime, time, grid / checkbox_grid (``options`` are
    the columns, ``rows`` the row questions), section (a page break) or text_item (a text block).
    """
    item: dict[str, Any] = {"title": title}
    if description:
        item["description"] = description
    question: dict[str, Any] = {"required": True} if required else {}
    if kind in ("text", "paragraph"):
        question["textQuestion"] = {"paragraph": True} if kind == "paragraph" else {}
    elif kind in _CHOICE_TYPES:
        if not options:
            raise ValueError(f"a {kind} question needs options: {title!r}")
        if other and kind == "dropdown":
            raise ValueError("a drop-down question cannot have an 'other' option")
        choices: list[dict[str, Any]] = [{"value": str(option)} for option in options]
        if other:
            choices.append({"isOther": True})
        question["choiceQuestion"] = {"type": _CHOICE_TYPES[kind], "options": choices}
    elif kind == "scale":
        low, high = options or (1, 5)
        if low not in (0, 1) or not 2 <= high <= 10:
            raise ValueError(f"a scale goes from 0 or 1 to 2..10, not {low}..{high}")
        scale: dict[str, Any] = {"high": high}
        if low:
            scale = {"low": low, "high": high}  # proto3: a zero low is left out
        if low_label:
            scale["lowLabel"] = low_label
        if high_label:
            scale["highLabel"] = high_label
        question["scaleQuestion"] = scale
    elif kind in ("date", "datetime"):
        question["dateQuestion"] = (
            {"includeTime": True, "includeYear": True} if kind == "datetime" else {"includeYear": True}
        )
    elif kind == "time":
        question["timeQuestion"] = {}
    elif kind in _GRID_TYPES:
        if not options or not rows:
            raise ValueError(f"a grid needs columns (options) and rows: {title!r}")
        row_questions = [{**({"required": True} if required else {}), "rowQuestion": {"title": r}} for r in rows]
        item["questionGroupItem"] = {
            "questions": row_questions,
            "grid": {"columns": {"type": _GRID_TYPES[kind], "options": [{"value": str(c)} for c in options]}},
        }
        return item
    elif kind == "section":
        item["pageBreakItem"] = {}
        return item
    elif kind == "text_item":
        item["textItem"] = {}
        return item
    else:
        raise ValueError(f"unknown item kind {kind!r}; one of {', '.join(ITEM_KINDS)}")
    item["questionItem"] = {"question": question}
    return item


def _hex_id(*parts: object) -> str:
    """An 8-hex-digit id, like Forms item and question ids, stable for the same form and position."""
    return f"{zlib.crc32('/'.join(map(str, parts)).encode()):08x}"


# ---------------------------------------------------------------------------------------------------------
# Stored forms and responses
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """What a response must respect for one question id."""

    question_id: str
    title: str  # the item title; for a grid row, "Item [Row]" as a linked sheet names its column
    kind: str  # choice | text | scale | date | time | row
    options: tuple[str, ...] = ()
    other: bool = False
    multiple: bool = False
    low: int = 0
    high: int = 0
    include_time: bool = False
    include_year: bool = True


@dataclass
class FormResponse:
    response_id: str
    create_time: datetime
    last_submitted_time: datetime
    answers: dict[str, list[str]]
    email: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "responseId": self.response_id,
            "createTime": format_timestamp(self.create_time, 3),
            "lastSubmittedTime": format_timestamp(self.last_submitted_time, 6),
        }
        if self.email is not None:
            out["respondentEmail"] = self.email
        out["answers"] = {
            qid: {"questionId": qid, "textAnswers": {"answers": [{"value": v} for v in values]}}
            for qid, values in self.answers.items()
        }
        return out


@dataclass
class Form:
    form_id: str
    title: str
    document_title: str
    description: str | None
    items: list[dict[str, Any]]
    email_collection: str
    shared: bool | str
    modified_time: str
    created_time: str
    revision: int = 1
    responses: list[FormResponse] = field(default_factory=list)
    mime_type = FORM_MIME_TYPE

    @property
    def file_id(self) -> str:
        return self.form_id

    @property
    def drive_name(self) -> str:
        return self.document_title

    def questions(self) -> dict[str, Question]:
        """Every question id of the form, with what its answers may be."""
        out: dict[str, Question] = {}
        for item in self.items:
            for question, title in _item_questions(item):
                out[question["questionId"]] = _question_info(question, title)
        return out

    def question_ids(self) -> dict[str, str]:
        """Question title -> id; grid rows are named "Item [Row]"."""
        return {info.title: qid for qid, info in self.questions().items()}

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {"title": self.title, "documentTitle": self.document_title}
        if self.description:
            info["description"] = self.description
        return {
            "formId": self.form_id,
            "info": info,
            "settings": {"emailCollectionType": self.email_collection},
            "revisionId": f"{self.revision:08d}",
            "responderUri": f"https://docs.google.com/forms/d/e/{self.form_id}/viewform",
            "items": self.items,
        }


def _item_questions(item: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    if "questionItem" in item:
        return [(item["questionItem"]["question"], item.get("title", ""))]
    if "questionGroupItem" in item:
        group = item["questionGroupItem"]
        columns = group.get("grid", {}).get("columns", {})
        return [
            ({**q, "_columns": columns}, f"{item.get('title', '')} [{q.get('rowQuestion', {}).get('title', '')}]")
            for q in group.get("questions", [])
        ]
    return []


def _question_info(question: dict[str, Any], title: str) -> Question:
    qid = question["questionId"]
    if "choiceQuestion" in question:
        choice = question["choiceQuestion"]
        values = tuple(o["value"] for o in choice.get("options", []) if "value" in o)
        other = any(o.get("isOther") for o in choice.get("options", []))
        return Question(qid, title, "choice", values, other, choice.get("type") == "CHECKBOX")
    if "rowQuestion" in question:
        columns = question.get("_columns", {})
        values = tuple(o["value"] for o in columns.get("options", []) if "value" in o)
        return Question(qid, title, "choice", values, False, columns.get("type") == "CHECKBOX")
    if "scaleQuestion" in question:
        scale = question["scaleQuestion"]
        return Question(qid, title, "scale", low=scale.get("low", 0), high=scale.get("high", 0))
    if "dateQuestion" in question:
        dq = question["dateQuestion"]
        return Question(
            qid, title, "date", include_time=dq.get("includeTime", False), include_year=dq.get("includeYear", False)
        )
    if "timeQuestion" in question:
        return Question(qid, title, "time")
    return Question(qid, title, "text")


def build_items(form_id: str, items: Sequence[Any]) -> list[dict[str, Any]]:
    """Turn ``(title, kind[, options])`` tuples, ``form_item`` dicts or raw Item dicts into Items with ids."""
    built = []
    for index, given in enumerate(items):
        if isinstance(given, tuple):
            given = form_item(*given)
        if not isinstance(given, Mapping):
            raise TypeError(f"an item is a (title, kind[, options]) tuple or an Item dict: {given!r}")
        item = {"itemId": _hex_id(form_id, "item", index), **json.loads(json.dumps(given))}  # ids first, as Google
        if "questionItem" in item:
            question = item["questionItem"]["question"]
            item["questionItem"]["question"] = {"questionId": _hex_id(form_id, "question", index), **question}
        group = item.get("questionGroupItem", {})
        if group:
            group["questions"] = [
                {"questionId": _hex_id(form_id, "question", index, row), **question}
                for row, question in enumerate(group.get("questions", []))
            ]
        built.append(item)
    ids = [q["questionId"] for item in built for q, _ in _item_questions(item)]
    if len(ids) != len(set(ids)):
        raise ValueError(f"form {form_id!r} has duplicate question ids")
    return built


def _answer_values(question: Question, raw: Any) -> list[str]:
    """Normalise one given answer to the strings Forms returns, refusing what Forms could not have recorded."""
    if question.kind == "choice":
        values = list(raw) if isinstance(raw, list | tuple) else [raw]
        if len(values) > 1 and not question.multiple:
            raise ValueError(f"{question.title!r} takes one choice, not {values!r}")
        values = [str(v) for v in values]
        free = [v for v in values if v not in question.options]
        if free and not question.other:
            raise ValueError(f"{free[0]!r} is not an option of {question.title!r} {list(question.options)!r}")
        if len(free) > 1:
            raise ValueError(f"{question.title!r} has one 'other' text, not {free!r}")
        return values
    if isinstance(raw, list | tuple):
        raise ValueError(f"{question.title!r} takes one answer, not {raw!r}")
    if question.kind == "scale":
        number = int(raw)
        if not question.low <= number <= question.high:
            raise ValueError(f"{number} is outside the scale {question.low}..{question.high} of {question.title!r}")
        return [str(number)]
    if question.kind == "date" and isinstance(raw, date):
        pattern = ("%Y-" if question.include_year else "") + "%m-%d" + (" %H:%M" if question.include_time else "")
        return [raw.strftime(pattern)]
    if question.kind == "time" and isinstance(raw, time):
        return [raw.strftime("%H:%M")]
    text = str(raw)
    if not text:
        raise ValueError(f"an empty answer to {question.title!r} is no answer: leave it out")
    return [text]


def normalise_answers(form: Form, answers: Mapping[str, Any]) -> dict[str, list[str]]:
    """Map answers keyed by question title ("Item [Row]" or item title -> {row: value} for grids) or id."""
    questions = form.questions()
    by_title = form.question_ids()
    out: dict[str, list[str]] = {}
    for key, raw in answers.items():
        if raw is None:
            continue
        if isinstance(raw, Mapping):  # a grid given as {row title: column}
            for row, value in raw.items():
                if value is not None:
                    qid = question_id_for(questions, by_title, f"{key} [{row}]", form.form_id)
                    out[qid] = _answer_values(questions[qid], value)
            continue
        qid = question_id_for(questions, by_title, key, form.form_id)
        out[qid] = _answer_values(questions[qid], raw)
    return out


def question_id_for(questions: Mapping[str, Question], by_title: Mapping[str, str], key: str, form_id: str) -> str:
    """The question id a test means by ``key``: an id, or a title ("Grid [Row]" for a grid row)."""
    if key in questions:
        return key
    if key in by_title:
        return by_title[key]
    raise KeyError(f"form {form_id!r} has no question {key!r}; questions: {sorted(by_title)}")


def new_response(form: Form, given: Mapping[str, Any], index: int) -> FormResponse:
    """Build a stored response from ``{"answers": {...}, "submitted"?, "created"?, "email"?, "response_id"?}``."""
    unknown = set(given) - {"answers", "submitted", "created", "email", "response_id"}
    if unknown or "answers" not in given:
        raise ValueError(f"a response is {{'answers': ..., 'submitted'?, 'created'?, 'email'?}}, got {sorted(given)}")
    if "submitted" in given:
        submitted = to_utc(given["submitted"])
    else:
        latest = max((r.create_time for r in form.responses), default=FIRST_SUBMISSION - timedelta(minutes=1))
        submitted = latest + timedelta(minutes=1)
    created = to_utc(given["created"]) if "created" in given else submitted
    email = given.get("email")
    if email is not None and form.email_collection == "DO_NOT_COLLECT":
        raise ValueError(f"form {form.form_id!r} does not collect emails (email_collection='DO_NOT_COLLECT')")
    response_id = given.get("response_id") or "ACYDBN" + _hex_id(form.form_id, "response", index).upper() + (
        _hex_id(form.form_id, index, "r") * 4
    )
    if any(r.response_id == response_id for r in form.responses):
        raise ValueError(f"form {form.form_id!r} already has a response {response_id!r}")
    return FormResponse(response_id, created, submitted, normalise_answers(form, given["answers"]), email)


# ---------------------------------------------------------------------------------------------------------
# forms.get, forms.responses.list
# ---------------------------------------------------------------------------------------------------------


def get_form(form: Form, query: dict[str, list[str]]) -> Response:
    return masked(form.to_json(), query)


def list_responses(form: Form, query: dict[str, list[str]]) -> Response:
    """forms.responses.list: ordered by createTime, ``filter`` on lastSubmittedTime, pages of ``pageSize``."""
    filter_text = one(query, "filter") or ""
    try:
        keep = _parse_filter(filter_text)
        size = int(one(query, "pageSize") or 0)
    except ValueError:
        return google_error(400)
    if size < 0:
        return google_error(400)
    size = min(size or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    token = one(query, "pageToken")
    after: tuple[str, str] | None = None
    if token:
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode() + b"==="))
            if state["form"] != form.form_id or state["filter"] != filter_text:
                raise ValueError("the page token belongs to another request")
            after = (state["after"][0], state["after"][1])
        except (ValueError, KeyError, TypeError, IndexError, binascii.Error):
            return google_error(400)
    ordered = sorted(form.responses, key=lambda r: (r.create_time, r.response_id))
    selected = [r for r in ordered if keep(r.last_submitted_time)]
    if after is not None:
        selected = [r for r in selected if (format_timestamp(r.create_time, 6), r.response_id) > after]
    page, rest = selected[:size], selected[size:]
    body: dict[str, Any] = {}
    if page:
        body["responses"] = [r.to_json() for r in page]
    if rest:
        last = page[-1]
        state = {
            "form": form.form_id,
            "filter": filter_text,
            "after": [format_timestamp(last.create_time, 6), last.response_id],
        }
        body["nextPageToken"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")
    return masked(body, query)


def _parse_filter(text: str):
    """The only filters Forms takes: ``timestamp > T`` and ``timestamp >= T``, T in RFC 3339 Zulu form."""
    if not text:
        return lambda moment: True
    match = _FILTER_RE.fullmatch(text)
    if not match or not _ZULU_RE.fullmatch(match.group(2)):
        raise ValueError(text)
    operator, bound = match.group(1), parse_timestamp(match.group(2))
    if operator == ">":
        return lambda moment: moment > bound
    return lambda moment: moment >= bound
