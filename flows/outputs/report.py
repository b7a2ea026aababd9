"""The annual bilan: one self-contained French HTML file (inline CSS and SVG charts) plus the CAF exports.

The report reads only the published warehouse, through a read-only connection, and the run report of
the synchronisation that published it: never the raw history nor the private build. Its queries are
plain SQL on the published marts (`report_queries`), the same an analyst or the BI tool can run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from flows.errors import InputError
from flows.outputs.charts import (
    COLOURS,
    DEPARTMENT_COLOURS,
    line_chart,
    score_chart,
    share_bar_chart,
    stacked_bar_chart,
)
from flows.outputs.french import MONTHS, format_change, format_date, format_mean, format_number
from flows.pipeline.publish import open_published
from flows.settings import Settings
from flows.storage import write_text_atomically
from flows.vocabulary import ENSEMBLE

REPORTS_SUBDIR = "rapports"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
COMMUN = "/"  # a two-département activity carries both codes joined by '/'

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BilanFiles:
    """What `pdn report` writes for one year."""

    annee: int
    html: Path
    xlsx: Path
    csv: Path


# ----------------------------------------------------------------------------------------------
# Reading the published warehouse
# ----------------------------------------------------------------------------------------------


def report_queries(annee: int) -> dict[str, str]:
    """Every query the report runs for one year (plain SQL on the published marts)."""
    year = int(annee)  # the only value put in the SQL: an integer, so nothing can be injected
    return {
        "annees": "select distinct annee from bilan.indicateurs_annuels order by annee",
        "departements": "select departement, nom_departement from bilan.departements_reseau order by departement",
        "indicateurs": f"""
            select i.annee, i.departement, i.indicateur, d.libelle, d.nature, d.ordre, i.valeur
            from bilan.indicateurs_annuels as i
            inner join bilan.definitions_indicateurs as d on d.indicateur = i.indicateur
            where i.annee in ({year}, {year - 1})
            order by d.ordre, i.departement, i.annee""",
        "types": f"""
            select departement, categorie, libelle, est_reconnu
            from bilan.types_par_departement
            where annee = {year}
            order by departement, categorie, lower(strip_accents(libelle))""",
        "effectifs": f"""
            select mois, departement, promeneurs_actifs_fin_mois
            from bilan.effectifs_mensuels
            where annee = {year}
            order by mois, departement""",
        "activites": f"""
            select a.type_action, a.departement, count(*) as actions, sum(a.participants) as participants,
                min(d.ordre) as ordre
            from bilan.activites as a
            -- a type added in the Listes tab feeds no indicator: listed after the others
            left join bilan.definitions_indicateurs as d on d.indicateur = a.indicateur
            where a.annee = {year}
            group by a.type_action, a.departement
            order by ordre nulls last, a.type_action, a.departement""",
        "campagnes": "select distinct annee from bilan.reponses_questionnaire order by annee",
        "reponses": f"""
            select departement, question, libelle_question, type_question, ordre_question, reponse,
                ordre_reponse, repondants_question, repondants, part, secret, seuil_confidentialite
            from bilan.reponses_questionnaire
            where annee = {year}
            order by ordre_question, ordre_reponse, departement""",
        "interets": f"""
            select departement, question, libelle_question, ordre_question, repondants_question, moyenne, secret
            from bilan.interets_questionnaire
            where annee = {year}
            order by ordre_question, departement""",
        "questions_campagne": f"""
            select question, libelle_question, type_question, est_posee
            from bilan.questions_campagnes
            where annee = {year}
            order by ordre_question""",
        "questions_non_cataloguees": """
            select annee, spreadsheet_title, onglet, colonne, motif
            from qualite.questions_non_cataloguees
            order by annee, spreadsheet_title, colonne""",
        "lignes_lues": """
            select spreadsheet_title, onglet, lignes_lues, lignes_valides, lignes_quarantaine
            from qualite.lignes_lues
            order by spreadsheet_title, onglet""",
        "quarantaine": """
            select spreadsheet_title, onglet, motif, lignes
            from qualite.quarantaine
            order by spreadsheet_title, onglet, motif""",
        "cellules_signalees": """
            select spreadsheet_title, onglet, colonne, motif, lignes
            from qualite.cellules_signalees
            order by spreadsheet_title, onglet, colonne, motif""",
        "synchronisation": "select run_id, sync_id, publie_le from qualite.synchronisation",
    }


def fetch(con: Any, sql: str) -> list[dict[str, Any]]:
    """Rows of one query as dictionaries (works with a DuckDB or a DB-API connection)."""
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def available_years(published_db: Path) -> list[int]:
    """Years present in the published bilan."""
    with open_published(published_db) as con:
        return [row["annee"] for row in fetch(con, report_queries(0)["annees"])]


def read_published(published_db: Path, annee: int) -> dict[str, list[dict[str, Any]]]:
    """Run every report query in one read-only connection, so all figures come from one file."""
    with open_published(published_db) as con:
        return {name: fetch(con, sql) for name, sql in report_queries(annee).items()}


def read_run_report(runs_dir: Path, run_id: str | None) -> dict | None:
    """The run report of the synchronisation that published the file (None if it was deleted)."""
    if not run_id:
        return None
    path = runs_dir / f"{run_id}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------------------
# From query results to what the template shows
# ----------------------------------------------------------------------------------------------


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
    """Actions by type (rows) and département (columns), with the chart."""
    columns = codes + sorted({r["departement"] for r in rows if COMMUN in r["departement"]})
    types: dict[str, dict[str, int]] = {}
    participants: dict[str, int] = {}
    for row in rows:
        types.setdefault(row["type_action"], {})[row["departement"]] = row["actions"]
        participants[row["type_action"]] = participants.get(row["type_action"], 0) + (row["participants"] or 0)
    colours = _department_colours(codes)
    legend = [(labels.get(c, c), colours.get(c, COLOURS["commun"])) for c in columns]
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


def build_context(data: dict[str, list[dict]], run_report: dict | None, annee: int) -> dict[str, Any]:
    """Everything the template shows, computed from the published marts and the run report."""
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
    warnings = [c for c in (run_report or {}).get("controles_en_echec", []) if c.get("gravite") == "avertissement"]
    answers = data["reponses"]
    secrecy = answers[0]["seuil_confidentialite"] if answers else None

    def show(line: Indicateur, code: str, year: int | None) -> str:
        if year is None:
            return "—"
        if line.code.startswith("questionnaire_") and year not in campaigns:
            return "—"
        return format_number(line.valeur(code, year), line.nature)

    def change(line: Indicateur, code: str) -> str:
        if previous is None or (line.code.startswith("questionnaire_") and previous not in campaigns):
            return "—"
        return format_change(line.valeur(code, annee), line.valeur(code, previous), line.nature)

    table = [
        {
            "code": line.code,
            "libelle": line.libelle,
            "cellules": [
                {"departement": code, "valeur": show(line, code, annee), "precedente": show(line, code, previous),
                 "evolution": change(line, code)}
                for code in codes + [ENSEMBLE]
            ],
        }
        for line in indicators
        if line.code != "promeneurs_actifs_cloture_questionnaire"
    ]
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
    return {
        "annee": annee,
        "annee_precedente": previous,
        "reseau": " et ".join(labels[c] for c in codes),
        "departements": [{"code": c, "titre": labels[c]} for c in codes + [ENSEMBLE]],
        "genere_le": datetime.now().strftime("%d/%m/%Y à %H:%M"),
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
        "questionnaire": {
            "campagne": annee in campaigns,
            "participation": participation,
            "questions": [q for q in _questions(answers, codes) if q["type"] != "echelle"],
            "interets": _interests(data["interets"], answers, codes),
            "non_posees": [
                {"code": q["question"], "libelle": q["libelle_question"]}
                for q in data["questions_campagne"]
                if not q["est_posee"]
            ],
            "seuil": secrecy,
        },
        "qualite": {
            "rapport_trouve": run_report is not None,
            "avertissements": [w["message"] for w in warnings],
            "lignes_lues": data["lignes_lues"],
            "quarantaine": data["quarantaine"],
            "questions_non_cataloguees": data["questions_non_cataloguees"],
            "lignes_quarantaine": (run_report or {}).get("quarantaine", []),
            "total_quarantaine": sum(r["lignes_quarantaine"] for r in data["lignes_lues"]),
            "cellules_signalees": data["cellules_signalees"],
        },
    }


def render_html(context: dict[str, Any]) -> str:
    """The report page, from the Jinja2 template (autoescaped)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("bilan.html.j2").render(**context)


