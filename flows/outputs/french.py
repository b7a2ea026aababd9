"""French formatting of figures, changes, means and dates, as a French reader expects them."""

from __future__ import annotations

from datetime import date, datetime

MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
NBSP = "\u00a0"
NNBSP = "\u202f"  # French thousands separator



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
    return moment.astimezone().strftime("%d/%m/%Y à %H:%M")


def format_day(value: date | str | None) -> str:
    """A date as 04/06/2019."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return value.strftime("%d/%m/%Y")
