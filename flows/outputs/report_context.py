"""From the published marts' rows to what the bilan and the quality page show (French formatting)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from markupsafe import Markup

from flows.ops.summary import failure_places, rows_line
from flows.outputs.charts import (
    COLOURS,
    DEPARTMENT_COLOURS,
    commun_colour,
    line_chart,
    score_chart,
    share_bar_chart,
    stacked_bar_chart,
)
from flows.outputs.french import (
    MONTHS,
    format_change,
    format_date,
    format_day,
    format_mean,
    format_now,
    format_number,
)
from flows.outputs.placeholders import CHOICE_KINDS, Figure, Placeholders
from flows.sources.catalogue import load_catalogue
from flows.vocabulary import ENSEMBLE

COMMUN = "/"  # a two-département activity carries both codes joined by '/'
# The blocks of detailed actions, by the indicator their type feeds (types are the coordinator's list).
DETAILED_BLOCKS = {
    "formations": ("sessions_formation",),
    "ateliers": ("ateliers",),
    "evenements": ("evenements",),
    "comites": ("comites_pilotage", "comites_techniques"),
}
DETAILED_ROWS_SHOWN = 60  # per block; the others are counted
# What the bilan shows for a withheld title or commune: the quality page lists the cell to correct.
WITHHELD_TITLE = "(intitulé non publié : à corriger dans le tableur)"
WITHHELD_COMMUNE = "(commune non publiée : à corriger dans le tableur)"

@dataclass
class Indicateur:
    """One indicator line: values per département and year."""

    code: str
    libelle: str
    nature: str
    valeurs: dict[tuple[str, int], float] = field(default_factory=dict)

    def valeur(self, departement: str, annee: int) -> float | None:
        return self.valeurs.get((departement, annee))


def _department_label(code: str, names: dict[str, str]) -> str:
    if code == ENSEMBLE:
        return "Ensemble du réseau"
    if COMMUN in code:
        return f"Actions communes ({code})"
    return f"{names.get(code, code)} ({code})"


def _indicators(rows: list[dict]) -> list[Indicateur]:
    by_code: dict[str, Indicateur] = {}
    for row in rows:
        line = by_code.setdefault(row["indicateur"], Indicateur(row["indicateur"], row["libelle"], row["nature"]))
        line.valeurs[(row["departement"], row["annee"])] = row["valeur"]
    return list(by_code.values())


def _department_colours(codes: list[str]) -> dict[str, str]:
    colours = {code: DEPARTMENT_COLOURS[i % len(DEPARTMENT_COLOURS)] for i, code in enumerate(codes)}
    return colours | {ENSEMBLE: COLOURS["ensemble"]}


def _monthly_chart(rows: list[dict], codes: list[str], annee: int) -> Markup:
    colours = _department_colours(codes)
    series = []
    for code in codes + [ENSEMBLE]:
        values = [row["promeneurs_actifs_fin_mois"] for row in rows if row["departement"] == code]
        series.append((code.capitalize(), colours[code], values))
    return line_chart(f"Promeneurs actifs en fin de mois, {annee}", list(MONTHS), series)


def _activities(rows: list[dict], codes: list[str], labels: dict[str, str]) -> dict[str, Any]:
    """Actions by type (rows) and département (columns), with the chart. A type that alone feeds an indicator
    is named by the indicator's (plural) label, the one the tables and cards use: « Rencontres individuelles »."""
    columns = codes + sorted({r["departement"] for r in rows if COMMUN in r["departement"]})
    feeding: dict[str, set[str]] = {}
    for row in rows:
        if row.get("libelle_indicateur"):
            feeding.setdefault(row["libelle_indicateur"], set()).add(row["type_action"])
    plural = {next(iter(kinds)): label for label, kinds in feeding.items() if len(kinds) == 1}
    types: dict[str, dict[str, int]] = {}
    participants: dict[str, int] = {}
    for row in rows:
        name = plural.get(row["type_action"], row["type_action"])
        types.setdefault(name, {})[row["departement"]] = row["actions"]
        participants[name] = participants.get(name, 0) + (row["participants"] or 0)
    colours = _department_colours(codes)
    legend: list[tuple[str, str]] = []
    for c in columns:  # joint actions: a purple that stands out from the segment before it
        legend.append((labels.get(c, c), colours.get(c) or commun_colour(legend[-1][1] if legend else "#ffffff")))
    chart_rows = [(name, [counts.get(c, 0) for c in columns]) for name, counts in types.items()]
    return {
        "colonnes": [labels.get(c, c) for c in columns],
        "lignes": [
            {
                "type": name,
                "valeurs": [counts.get(c, 0) for c in columns],
                "total": sum(counts.values()),
                "participants": participants[name],
            }
            for name, counts in types.items()
        ],
        "graphique": stacked_bar_chart("Actions de l'année par type et par département", chart_rows, legend)
        if chart_rows
        else None,
    }


