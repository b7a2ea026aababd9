"""Charts readable in grey: neighbouring categories ≥ 3:1, every label ≥ 4.5:1, computed from the SVG itself."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from flows.outputs.charts import (
    COLOURS,
    DEPARTMENT_COLOURS,
    SCORE_COLOURS,
    contrast,
    line_chart,
    score_chart,
    stacked_bar_chart,
)

SVG = "{http://www.w3.org/2000/svg}"


def _elements(svg: str, tag: str) -> list[ET.Element]:
    root = ET.fromstring(svg.replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))
    return [e for e in root.iter() if e.tag in (tag, SVG + tag)]


def _rects(svg: str) -> list[tuple[float, float, float, float, str]]:
    """(x, y, width, height, fill) of every filled rectangle, in drawing order."""
    return [
        (float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")), r.get("fill"))
        for r in _elements(svg, "rect")
    ]


def adjacent_contrasts(svg: str) -> list[tuple[str, str, float]]:
    """Every pair of rectangles that touch side by side in one bar, with their contrast."""
    rects = [r for r in _rects(svg) if r[2] > 0]
    pairs = []
    for a in rects:
        for b in rects:
            same_bar = a[1] == b[1] and a[3] == b[3]
            if same_bar and abs(a[0] + a[2] - b[0]) < 0.11 and a[4] != b[4]:
                pairs.append((a[4], b[4], contrast(a[4], b[4])))
    return pairs


def label_contrasts(svg: str) -> list[tuple[str, float]]:
    """Every text with the contrast of its colour on what is drawn under it (the last rectangle there, else white)."""
    found = []
    for text in _elements(svg, "text"):
        x, y = float(text.get("x")), float(text.get("y")) - 4  # the middle of a line of text, above its baseline
        under = [r[4] for r in _rects(svg) if r[0] <= x <= r[0] + r[2] and r[1] <= y <= r[1] + r[3]]
        background = under[-1] if under else "#ffffff"
        found.append((text.text, contrast(text.get("fill"), background)))
    return found


def test_interest_notes_side_by_side_differ_by_3_to_1_and_their_labels_read_at_4_5_to_1():
    shares = [[0.2, 0.2, 0.2, 0.2, 0.2], [0.1, 0.15, 0.25, 0.3, 0.2], [0.5, 0.5, 0.0, 0.0, 0.0]]
    svg = str(score_chart("Intérêt", [(f"thème {n}", row, "3,0 / 5") for n, row in enumerate(shares)]))
    pairs = adjacent_contrasts(svg)
    assert len(pairs) == 4 + 4 + 1  # every neighbour in the three bars was measured
    assert min(ratio for _, _, ratio in pairs) >= 3.0, pairs
    labels = label_contrasts(svg)
    assert sum(1 for text, _ in labels if text.endswith("%")) == 5 + 5 + 2
    assert min(ratio for _, ratio in labels) >= 4.5, labels


def test_the_old_interest_palette_fails_the_same_measure():
    """The measure catches what the issue saw: notes 1 and 2 at 1.18:1."""
    assert contrast("#fde0c5", "#facba6") < 1.2 and SCORE_COLOURS[:2] != ("#fde0c5", "#facba6")


def test_departments_and_joint_actions_side_by_side_differ_by_3_to_1():
    legend = [("Allier (03)", DEPARTMENT_COLOURS[0]), ("Puy-de-Dôme (63)", DEPARTMENT_COLOURS[1]),
              ("Actions communes (03/63)", COLOURS["commun"])]
    svg = str(stacked_bar_chart("Actions", [("Atelier", [4, 9, 2]), ("Formation", [3, 2, 1])], legend))
    pairs = adjacent_contrasts(svg)
    assert len(pairs) == 4 and min(ratio for _, _, ratio in pairs) >= 3.0, pairs
    assert min(ratio for _, ratio in label_contrasts(svg)) >= 4.5


def test_line_labels_read_at_4_5_to_1_whatever_the_line_colour():
    series = [("03", DEPARTMENT_COLOURS[0], [10, 12]), ("63", DEPARTMENT_COLOURS[1], [20, 25]),
              ("Ensemble", COLOURS["ensemble"], [30, 37])]
    svg = str(line_chart("Promeneurs", ["janv.", "févr."], series))
    labels = label_contrasts(svg)
    assert any("63 : 25" in (text or "").replace("\u202f", " ") or "63 : 25" in (text or "") for text, _ in labels)
    assert min(ratio for _, ratio in labels) >= 4.5, labels
    lines = [e.get("stroke") for e in _elements(svg, "polyline")]
    assert min(contrast(colour, "#ffffff") for colour in lines) >= 3.0
