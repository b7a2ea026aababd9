"""The French run summary shown by `pdn synchroniser` and sent in alerts (built from the run report: no personal data)."""

from __future__ import annotations

from flows.outputs.french import format_number
from flows.vocabulary import status_sentence

# Part of the quarantine reason of a row of a person who asked for erasure (dbt/macros/effacement.sql).
ERASED_REASON = "ayant demandé l'effacement"


def format_summary(report: dict) -> str:
    """A short French account of a run, for the terminal and for alerts (no personal data)."""
    lines = [f"Synchronisation {report['run_id']} : {status_sentence(report['statut'])}."]
    if report.get("message"):
        lines.append(f"  {report['message']}")
    if report.get("source"):
        lines.append(f"  Source : {report['source']}")
    for tab in report.get("lignes_lues", []):
        note = f" ({tab['lecture']})" if tab.get("lecture") else ""
        lines.append(f"  Lignes lues : {tab['tableur']} / {tab['onglet']} : {tab['lignes']}{note}")
    for item in report.get("non_lus", []):
        place = f"{item['tableur']} / onglet" if item["type"] == "onglet" else "fichier"
        lines.append(f"  Non lu : {place} « {item['nom']} » : {item['motif']}.")
    if report.get("requetes_sheets"):
        lines.append(f"  Requêtes Google Sheets : {report['requetes_sheets']}")
    if report.get("requetes_forms"):
        lines.append(f"  Requêtes Google Forms : {report['requetes_forms']}")
    for event in report.get("evenements", []):
        lines.append(f"  Attention : {event}")
    quarantine = report.get("quarantaine", [])
    erased = sum(ERASED_REASON in row["motif"] for row in quarantine)  # listed first by the sync
    if erased:
        lines.append(
            f"  Attention : {erased} ligne(s) de personnes ayant demandé l'effacement de leurs données figurent encore "
            "dans les tableurs (listées ci-dessous) : supprimez-les ; d'ici là, elles ne sont ni recopiées ni comptées."
        )
    if quarantine:
        lines.append(f"  Lignes mises en quarantaine (non comptées) : {_total(report, 'quarantaine')}")
        lines += [f"    - {row['tableur']} / {row['onglet']}, ligne {row['ligne']} : {row['motif']}" for row in quarantine[:20]]
        lines += _more(report, "quarantaine", "qualite.quarantaine")
    cells = report.get("cellules_signalees", [])
    if cells:
        lines.append(f"  Cellules à corriger (la ligne est comptée) : {_total(report, 'cellules_signalees')}")
        lines += [
            f"    - {cell['tableur']} / {cell['onglet']}, ligne {cell['ligne']}, colonne « {cell['colonne']} » : "
            f"{cell['motif']}"
            for cell in cells[:20]
        ]
        lines += _more(report, "cellules_signalees", "qualite.cellules_signalees")
    for question in report.get("questions_non_cataloguees", []):
        what = "en double (une autre colonne répond déjà à cette question)" if question["motif"] == "en double" else (
            "non cataloguée : gardée, comptée dans rien tant que le catalogue ne la nomme pas"
        )
        lines.append(f"  Avertissement : {question['tableur']} ({question['annee']}), question « {question['colonne']} » {what}.")
    failures = report.get("controles_en_echec", [])
    for level, label in (("critique", "Contrôle bloquant"), ("avertissement", "Avertissement")):
        for failure in (f for f in failures if f["gravite"] == level):
            lines.append(f"  {label} : {failure['message']}")
            where = failure_places(failure.get("details") or {})
            if where:
                lines.append(f"    concerne : {where}")
    lines += _write_back_lines(report)
    lines += _moved_figures(report)
    if report.get("fichier_publie"):
        lines.append(f"  Entrepôt publié : {report['fichier_publie']}")
    if report.get("durees_secondes"):
        total = sum(report["durees_secondes"].values())
        lines.append(f"  Durée : {total:.1f} s".replace(".", ","))
    return "\n".join(lines)


def _write_back_lines(report: dict) -> list[str]:
    """The « À corriger » tabs ([retour]): where they were written, and a warning with the fix for each failure."""
    written = [f"{t['tableur']} ({t['lignes']})" for t in report.get("a_corriger", []) if t["etat"] != "echec"]
    lines = [f"  Onglet « À corriger » à jour : {', '.join(written)}"] if written else []
    for failed in (t for t in report.get("a_corriger", []) if t["etat"] == "echec"):
        where = f" du tableur « {failed['tableur']} »" if failed.get("tableur") else ""
        lines.append(f"  Attention : l'onglet « À corriger »{where} n'a pas été écrit : {failed['message']}.")
    return lines