def reports_dir(settings: Settings) -> Path:
    """Where bilans and exports are written: $PDN_WAREHOUSE_DIR/rapports."""
    return settings.warehouse_dir / REPORTS_SUBDIR


def produce_bilan(settings: Settings, annee: int | None = None) -> BilanFiles:
    """Write the year's HTML bilan and the CAF exports next to it; default year: the latest one."""
    from flows.outputs.exports import write_exports

    published = settings.published_db
    if not published.exists():
        raise InputError(f"Aucun entrepôt publié ({published}) : lancez d'abord « pdn sync ».")
    years = available_years(published)
    if not years:
        raise InputError("L'entrepôt publié ne contient aucune année de bilan.")
    annee = years[-1] if annee is None else int(annee)
    if annee not in years:
        listed = ", ".join(str(y) for y in years)
        raise InputError(f"L'année {annee} n'est pas dans l'entrepôt publié (années disponibles : {listed}).")
    data = read_published(published, annee)
    run_id = data["synchronisation"][0]["run_id"] if data["synchronisation"] else None
    html = render_html(build_context(data, read_run_report(settings.runs_dir, run_id), annee))
    target = reports_dir(settings) / f"bilan-{annee}.html"
    write_text_atomically(target, html)  # a mail client or a browser never sees half a file
    xlsx, csv = write_exports(published, annee, target.parent)
    return BilanFiles(annee, target, xlsx, csv)


def report_after_sync(settings: Settings) -> BilanFiles | None:
    """After a publication, the latest year's bilan; a failure is logged, never raised."""
    try:
        return produce_bilan(settings)
    except Exception as err:  # the warehouse is already published: a report problem must not fail the sync
        logger.warning("Le bilan n'a pas pu être généré : %s", err)
        return None

