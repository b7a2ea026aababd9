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
    assert "Durée : 10,0 s" in text


def test_summary_counts_every_cell_and_says_where_those_past_the_listed_ones_are():
    # A run report lists the first cells only (LISTED_MAX) and keeps their exact number beside.
    listed = [
        {"tableur": "Suivi", "onglet": "Activités", "ligne": n, "colonne": "Public", "motif": "Public hors liste"}
        for n in range(2, 1002)
    ]
    text = format_summary(REPORT | {"cellules_signalees": listed, "cellules_signalees_total": 25_000})
    assert "Cellules à corriger (la ligne est comptée) : 25000" in text
    assert sum("colonne « Public »" in line for line in text.splitlines()) == 20
    assert (
        "… et 24980 autres : le rapport d'exécution liste les 1000 premières, qualite.cellules_signalees et la page "
        "qualité les comptent par motif" in text
    )


def test_summary_of_a_report_written_before_totals_counts_its_whole_list():
    rows = [{"tableur": "Suivi", "onglet": "Activités", "ligne": n, "motif": "Date illisible"} for n in range(2, 32)]
    text = format_summary(REPORT | {"quarantaine": rows})
    assert "Lignes mises en quarantaine (non comptées) : 30" in text
    assert "… et 10 autres (voir le rapport d'exécution)" in text
