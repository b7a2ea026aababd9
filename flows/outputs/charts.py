"""Inline SVG charts for the bilan: no script, no external resource, readable when printed in grey."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from flows.outputs.french import format_number

# One colour per series, the same in every chart. Readable in grey: neighbours in a bar alternate dark and
# light (contrast ≥ 3:1, WCAG 1.4.11), and every label is dark or white, whichever reads at ≥ 4.5:1 on its fill.
COLOURS = {"ensemble": "#2e7d32", "commun": "#481b5f", "commun_clair": "#c9a2e0"}
DEPARTMENT_COLOURS = ("#11355f", "#de6f00", "#3e2a1e", "#00a5ad")  # dark, light, dark, light
SECRET_FILL = "#d9d9d9"
SCORE_COLOURS = ("#fde4b3", "#7c3c0e", "#f9ad88", "#5b140d", "#e67171")  # interest 1 (low) to 5 (high)
DARK_TEXT, LIGHT_TEXT = "#222222", "#ffffff"
MIN_ADJACENT_CONTRAST = 3.0


def luminance(colour: str) -> float:
    """Relative luminance of a #rrggbb or #rgb colour (WCAG 2)."""
    if len(colour) == 4:
        colour = "#" + "".join(ch * 2 for ch in colour[1:])
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours, from 1 to 21."""
    low, high = sorted((luminance(first), luminance(second)))
    return (high + 0.05) / (low + 0.05)


def label_colour(fill: str) -> str:
    """Dark or white text, whichever reads better on `fill`."""
    return DARK_TEXT if contrast(fill, DARK_TEXT) >= contrast(fill, LIGHT_TEXT) else LIGHT_TEXT


def commun_colour(previous: str) -> str:
    """The joint actions' colour that stands out from the segment before it (dark or light purple)."""
    return max((COLOURS["commun"], COLOURS["commun_clair"]), key=lambda colour: contrast(colour, previous))



def _svg(width: int, height: int, title: str, body: str) -> Markup:
    """An inline SVG element; its <title> is what a screen reader announces."""
    return Markup(
        f'<svg class="graphique" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg>'
    )


def _text(x: float, y: float, content: str, *, anchor: str = "start", size: int = 12, weight: str = "normal",
          fill: str = "#222") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'font-weight="{weight}" fill="{fill}">{escape(content)}</text>'
    )


