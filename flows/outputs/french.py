"""French formatting of figures, changes, means and dates, as a French reader expects them."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
NBSP = "\u00a0"
NNBSP = "\u202f"  # French thousands separator
PARIS = ZoneInfo("Europe/Paris")  # the network's clock, whatever the server's (often UTC)



def format_number(value: float | None, nature: str = "compte") -> str:
    """A figure as a French reader expects it: 1 234 ; 1,5 ; 41 %."""
    if value is None:
        return "—"
    if nature == "taux":
        return f"{value * 100:.0f}{NBSP}%"
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", NNBSP)
    return f"{value:,.2f}".rstrip("0").rstrip(".").replace(",", NNBSP).replace(".", ",")


def format_change(current: float | None, previous: float | None, nature: str) -> str:
    """Change since the previous year: signed difference (percentage points for a rate)."""
    if current is None or previous is None:
        return "—"
    difference = current - previous
    if nature == "taux":
        points = round(difference * 100)
        return f"{points:+d}{NBSP}pt" if points else "="
    if abs(difference) < 1e-9:
        return "="
    sign = "+" if difference > 0 else "−"
    return sign + format_number(abs(difference), nature)


def format_mean(value: float | None) -> str:
    """An interest mean on the 1-5 scale, one decimal."""
    return "secret" if value is None else f"{value:.1f}".replace(".", ",") + f"{NBSP}/{NBSP}5"


def format_date(value: str | None) -> str:
    """An ISO timestamp as a French date and time."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def format_now() -> str:
    """Now, in Paris time, as a French date and time."""
    return datetime.now(PARIS).strftime("%d/%m/%Y à %H:%M")


def format_day(value: date | str | None) -> str:
    """A date as 04/06/2019."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return value.strftime("%d/%m/%Y")


_TAG_OR_TEXT = re.compile(r"(<(?:style|script)\b.*?</(?:style|script)>|<[^>]*>)", re.S | re.I)
_BEFORE_PUNCTUATION = re.compile(r"[ \u00a0]+([;:!?»])")  # French: a thin no-break space before ; : ! ? »
_AFTER_GUILLEMET = re.compile(r"«[ \u00a0]*")
_NUMBER_AND_WORD = re.compile(r"(\d) (?=[^\W\d_]|%|€)")  # « 12 ateliers », « 41 % » never split at the line end


def french_spaces(text: str) -> str:
    """French typography of a plain text: narrow no-break spaces at « » ; : ! ? and no-break after a number."""
    text = _BEFORE_PUNCTUATION.sub(NNBSP + r"\1", text)
    text = _AFTER_GUILLEMET.sub("«" + NNBSP, text)
    return _NUMBER_AND_WORD.sub(r"\1" + NBSP, text)


_WORD_AFTER_TAG = re.compile(r" (?=[^\W\d_]|%|€)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def french_typography(page: str) -> str:
    """French spaces in the text of an HTML page (never inside tags, styles or scripts): applied once, to
    the coordinator's text and the generated labels alike, where the page is made. An e-mail address is
    kept on one line (a printed address split at its hyphen reads as two)."""
    out, last = [], ""
    for n, part in enumerate(_TAG_OR_TEXT.split(page)):
        if n % 2 == 0 and part:
            if last.isdigit() and _WORD_AFTER_TAG.match(part):  # « <b>9</b> ateliers »: the figure is a tag apart
                part = NBSP + part[1:]
            last = part[-1]
            part = _EMAIL.sub(r'<span class="courriel">\g<0></span>', french_spaces(part))
        out.append(part)
    return "".join(out)
