"""What the bilan reads: plain SQL on the published marts, through one read-only connection.

The report reads only the published warehouse and the run report of the synchronisation that published
it, never the raw history nor the private build. These are the queries an analyst or the BI tool can run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flows.pipeline.publish import open_published


def report_queries(annee: int) -> dict[str, str]:
    """Every query the report runs for one year (plain SQL on the published marts)."""
    year = int(annee)  # the only value put in the SQL: an integer, so nothing can be injected
    return {
        "annees": "select distinct annee from bilan.indicateurs_annuels order by annee",
        "departements": "select departement, nom_departement from bilan.departements_reseau order by departement",
        "definitions": "select indicateur, libelle, nature, ordre from bilan.definitions_indicateurs order by ordre",
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
                min(d.ordre) as ordre, min(d.libelle) as libelle_indicateur
            from bilan.activites as a
            -- a type added in the Listes tab feeds no indicator: listed after the others
            left join bilan.definitions_indicateurs as d on d.indicateur = a.indicateur
            where a.annee = {year}
            group by a.type_action, a.departement
            order by ordre nulls last, a.type_action, a.departement""",
        "actions_detaillees": f"""
            select a.date_action, a.departement, a.type_action, a.intitule, a.intitule_masque, a.commune,
                a.commune_masquee, t.indicateur
            from bilan.actions_detaillees as a
            left join (select distinct type_action, indicateur from bilan.activites) as t using (type_action)
            where a.annee = {year}
            order by a.date_action, a.departement, a.type_action""",
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
        "non_lus": """
            select type, spreadsheet_title, onglet_ou_fichier, motif
            from qualite.non_lus
            order by type desc, spreadsheet_title, onglet_ou_fichier""",
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