def _axis(maximum: float) -> tuple[int, int]:
    """A round axis top at or above `maximum`, and its tick step (at most six ticks)."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        top = step * max(1, -(-int(maximum) // step))
        if top // step <= 6:
            return top, step
    return int(maximum) + 1, int(maximum) + 1


def line_chart(title: str, labels: list[str], series: list[tuple[str, str, list[float]]]) -> Markup:
    """Lines over months (x) with a zero-based y axis; series are (name, colour, values)."""
    width, height, left, right, top, bottom = 640, 270, 44, 150, 16, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value, tick_step = _axis(max((v for _, _, values in series for v in values), default=1) or 1)
    parts = []
    for tick in range(0, top_value + 1, tick_step):
        y = top + plot_h - plot_h * tick / top_value
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        parts.append(_text(left - 6, y + 4, format_number(tick), anchor="end", size=11, fill="#555"))
    step = plot_w / max(1, len(labels) - 1)
    for index, label in enumerate(labels):
        parts.append(_text(left + index * step, height - 10, label, anchor="middle", size=11, fill="#555"))
    for name, colour, values in series:
        points = " ".join(
            f"{left + index * step:.1f},{top + plot_h - plot_h * value / top_value:.1f}"
            for index, value in enumerate(values)
        )
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        if values:  # the label in dark text after a swatch of the line's colour: readable whatever the colour
            last_y = top + plot_h - plot_h * values[-1] / top_value
            x = left + plot_w + 6
            parts.append(f'<line x1="{x}" x2="{x + 12}" y1="{last_y:.1f}" y2="{last_y:.1f}" stroke="{colour}" '
                         'stroke-width="4"/>')
            parts.append(_text(x + 16, last_y + 4, f"{name} : {format_number(values[-1])}", size=11, weight="bold"))
    return _svg(width, height, title, "".join(parts))


def stacked_bar_chart(title: str, rows: list[tuple[str, list[float]]], legend: list[tuple[str, str]]) -> Markup:
    """One horizontal bar per row, split into coloured segments; legend is (label, colour) per segment."""
    width, label_h, bar_h, gap, legend_h = 640, 15, 14, 10, 24
    height = legend_h + len(rows) * (label_h + bar_h + gap) + 4
    bar_w = 520
    biggest = max((sum(values) for _, values in rows), default=1) or 1
    parts = []
    x = 0
    for label, colour in legend:
        parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 16, 14, label, size=11))
        x += 24 + 7 * len(label)
    y = legend_h
    for label, values in rows:
        parts.append(_text(0, y + 11, label, size=12))
        y += label_h
        x = 0.0
        for value, (_, colour) in zip(values, legend):
            w = bar_w * value / biggest
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
            x += w
        parts.append(_text(x + 6, y + 11, format_number(sum(values)), size=11, weight="bold"))
        y += bar_h + gap
    return _svg(width, height, title, "".join(parts))


def share_bar_chart(title: str, rows: list[tuple[str, float | None]], colour: str) -> Markup:
    """Horizontal bars of shares (0-1) with the answer above each bar; None is a secret cell."""
    width, label_h, bar_h, gap = 640, 15, 14, 9
    height = len(rows) * (label_h + bar_h + gap) + 4
    bar_w = 540
    parts, y = [], 0
    for label, share in rows:
        parts.append(_text(0, y + 11, label, size=12))
        y += label_h
        parts.append(f'<rect x="0" y="{y}" width="{bar_w}" height="{bar_h}" fill="#f2f2f2"/>')
        if share is None:
            parts.append(f'<rect x="0" y="{y}" width="{bar_w}" height="{bar_h}" fill="{SECRET_FILL}"/>')
            parts.append(_text(8, y + 11, "secret statistique", size=11, fill="#444"))
        else:
            parts.append(f'<rect x="0" y="{y}" width="{bar_w * share:.1f}" height="{bar_h}" fill="{colour}"/>')
            parts.append(_text(bar_w + 6, y + 11, format_number(share, "taux"), size=11, weight="bold"))
        y += bar_h + gap
    return _svg(width, height, title, "".join(parts))


def score_chart(title: str, rows: list[tuple[str, list[float] | None, str]]) -> Markup:
    """Interest themes as 100 % bars split by score 1-5 (None: distribution secret), mean on the right."""
    width, label_h, bar_h, gap, legend_h, bar_w = 640, 15, 16, 10, 24, 500
    height = legend_h + len(rows) * (label_h + bar_h + gap) + 4
    parts = []
    for score, colour in enumerate(SCORE_COLOURS, start=1):
        x = (score - 1) * 70
        parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 16, 14, f"note {score}", size=11))
    parts.append(_text(bar_w + 8, 14, "moyenne", size=11, weight="bold"))
    y = legend_h
    for label, shares, mean in rows:
        parts.append(_text(0, y + 11, label, size=12))
        y += label_h
        if shares is None:
            parts.append(f'<rect x="0" y="{y}" width="{bar_w}" height="{bar_h}" fill="{SECRET_FILL}"/>')
            parts.append(_text(8, y + 12, "répartition couverte par le secret statistique", size=11, fill="#444"))
        else:
            x = 0.0
            for share, colour in zip(shares, SCORE_COLOURS):
                if share > 0:
                    parts.append(
                        f'<rect x="{x:.1f}" y="{y}" width="{bar_w * share:.1f}" height="{bar_h}" fill="{colour}"/>'
                    )
                    if share >= 0.08:
                        parts.append(_text(x + bar_w * share / 2, y + 12, format_number(share, "taux"),
                                           anchor="middle", size=10, fill=label_colour(colour)))
                x += bar_w * share
        parts.append(_text(bar_w + 8, y + 12, mean, size=12, weight="bold"))
        y += bar_h + gap
    return _svg(width, height, title, "".join(parts))