def _questions(rows: list[dict], codes: list[str]) -> list[dict[str, Any]]:
    """One block per question: answers x groups (count and share, or 'secret'), chart of 'ensemble'."""
    questions: dict[str, dict[str, Any]] = {}
    for row in rows:
        block = questions.setdefault(
            row["question"],
            {"code": row["question"], "libelle": row["libelle_question"], "type": row["type_question"],
             "reponses": {}, "repondants": {}},
        )
        block["repondants"][row["departement"]] = row["repondants_question"]
        block["reponses"].setdefault(row["reponse"], {})[row["departement"]] = row
    blocks = []
    for block in questions.values():
        lines = []
        for answer, cells in block["reponses"].items():
            lines.append({
                "reponse": answer,
                "cellules": [_cell(cells.get(code)) for code in codes + [ENSEMBLE]],
            })
        chart = None
        if block["type"] != "echelle":
            chart = share_bar_chart(
                f"{block['libelle']} : part des répondants (ensemble du réseau)",
                [(answer, None if cells[ENSEMBLE]["secret"] else cells[ENSEMBLE]["part"])
                 for answer, cells in block["reponses"].items()],
                COLOURS["ensemble"],
            )
        blocks.append(block | {"lignes": lines, "graphique": chart})
    return blocks


def _cell(row: dict | None) -> dict[str, Any]:
    if row is None:
        return {"secret": True, "texte": "—"}
    if row["secret"]:
        return {"secret": True, "texte": "secret"}
    share = f" ({format_number(row['part'], 'taux')})" if row["part"] is not None else ""
    return {"secret": False, "texte": format_number(row["repondants"]) + share}


def _interests(means: list[dict], answers: list[dict], codes: list[str]) -> dict[str, Any]:
    """Interest themes: means per group, and the chart of the network's score distribution."""
    themes: dict[str, dict[str, Any]] = {}
    for row in means:
        theme = themes.setdefault(row["question"], {"libelle": row["libelle_question"], "moyennes": {}})
        theme["moyennes"][row["departement"]] = row
    distributions: dict[str, list[dict]] = {}
    for row in answers:
        if row["type_question"] == "echelle" and row["departement"] == ENSEMBLE:
            distributions.setdefault(row["question"], []).append(row)
    chart_rows = []
    for code, theme in themes.items():
        cells = sorted(distributions.get(code, []), key=lambda r: r["ordre_reponse"])
        shares = None if not cells or any(c["secret"] for c in cells) else [c["part"] or 0.0 for c in cells]
        mean = theme["moyennes"].get(ENSEMBLE, {}).get("moyenne")
        chart_rows.append((theme["libelle"].removeprefix("Intérêt : "), shares, format_mean(mean)))
    return {
        "themes": [
            {
                "libelle": theme["libelle"],
                "moyennes": [format_mean(theme["moyennes"].get(c, {}).get("moyenne")) for c in codes + [ENSEMBLE]],
                "repondants": [theme["moyennes"].get(c, {}).get("repondants_question") for c in codes + [ENSEMBLE]],
            }
            for theme in themes.values()
        ],
        "graphique": score_chart("Intérêt des Promeneurs, ensemble du réseau (notes de 1 à 5)", chart_rows)
        if chart_rows
        else None,
    }


def _shown(line: Indicateur, code: str, year: int | None, campaigns: set[int]) -> str:
    """A value as printed; « — » when the year is not in the bilan or the questionnaire was not run."""
    if year is None or (line.code.startswith("questionnaire_") and year not in campaigns):
        return "—"
    return format_number(line.valeur(code, year), line.nature)


def _changed(line: Indicateur, code: str, annee: int, previous: int | None, campaigns: set[int]) -> str:
    if previous is None or (line.code.startswith("questionnaire_") and {annee, previous} - campaigns):
        return "—"
    return format_change(line.valeur(code, annee), line.valeur(code, previous), line.nature)


