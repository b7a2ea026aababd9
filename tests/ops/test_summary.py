"""The French run summary says what failed and where, from the run report alone."""

from flows.ops.summary import format_summary

REPORT = {
    "run_id": "20191231T030000Z-abcdef",
    "statut": "publie",
    "source": "sheets",
    "lignes_lues": [{"tableur": "Suivi", "onglet": "Activités", "lignes": 74}],
    "requetes_sheets": 4,
    "quarantaine": [{"tableur": "Suivi", "onglet": "Activités", "ligne": 47, "motif": "Date illisible"}],
    "controles_en_echec": [
        {
            "suite": "qualite_controles_evolution",
            "controle": "expect_column_values_to_be_between(variation_relative)",
            "gravite": "avertissement",
            "message": "Un indicateur varie de plus de ±100 %.",
            "details": {
                "lignes_en_erreur": 4,
                "exemples": [
                    {"variation_relative": 4.2, "annee": 2019, "departement": "63", "indicateur": "ateliers"},
                    {"variation_relative": 6.1, "annee": 2019, "departement": "ensemble", "indicateur": "ateliers"},
                ],
            },
        }
    ],
    "fichier_publie": "/srv/pdn/warehouse/pdn.duckdb",
    "durees_secondes": {"extraction": 1.0, "dbt": 9.0},
}


def test_summary_names_the_run_rows_quarantine_and_where_a_check_failed():
    text = format_summary(REPORT)
    assert text.splitlines()[0] == "Synchronisation 20191231T030000Z-abcdef : publiée."
    assert "Suivi / Activités, ligne 47 : Date illisible" in text
    assert "Requêtes Google Sheets : 4" in text
    assert "Avertissement : Un indicateur varie de plus de ±100 %." in text
    assert "concerne : 2019 / 63 / ateliers; 2019 / ensemble / ateliers (et 2 autres)" in text
    assert "Durée : 10.0 s" in text