def _total(report: dict, key: str) -> int:
    """How many rows or cells the run found (reports before the cap had no total: their list was whole)."""
    return report.get(f"{key}_total", len(report.get(key, [])))


def _more(report: dict, key: str, table: str) -> list[str]:
    """The line after the first 20: where the others are listed (the run report) or only counted."""
    shown, listed, total = 20, len(report.get(key, [])), _total(report, key)
    if total <= shown:
        return []
    if listed == total:
        return [f"    … et {total - shown} autres (voir le rapport d'exécution)"]
    return [
        f"    … et {total - shown} autres : le rapport d'exécution liste les {listed} premières, "
        f"{table} et la page qualité les comptent par motif"
    ]


def _moved_figures(report: dict) -> list[str]:
    """Every published figure this run changed (the coordinator tells the CAF), and the closed years it did not."""
    moved = report.get("indicateurs_modifies", [])
    lines = []
    if report.get("effacement"):
        lines.append(
            f"  Effacement {report['effacement']} : indicateurs recalculés sans la personne, "
            f"{len(moved)} valeur(s) modifiée(s)" + (" :" if moved else ".")
        )
    elif moved:
        lines.append(f"  Chiffres déjà publiés modifiés par cette synchronisation : {len(moved)} valeur(s) :")
    lines += [f"    - {_moved_line(f)}" for f in moved]
    lines += [f"    {rows_line(tab)}" for tab in report.get("lignes_modifiees", [])]
    if moved:
        revised = report.get("annees_revisees", [])
        if revised:
            lines.append(f"    Année(s) close(s) révisée(s) : {', '.join(map(str, revised))} (enregistré).")
        lines.append("    Si l'un de ces chiffres a déjà été transmis (CAF, bilan), signalez la nouvelle valeur.")
    return lines + _kept_closed_years(report)


def _kept_closed_years(report: dict) -> list[str]:
    """Closed years kept as frozen: what would have moved, how to apply it; open years no longer following them."""
    lines = []
    for annee in report.get("annees_closes_conservees", []):
        figures = [f for f in report.get("indicateurs_non_appliques", []) if f["annee"] == annee]
        lines.append(
            f"  {annee} fermée : chiffres publiés conservés, {len(figures)} valeur(s) non appliquée(s)"
            + (" :" if figures else " (seul le détail des actions aurait changé).")
        )
        lines += [f"    - {_moved_line(f)} non appliqué" for f in figures]
        lines.append(f"    pdn synchroniser --reviser {annee} pour l'appliquer.")
    for gap in report.get("ruptures_debut_fin", []):
        lines.append(
            f"  Attention : {gap['annee']} / {gap['departement']} : début {gap['annee']} = "
            f"{format_number(gap['debut'])} ≠ fin {gap['annee'] - 1} fermée = {format_number(gap['fin_precedente'])} "
            f"(les tableurs ne correspondent plus à l'année close ; pdn synchroniser --reviser {gap['annee'] - 1} pour l'aligner)."
        )
    return lines


def _moved_line(figure: dict) -> str:
    """« 2019 / 03 / sorties : 1 → 0 »."""
    return (
        f"{figure['annee']} / {figure['departement']} / {figure['indicateur']} : {format_number(figure['avant'])} → "
        f"{format_number(figure['apres'])}"
    )


def rows_line(tab: dict) -> str:
    """The sheet rows behind the moved figures, in one tab (row numbers only)."""
    parts = []
    for key, label in (("supprimees", "supprimée(s) (numéros d'avant)"), ("ajoutees", "ajoutée(s) ou modifiée(s)")):
        if tab.get(key):
            more = tab.get(f"{key}_total", len(tab[key])) - len(tab[key])
            listed = ", ".join(map(str, tab[key])) + (f" et {more} autres" if more > 0 else "")
            parts.append(f"{tab.get(f'{key}_total', len(tab[key]))} ligne(s) {label} : {listed}")
    return f"Lignes en cause, {tab['tableur']} / {tab['onglet']} : " + " ; ".join(parts)


# Columns of a check's examples that say where the problem is (aggregates only: no personal data).
_WHERE_COLUMNS = ("annee", "departement", "indicateur", "spreadsheet_title", "onglet")


def failure_places(details: dict, most: int = 3) -> str:
    """The first examples of a failed check, as « 2019 / 63 / promeneurs_actifs_debut_annee »."""
    examples = [e for e in details.get("exemples", []) if isinstance(e, dict)]
    places = [" / ".join(str(e[c]) for c in _WHERE_COLUMNS if c in e) for e in examples[:most]]
    more = details.get("lignes_en_erreur", len(examples)) - len(places)
    return "; ".join(p for p in places if p) + (f" (et {more} autres)" if more > 0 and places else "")