def _detailed_actions(rows: list[dict], labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Published detailed actions per block (formations, ateliers…), by the indicator their type feeds.

    A block lists its first DETAILED_ROWS_SHOWN actions and counts the others: a national network's
    thousands of workshops belong in the warehouse table, not in a document for the CAF."""
    blocks: dict[str, dict[str, Any]] = {name: {"lignes": [], "autres": 0, "types": 0} for name in DETAILED_BLOCKS}
    for row in rows:
        for name, indicators in DETAILED_BLOCKS.items():
            if row["indicateur"] not in indicators:
                continue
            if len(blocks[name]["lignes"]) == DETAILED_ROWS_SHOWN:
                blocks[name]["autres"] += 1
                continue
            blocks[name]["lignes"].append({
                "date": format_day(row["date_action"]),
                "departement": labels.get(row["departement"], row["departement"]),
                "type": row["type_action"],
                "intitule": WITHHELD_TITLE if row.get("intitule_masque") else row["intitule"],
                "commune": WITHHELD_COMMUNE if row.get("commune_masquee") else row["commune"],
            })
    for block in blocks.values():
        block["types"] = len({line["type"] for line in block["lignes"]})
    return blocks


def _territory(rows: list[dict], labels: dict[str, str]) -> list[dict[str, Any]]:
    """Where the network acted: the communes of the published detailed actions (meetings, trainings, workshops,
    events), by département, with the actions held there by type (a withheld or empty commune is not listed)."""
    places: dict[str, dict[str, dict[str, int]]] = {}
    for row in rows:
        if row["commune"]:
            types = places.setdefault(row["departement"], {}).setdefault(row["commune"], {})
            types[row["type_action"]] = types.get(row["type_action"], 0) + 1
    return [
        {"departement": code, "titre": labels.get(code, code), "communes": [
            {"commune": commune, "actions": " ; ".join(f"{kind} : {count}" for kind, count in types.items())}
            for commune, types in sorted(communes.items(), key=lambda item: item[0].lower())
        ]}
        for code, communes in sorted(places.items())
    ]


def _training_titles(rows: list[dict], code: str) -> list[str]:
    """The published titles of the year's training sessions of one département (all of them for the network)."""
    return list(dict.fromkeys(
        row["intitule"] for row in rows
        if row["indicateur"] in DETAILED_BLOCKS["formations"] and row["intitule"]
        and (code == ENSEMBLE or row["departement"] == code)
    ))


def is_provisional(annee: int, published_at: Any) -> bool:
    """A year not over on the day of the data (the publication of the synchronisation) is provisional."""
    if isinstance(published_at, str) and published_at:
        published_at = datetime.fromisoformat(published_at)
    day = published_at.date() if isinstance(published_at, datetime) else date.today()
    return annee >= day.year


def bilan_placeholders(data: dict[str, list[dict]], codes: list[str]) -> Placeholders:
    """The placeholders valid for this bilan: the published indicators, its groups, the choice questions."""
    questions = [q.code for q in load_catalogue() if q.kind in CHOICE_KINDS]
    questions += [
        q["question"] for q in data["questions_campagne"]
        if q["type_question"] in CHOICE_KINDS and q["question"] not in questions
    ]
    return Placeholders(
        tuple(row["indicateur"] for row in data["definitions"]), (*codes, ENSEMBLE), tuple(questions)
    )


def build_context(
    data: dict[str, list[dict]], annee: int, organisation: str | None, revision: str | None = None
) -> dict[str, Any]:
    """Everything the CAF bilan shows, computed from the published marts (no internal data-quality detail).

    `revision`: « révisé le … » when the year was closed and its figures revised since (flows/ops/closing.py)."""
    names = {row["departement"]: row["nom_departement"] for row in data["departements"]}
    codes = sorted(names)
    labels = {code: _department_label(code, names) for code in codes + [ENSEMBLE]}
    labels |= {code: _department_label(code, names) for code in {r["departement"] for r in data["activites"]}}
    years = [row["annee"] for row in data["annees"]]
    previous = annee - 1 if annee - 1 in years else None
    campaigns = {row["annee"] for row in data["campagnes"]}
    indicators = _indicators(data["indicateurs"])
    by_code = {line.code: line for line in indicators}
    # Recognised values are the indicator's list; « non reconnu » / « non renseigné » are cells to correct.
    types: dict[tuple[str, str, bool], list[str]] = {}
    for row in data["types"]:
        types.setdefault((row["departement"], row["categorie"], row["est_reconnu"]), []).append(row["libelle"])
    sync = data["synchronisation"][0] if data["synchronisation"] else {}
    answers = data["reponses"]
    secrecy = answers[0]["seuil_confidentialite"] if answers else None

    def show(line: Indicateur, code: str, year: int | None) -> str:
        return _shown(line, code, year, campaigns)

    table = [
        {
            "code": line.code,
            "libelle": line.libelle,
            "cellules": [
                {"departement": code, "valeur": show(line, code, annee), "precedente": show(line, code, previous),
                 "evolution": _changed(line, code, annee, previous, campaigns)}
                for code in codes + [ENSEMBLE]
            ],
        }
        for line in indicators
        if line.code != "promeneurs_actifs_cloture_questionnaire"
    ]
    empty = {row["indicateur"]: Indicateur(row["indicateur"], row["libelle"], row["nature"]) for row in data["definitions"]}
    figures = {
        (line.code, code): {
            "": show(line, code, annee),
            "precedente": show(line, code, previous),
            "evolution": _changed(line, code, annee, previous, campaigns),
        }
        for line in [*indicators, *(v for k, v in empty.items() if k not in by_code)]
        for code in codes + [ENSEMBLE]
    }
    fiches = [
        {
            "departement": code,
            "titre": labels[code],
            "promeneurs": show(by_code["promeneurs_actifs_fin_annee"], code, annee),
            "lignes": [
                {"libelle": line.libelle, "valeur": show(line, code, annee), "code": line.code}
                for line in indicators
                if line.code not in ("promeneurs_actifs_fin_annee", "promeneurs_actifs_cloture_questionnaire")
                and not line.code.startswith("questionnaire_")
            ],
            "profils": types.get((code, "profil", True), []),
            "structures": types.get((code, "type_structure", True), []),
            "hors_liste": bool(types.get((code, "profil", False)) or types.get((code, "type_structure", False))),
            "formations": _training_titles(data["actions_detaillees"], code),
        }
        for code in codes + [ENSEMBLE]
    ]
    participation = [
        {
            "titre": labels[code],
            "repondants": show(by_code["questionnaire_repondants"], code, annee),
            "actifs": show(by_code["promeneurs_actifs_cloture_questionnaire"], code, annee),
            "taux": show(by_code["questionnaire_taux_participation"], code, annee),
        }
        for code in codes + [ENSEMBLE]
    ] if "questionnaire_repondants" in by_code else []
    monthly = data["effectifs"]
    network = " et ".join(labels[c] for c in codes)
    return {
        "annee": annee,
        "annee_precedente": previous,
        "provisoire": is_provisional(annee, sync.get("publie_le")),
        "mention_revision": f"Chiffres {revision} (année close, révisée après sa clôture)." if revision else None,
        "organisation": organisation,
        "reseau": network,
        "textes": {
            "annee": str(annee),
            "annee_precedente": str(previous) if previous else "—",
            "reseau": network,
            "organisation": organisation or "—",
        },
        "chiffres": figures,
        "marqueurs": bilan_placeholders(data, codes),
        "departements": [{"code": c, "titre": labels[c]} for c in codes + [ENSEMBLE]],
        "genere_le": format_now(),
        "synchronisation": {"run_id": sync.get("run_id"), "publie_le": format_date(sync.get("publie_le"))},
        "tableau": table,
        "fiches": fiches,
        "effectifs": {
            "graphique": _monthly_chart(monthly, codes, annee) if monthly else None,
            "mois": list(MONTHS),
            "lignes": [
                {"titre": labels[code],
                 "valeurs": [format_number(r["promeneurs_actifs_fin_mois"]) for r in monthly if r["departement"] == code]}
                for code in codes + [ENSEMBLE]
            ],
        },
        "activites": _activities(data["activites"], codes, labels),
        "actions_detaillees": _detailed_actions(data["actions_detaillees"], labels),
        "lieux_actions": _territory(data["actions_detaillees"], labels),
        "questionnaire": {
            "campagne": annee in campaigns,
            "participation": participation,
            "questions": [q for q in _questions(answers, codes) if q["type"] != "echelle"],
            "interets": _interests(data["interets"], answers, codes),
            "non_posees": {
                q["question"]: q["libelle_question"] for q in data["questions_campagne"] if not q["est_posee"]
            },
            "seuil": secrecy,
        },
    }


def figure_text(context: dict[str, Any], name: str, kind: str | Figure) -> str:
    """The text of an inline placeholder: the same formatting as the tables, so the two always agree."""
    if isinstance(kind, Figure):
        return context["chiffres"][(kind.indicateur, kind.departement)][kind.suffixe]
    return context["textes"][name]


def _place_labels(data: dict[str, list[dict]]) -> dict[str, str]:
    """Codes a check names (indicators, départements) → the labels the coordinator reads."""
    labels = {row["indicateur"]: row["libelle"] for row in data["definitions"]}
    labels |= {row["departement"]: row["nom_departement"] for row in data["departements"]}
    return labels | {ENSEMBLE: "Ensemble du réseau"}


def _french_places(places: str, labels: dict[str, str]) -> str:
    """« 2019 / 63 / promeneurs_actifs_debut_annee » → « 2019 — Puy-de-Dôme — Promeneurs actifs au 1er janvier »."""
    return "; ".join(
        " — ".join(labels.get(part.strip(), part.strip()) for part in place.split(" / "))
        for place in places.split("; ")
    ) if places else places


def _rows_read(data: dict[str, list[dict]], run_report: dict | None) -> list[dict[str, Any]]:
    """Rows read per tab as `pdn synchroniser` counted them (the run report): valid, quarantined, and blank rows
    (the mart counts non-blank rows only), so the page and the terminal say the same numbers."""
    counted = {(r["tableur"], r["onglet"]): r["lignes"] for r in (run_report or {}).get("lignes_lues", [])}
    rows = []
    for row in data["lignes_lues"]:
        read = counted.get((row["spreadsheet_title"], row["onglet"]), row["lignes_lues"])
        rows.append(row | {"lignes_lues": read, "lignes_vides": max(read - row["lignes_lues"], 0)})
    return rows


def quality_context(data: dict[str, list[dict]], run_report: dict | None) -> dict[str, Any]:
    """The coordinator's data-quality page: warnings (with the places they concern), rows read, quarantine."""
    sync = data["synchronisation"][0] if data["synchronisation"] else {}
    warnings = [c for c in (run_report or {}).get("controles_en_echec", []) if c.get("gravite") == "avertissement"]
    labels = _place_labels(data)
    return {
        "genere_le": format_now(),
        "synchronisation": {"run_id": sync.get("run_id"), "publie_le": format_date(sync.get("publie_le"))},
        "rapport_trouve": run_report is not None,
        "avertissements": [
            {"message": w["message"], "concerne": _french_places(failure_places(w.get("details") or {}), labels)}
            for w in warnings
        ],
        "lignes_lues": _rows_read(data, run_report),
        "cellules_a_corriger": (run_report or {}).get("cellules_signalees", []),
        "quarantaine": data["quarantaine"],
        "questions_non_cataloguees": data["questions_non_cataloguees"],
        "non_lus": data["non_lus"],
        "lignes_quarantaine": (run_report or {}).get("quarantaine", []),
        "total_quarantaine": sum(r["lignes_quarantaine"] for r in data["lignes_lues"]),
        "cellules_signalees": data["cellules_signalees"],
        **_moved_context(run_report or {}),
    }


def _moved_figure(figure: dict) -> dict[str, Any]:
    """One moved figure as the quality page shows it."""
    return {**figure, "avant": format_number(figure["avant"]), "apres": format_number(figure["apres"])}


def _moved_context(run_report: dict) -> dict[str, Any]:
    """Published figures this sync changed, closed years it kept (would-be changes), and the rows behind them."""
    return {
        "chiffres_modifies": [_moved_figure(f) for f in run_report.get("indicateurs_modifies", [])],
        "annees_revisees": run_report.get("annees_revisees", []),
        "annees_conservees": run_report.get("annees_closes_conservees", []),
        "chiffres_non_appliques": [_moved_figure(f) for f in run_report.get("indicateurs_non_appliques", [])],
        "lignes_en_cause": [rows_line(tab) for tab in run_report.get("lignes_modifiees", [])],
        "ruptures": [
            {**gap, "debut": format_number(gap["debut"]), "fin_precedente": format_number(gap["fin_precedente"])}
            for gap in run_report.get("ruptures_debut_fin", [])
        ],
    }
