"""Great Expectations gate: validate the candidate warehouse file before it is published.

The GX project lives in `expectations/gx/` (suites, validation definitions, checkpoints committed
as files). Each run opens that project read-only, validates pandas dataframes read from the
candidate DuckDB file (GX's SQL path through duckdb-engine returns empty results), and builds
Data Docs into the folder the caller passes. Run `python -m flows.pipeline.validate --rebuild` after
changing a rule or a threshold below: it regenerates the committed files from this module.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import functools
import html
import logging
import math
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import yaml

from flows.settings import EXPECTATIONS_DIR
from flows.vocabulary import ENSEMBLE

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.expectations import Expectation

# GX reads this when its config leaves analytics unset; the project file also disables them.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

logger = logging.getLogger(__name__)

GX_PROJECT_ROOT = EXPECTATIONS_DIR
GX_DIR = GX_PROJECT_ROOT / "gx"
DATASOURCE_NAME = "entrepot_candidat"
BATCH_DEFINITION_NAME = "table_entiere"
DATA_DOCS_SITE = "pdn_qualite"
RESULTS_SUBDIR = "resultats_validation"  # validation results JSON, kept beside the Data Docs pages

CRITIQUE = "critique"
AVERTISSEMENT = "avertissement"
_GX_SEVERITY = {CRITIQUE: "critical", AVERTISSEMENT: "warning"}

# Suite parameters ($PARAMETER) are computed per run: allowed departments (these, unless the caller
# passes the sync's list, plus 'ensemble'), defined indicators, expected indicator row count.
NETWORK_DEPARTMENTS: tuple[str, ...] = ("03", "63")

# --- Thresholds: written into the committed suites by --rebuild (a test checks they agree) ---
# Decimal sums (jours_formation) are floating point: |ecart_somme| below this counts as zero.
ECART_TOLERANCE = 1e-9
# Year-on-year change beyond ±100 % is implausible for this network...
VARIATION_RELATIVE_MAX = 1.0
# ...but only judged when last year's value is large enough for a ratio to mean something.
VARIATION_BASE_MIN = 5
# Below this share of Promeneurs answering, the questionnaire figures are fragile.
TAUX_PARTICIPATION_MIN = 0.2
INDICATEUR_TAUX_PARTICIPATION = "questionnaire_taux_participation"
# A tab yielding less than this share of the rows read for the last published file is a collapse.
RATIO_LIGNES_LUES_MIN = 0.5
# ...and so is a tab whose valid rows fall below this share (a reformatted column quarantines every row read).
RATIO_LIGNES_VALIDES_MIN = 0.5

NATURES = ("compte", "jours", "taux")
INDICATEURS_COLUMNS = ("annee", "departement", "indicateur", "valeur")
DEFINITIONS_COLUMNS = ("indicateur", "libelle", "nature", "additif", "domaine", "ordre", "description")
MAX_EXAMPLES = 5  # unexpected rows quoted in a failure's details
# Runs kept in the Data Docs folder: each kept run makes the next docs build slower (~10 ms a run).
DATA_DOCS_RUNS_KEPT = 30


@dataclass(frozen=True)
class CheckFailure:
    """One failed expectation (or a table the gate could not check)."""

    suite: str
    expectation: str
    severity: str  # 'critique' | 'avertissement'
    message: str  # French, for the coordinator; never contains personal data
    details: dict


@dataclass(frozen=True)
class GateResult:
    """Outcome of the gate: publication is allowed when no critical check failed."""

    passed: bool
    failures: list[CheckFailure]
    data_docs_index: Path | None


@dataclass(frozen=True)
class SuiteSpec:
    """A suite and the frame it validates (suite, asset, validation definition and checkpoint share the name)."""

    name: str
    table: str  # candidate table, or the table a derived frame is computed from
    row_key: tuple[str, ...]  # columns quoted to locate an unexpected row (aggregates only)


SUITES: tuple[SuiteSpec, ...] = (
    SuiteSpec("bilan_indicateurs_annuels", "bilan.indicateurs_annuels", ("annee", "departement", "indicateur")),
    SuiteSpec("bilan_definitions_indicateurs", "bilan.definitions_indicateurs", ("indicateur",)),
    SuiteSpec("qualite_controles_indicateurs", "qualite.controles_indicateurs", ("annee", "indicateur")),
    SuiteSpec("qualite_controles_effectifs", "qualite.controles_effectifs", ("annee", "departement")),
    SuiteSpec(
        "qualite_controles_evolution", "qualite.controles_evolution", ("annee", "departement", "indicateur")
    ),
    SuiteSpec("qualite_lignes_lues", "qualite.lignes_lues", ("spreadsheet_title", "onglet")),
    # Derived frames, built in Python: rows read and valid per tab now versus in the last published file, and
    # the years of the last published file present or not in the candidate.
    SuiteSpec("qualite_comparaison_lignes_lues", "qualite.lignes_lues", ("spreadsheet_title", "onglet")),
    SuiteSpec("qualite_comparaison_annees", "bilan.indicateurs_annuels", ("annee",)),
)
COMPARISON_SUITE = "qualite_comparaison_lignes_lues"
YEARS_SUITE = "qualite_comparaison_annees"

_GATE_LOCK = threading.Lock()  # GX keeps a process-wide "current project": one gate at a time


@functools.cache
def _gx() -> Any:
    """Import Great Expectations once, on first use (the import alone costs ~2 s)."""
    import great_expectations
    from great_expectations.core.run_identifier import RunIdentifier  # noqa: F401 (warmed with the package)

    return great_expectations


def warm_up() -> None:
    """Import Great Expectations now, ahead of the gate (`pdn synchroniser` does it while Prefect starts)."""
    _gx()


def warm_up_in_background() -> threading.Thread:
    """Import Great Expectations in a daemon thread while dbt builds: the gate then starts at once."""
    thread = threading.Thread(target=_gx, name="gx-import", daemon=True)
    thread.start()
    return thread


# ----------------------------------------------------------------------------------------------
# Rules: the Python spec the committed suites are generated from
# ----------------------------------------------------------------------------------------------


def _rule(kind: str, severity: str, message: str, **kwargs: Any) -> Expectation:
    """One expectation carrying the gate severity and the coordinator's message."""
    expectation_class = getattr(_gx().expectations, kind)
    return expectation_class(
        severity=_GX_SEVERITY[severity],
        meta={"severity": severity, "message": message},
        notes=f"[{severity}] {message}",  # shown in Data Docs next to GX's own wording
        **kwargs,
    )


def _col(name: str) -> Any:
    """A row-condition column (GX 1.x Condition API)."""
    from great_expectations.expectations.row_conditions import Column

    return Column(name)


def _indicateurs_rules() -> list[Expectation]:
    """bilan.indicateurs_annuels, enriched with each indicator's `nature` from its definition."""
    table = "bilan.indicateurs_annuels"
    rules = [
        _rule("ExpectTableRowCountToBeBetween", CRITIQUE,
              f"La table {table} est vide : aucun indicateur n'a été calculé.", min_value=1),
        _rule("ExpectTableColumnsToMatchSet", CRITIQUE,
              f"La table {table} n'a pas les colonnes attendues ({', '.join(INDICATEURS_COLUMNS)}).",
              column_set=list(INDICATEURS_COLUMNS), exact_match=False),
    ]
    rules += [
        _rule("ExpectColumnValuesToNotBeNull", CRITIQUE,
              f"La colonne « {column} » de {table} contient des valeurs vides.", column=column)
        for column in INDICATEURS_COLUMNS
        if column != "valeur"
    ]
    # A questionnaire figure of a year without campaign was never measured: it is null, never 0.
    rules.append(
        _rule("ExpectColumnValuesToNotBeNull", CRITIQUE,
              f"Un indicateur mesuré chaque année (hors questionnaire) est vide dans {table}.",
              column="valeur", row_condition=_col("domaine") != "questionnaire")
    )
    rules += [
        _rule("ExpectCompoundColumnsToBeUnique", CRITIQUE,
              "Un même indicateur apparaît plusieurs fois pour une même année et un même département.",
              column_list=["annee", "departement", "indicateur"]),
        _rule("ExpectColumnValuesToBeInSet", CRITIQUE,
              "Des indicateurs portent sur un département qui n'est ni un département du réseau "
              "ni « ensemble ».",
              column="departement", value_set={"$PARAMETER": "departements_attendus"}),
        _rule("ExpectColumnValuesToBeInSet", CRITIQUE,
              "Des indicateurs calculés ne figurent pas dans bilan.definitions_indicateurs.",
              column="indicateur", value_set={"$PARAMETER": "indicateurs_definis"}),
        _rule("ExpectTableRowCountToEqual", CRITIQUE,
              "Le tableau des indicateurs est incomplet : chaque indicateur défini doit avoir une valeur "
              "pour chaque année, chaque département du réseau et l'ensemble.",
              value={"$PARAMETER": "nb_lignes_attendues"}),
        _rule("ExpectColumnValuesToBeBetween", CRITIQUE,
              "Des indicateurs ont une valeur négative.", column="valeur", min_value=0),
        _rule("ExpectColumnValuesToBeBetween", CRITIQUE,
              "Un taux (indicateur de nature « taux ») sort de l'intervalle 0 à 1.",
              column="valeur", min_value=0, max_value=1, row_condition=_col("nature") == "taux"),
        _rule("ExpectColumnValuesToBeBetween", AVERTISSEMENT,
              f"Le taux de participation au questionnaire est inférieur à {_percent(TAUX_PARTICIPATION_MIN)} : "
              "les résultats du questionnaire sont fragiles (relancer les Promeneurs ?).",
              column="valeur", min_value=TAUX_PARTICIPATION_MIN,
              # 0 means no campaign evaluated that year: warning about it every night would be noise.
              row_condition=(_col("indicateur") == INDICATEUR_TAUX_PARTICIPATION) & (_col("valeur") > 0)),
    ]
    return rules


def _definitions_rules() -> list[Expectation]:
    """bilan.definitions_indicateurs: the reference every other check relies on."""
    table = "bilan.definitions_indicateurs"
    return [
        _rule("ExpectTableRowCountToBeBetween", CRITIQUE,
              f"La table {table} est vide : les indicateurs ne peuvent pas être contrôlés.", min_value=1),
        _rule("ExpectTableColumnsToMatchSet", CRITIQUE,
              f"La table {table} n'a pas les colonnes attendues ({', '.join(DEFINITIONS_COLUMNS)}).",
              column_set=list(DEFINITIONS_COLUMNS), exact_match=False),
        _rule("ExpectColumnValuesToNotBeNull", CRITIQUE,
              f"Une définition d'indicateur n'a pas de nom dans {table}.", column="indicateur"),
        _rule("ExpectColumnValuesToBeUnique", CRITIQUE,
              f"Un indicateur est défini plusieurs fois dans {table}.", column="indicateur"),
        _rule("ExpectColumnValuesToBeInSet", CRITIQUE,
              "La nature d'un indicateur doit être « compte », « jours » ou « taux ».",
              column="nature", value_set=list(NATURES)),
        _rule("ExpectColumnValuesToNotBeNull", CRITIQUE,
              f"Une définition d'indicateur ne précise pas sa nature dans {table}.", column="nature"),
        _rule("ExpectColumnValuesToNotBeNull", CRITIQUE,
              f"Une définition d'indicateur ne précise pas s'il est additif dans {table}.", column="additif"),
    ]


def _controles_indicateurs_rules() -> list[Expectation]:
    """qualite.controles_indicateurs: completeness and department/ensemble consistency."""
    # Bounds hold for distinct counts (types_profils...), not for rates: a network-wide rate is a
    # weighted mean of the departments' and may sit below the highest one.
    distinct_count = (_col("additif") == False) & (_col("nature") == "compte")  # noqa: E712 (GX condition)
    return [
        _rule("ExpectTableRowCountToBeBetween", CRITIQUE,
              "La table qualite.controles_indicateurs est vide : la cohérence des indicateurs n'a pas été "
              "vérifiée.", min_value=1),
        _rule("ExpectColumnPairValuesToBeEqual", CRITIQUE,
              "Un indicateur manque pour au moins un département du réseau.",
              column_A="nb_departements_presents", column_B="nb_departements_attendus"),
        _rule("ExpectColumnValuesToBeBetween", CRITIQUE,
              "Un indicateur de comptage (nature « compte ») a une valeur non entière.",
              column="valeurs_non_entieres", min_value=0, max_value=0,
              row_condition=_col("nature") == "compte"),
        _rule("ExpectColumnValuesToBeBetween", CRITIQUE,
              "Pour un indicateur additif, la valeur « ensemble » diffère de la somme des départements "
              "et des actions bi-départementales.",
              column="ecart_somme", min_value=-ECART_TOLERANCE, max_value=ECART_TOLERANCE,
              row_condition=_col("additif") == True),  # noqa: E712 (builds a GX condition)
        _rule("ExpectColumnPairValuesAToBeGreaterThanB", CRITIQUE,
              "Pour un comptage non additif (nombre de types distincts), la valeur « ensemble » dépasse "
              "la somme des départements.",
              column_A="somme_departements", column_B="valeur_ensemble", or_equal=True,
              row_condition=distinct_count),
        _rule("ExpectColumnPairValuesAToBeGreaterThanB", CRITIQUE,
              "Pour un comptage non additif (nombre de types distincts), la valeur « ensemble » est "
              "inférieure à celle d'un département.",
              column_A="valeur_ensemble", column_B="max_departement", or_equal=True,
              row_condition=distinct_count),
    ]


def _controles_effectifs_rules() -> list[Expectation]:
    """qualite.controles_effectifs: debut + nouveaux - sorties = fin."""
    message = ("Les effectifs ne bouclent pas : Promeneurs actifs en début d'année + nouveaux − sorties "
               "≠ actifs en fin d'année.")
    return [
        _rule("ExpectTableRowCountToBeBetween", CRITIQUE,
              "La table qualite.controles_effectifs est vide : la cohérence des effectifs n'a pas été "
              "vérifiée.", min_value=1),
        _rule("ExpectColumnValuesToNotBeNull", CRITIQUE, message, column="ecart"),
        _rule("ExpectColumnValuesToBeBetween", CRITIQUE, message, column="ecart", min_value=0, max_value=0),
    ]


def _controles_evolution_rules() -> list[Expectation]:
    """qualite.controles_evolution: implausible year-on-year changes (warning only)."""
    return [
        _rule("ExpectColumnValuesToBeBetween", AVERTISSEMENT,
              f"Un indicateur varie de plus de ±{_percent(VARIATION_RELATIVE_MAX)} par rapport à l'année "
              f"précédente (base d'au moins {VARIATION_BASE_MIN}) : vérifier la saisie.",
              column="variation_relative", min_value=-VARIATION_RELATIVE_MAX, max_value=VARIATION_RELATIVE_MAX,
              row_condition=_col("valeur_annee_precedente") >= VARIATION_BASE_MIN),
    ]


def _lignes_lues_rules() -> list[Expectation]:
    """qualite.lignes_lues: every source tab yielded rows; quarantined rows are reported."""
    return [
        _rule("ExpectTableRowCountToBeBetween", CRITIQUE,
              "Aucun onglet source n'a été lu (qualite.lignes_lues est vide).", min_value=1),
        _rule("ExpectColumnValuesToBeBetween", CRITIQUE,
              "Un onglet source est vide (aucune ligne lue) : a-t-il été vidé par erreur ?",
              column="lignes_lues", min_value=1),
        _rule("ExpectColumnValuesToBeBetween", AVERTISSEMENT,
              "Des lignes ont été mises en quarantaine (valeurs non reconnues) : elles ne sont pas comptées "
              "dans les indicateurs. Les corriger dans le tableur.",
              column="lignes_quarantaine", min_value=0, max_value=0),
    ]


def _comparaison_lignes_lues_rules() -> list[Expectation]:
    """Rows read, and valid rows, per tab versus the last published file."""
    return [
        _rule("ExpectColumnValuesToBeBetween", CRITIQUE,
              f"Le nombre de lignes lues dans un onglet a baissé de plus de {_percent(1 - RATIO_LIGNES_LUES_MIN)} "
              "par rapport au dernier entrepôt publié : onglet vidé ou tronqué par erreur ?",
              column="ratio_lignes_lues", min_value=RATIO_LIGNES_LUES_MIN),
        _rule("ExpectColumnValuesToBeBetween", CRITIQUE,
              f"Le nombre de lignes valides d'un onglet a baissé de plus de {_percent(1 - RATIO_LIGNES_VALIDES_MIN)} "
              "par rapport au dernier entrepôt publié : les lignes sont lues mais mises en quarantaine.",
              column="ratio_lignes_valides", min_value=RATIO_LIGNES_VALIDES_MIN),
    ]


def _comparaison_annees_rules() -> list[Expectation]:
    """Every year of the last published file is still in the candidate."""
    return [
        _rule("ExpectColumnValuesToBeBetween", CRITIQUE,
              "Une année publiée a disparu des indicateurs (plus aucune activité valide ni campagne de questionnaire "
              "pour cette année) : lignes mises en quarantaine ou onglet vidé ?",
              column="presente", min_value=1, max_value=1),
    ]


_RULES = {
    "bilan_indicateurs_annuels": _indicateurs_rules,
    "bilan_definitions_indicateurs": _definitions_rules,
    "qualite_controles_indicateurs": _controles_indicateurs_rules,
    "qualite_controles_effectifs": _controles_effectifs_rules,
    "qualite_controles_evolution": _controles_evolution_rules,
    "qualite_lignes_lues": _lignes_lues_rules,
    "qualite_comparaison_lignes_lues": _comparaison_lignes_lues_rules,
    "qualite_comparaison_annees": _comparaison_annees_rules,
}


def _percent(share: float) -> str:
    """French percentage, e.g. 0.2 -> '20 %'."""
    return f"{share * 100:g} %"


def suite_rules(suite_name: str) -> list[Expectation]:
    """The expectations a suite must hold, as written in this module."""
    return _RULES[suite_name]()


# ----------------------------------------------------------------------------------------------
# The committed GX project
# ----------------------------------------------------------------------------------------------


def _project_config() -> dict:
    """great_expectations.yml as committed (run time only redirects results and Data Docs)."""
    def filesystem(base_directory: str) -> dict:
        return {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": base_directory,
            # No store id file: nothing is written into committed folders when a context opens.
            "suppress_store_backend_id": True,
        }

    return {
        "config_version": 4.0,
        "analytics_enabled": False,
        "progress_bars": {"globally": False},
        "stores": {
            "expectations_store": {"class_name": "ExpectationsStore", "store_backend": filesystem("expectations/")},
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": filesystem("uncommitted/validations/"),
            },
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": filesystem("checkpoints/")},
            "validation_definition_store": {
                "class_name": "ValidationDefinitionStore",
                "store_backend": filesystem("validation_definitions/"),
            },
        },
        "expectations_store_name": "expectations_store",
        "validation_results_store_name": "validation_results_store",
        "checkpoint_store_name": "checkpoint_store",
        "data_docs_sites": {DATA_DOCS_SITE: _data_docs_site("uncommitted/data_docs/pdn_qualite/")},
    }


def _data_docs_site(base_directory: str) -> dict:
    """A local Data Docs site rooted at base_directory."""
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": base_directory},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }


def _result_format(spec: SuiteSpec) -> dict:
    """Full unexpected lists (tables are small) located by the suite's row key."""
    return {
        "result_format": "COMPLETE",
        "unexpected_index_column_names": list(spec.row_key),
        "partial_unexpected_count": MAX_EXAMPLES,
    }


def rebuild_project(gx_dir: Path = GX_DIR) -> None:
    """Regenerate great_expectations.yml, suites, validation definitions and checkpoints from this module."""
    gx = _gx()
    for folder in ("expectations", "validation_definitions", "checkpoints"):
        shutil.rmtree(gx_dir / folder, ignore_errors=True)
        (gx_dir / folder).mkdir(parents=True)
    config_file = gx_dir / "great_expectations.yml"
    config_file.write_text(yaml.safe_dump(_project_config(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    context = gx.get_context(mode="file", project_root_dir=gx_dir.parent)
    datasource = context.data_sources.add_pandas(DATASOURCE_NAME)
    for spec in SUITES:
        batch_definition = datasource.add_dataframe_asset(spec.name).add_batch_definition_whole_dataframe(
            BATCH_DEFINITION_NAME
        )
        suite = context.suites.add(gx.ExpectationSuite(name=spec.name, expectations=suite_rules(spec.name)))
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=spec.name, data=batch_definition, suite=suite)
        )
        # No Data Docs action here: run_gate builds the docs once per run, into the caller's folder.
        context.checkpoints.add(
            gx.Checkpoint(
                name=spec.name, validation_definitions=[validation], actions=[], result_format=_result_format(spec)
            )
        )
    # GX rewrote the file while adding the data source: say where it comes from once it is final.
    header = "# Generated by `python -m flows.pipeline.validate --rebuild`: edit flows/pipeline/validate.py, not this file.\n"
    config_file.write_text(header + config_file.read_text(encoding="utf-8"), encoding="utf-8")
    _base_config.cache_clear()


@functools.cache
def _base_config() -> dict:
    """The committed great_expectations.yml, parsed once per process."""
    return yaml.safe_load((GX_DIR / "great_expectations.yml").read_text(encoding="utf-8"))


def _open_context(data_docs_dir: Path) -> AbstractDataContext:
    """The committed project, with results and Data Docs redirected into data_docs_dir (nothing saved)."""
    config = copy.deepcopy(_base_config())
    results_backend = config["stores"]["validation_results_store"]["store_backend"]
    results_backend["base_directory"] = str(data_docs_dir / RESULTS_SUBDIR)
    config["data_docs_sites"] = {DATA_DOCS_SITE: _data_docs_site(str(data_docs_dir))}
    return _gx().get_context(mode="file", project_root_dir=GX_PROJECT_ROOT, project_config=config)


# ----------------------------------------------------------------------------------------------
# Frames
# ----------------------------------------------------------------------------------------------


def _read_table(db: Path, table: str) -> pd.DataFrame | None:
    """A whole table of a DuckDB file as a dataframe, or None when the table is absent."""
    with duckdb.connect(str(db), read_only=True) as con:
        try:
            return con.execute(f"select * from {table}").df()
        except duckdb.CatalogException:
            return None


def _indicateurs_frame(indicateurs: pd.DataFrame, definitions: pd.DataFrame | None) -> pd.DataFrame:
    """Indicators with the `nature` and `domaine` of their definition (they scope the range and null checks)."""
    frame = indicateurs.drop(columns=["nature", "domaine"], errors="ignore")
    if (
        definitions is None
        or "indicateur" not in frame.columns
        or not {"indicateur", "nature", "domaine"} <= set(definitions.columns)
    ):
        missing = pd.Series(pd.NA, index=frame.index, dtype="object")
        return frame.assign(nature=missing, domaine=missing)
    natures = definitions[["indicateur", "nature", "domaine"]].drop_duplicates("indicateur")
    return frame.merge(natures, on="indicateur", how="left")


def comparison_frame(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Rows read and valid per tab now versus the last published file; a tab no longer read counts as 0 rows."""
    key = ["spreadsheet_title", "onglet"]
    counts = [c for c in ("lignes_lues", "lignes_valides") if c in previous.columns and c in current.columns]
    before = previous.groupby(key, as_index=False)[counts].sum()
    before = before.rename(columns={c: f"{c}_precedentes" for c in counts})
    now = current.groupby(key, as_index=False)[counts].sum()
    frame = before.merge(now, on=key, how="left")
    # A tab that was already empty has no baseline to collapse from.
    frame = frame[frame["lignes_lues_precedentes"] > 0].reset_index(drop=True)
    for column in ("lignes_lues", "lignes_valides"):
        ratio = f"ratio_{column}"
        if column not in counts:  # a file published before valid rows were counted: nothing to compare
            frame[ratio] = pd.Series(pd.NA, index=frame.index, dtype="Float64")
            continue
        frame[column] = frame[column].fillna(0)
        baseline = frame[f"{column}_precedentes"]
        frame[ratio] = (frame[column] / baseline).where(baseline > 0)  # no valid row before: no ratio
    return frame


def years_frame(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """The years of the last published indicators, each with `presente` = 1 when the candidate has it too."""
    before = sorted(previous["annee"].dropna().astype(int).unique())
    now = set(current["annee"].dropna().astype(int)) if "annee" in current.columns else set()
    return pd.DataFrame({"annee": before, "presente": [int(year in now) for year in before]}, dtype="int64")


def _parameters(frames: dict[str, pd.DataFrame], departements: tuple[str, ...]) -> dict:
    """Suite parameters computed from this candidate: allowed departments, defined indicators, row count."""
    expected_departments = [*departements, ENSEMBLE]
    indicateurs = frames.get("bilan_indicateurs_annuels")
    definitions = frames.get("bilan_definitions_indicateurs")
    defined: list[str] = []
    if definitions is not None and "indicateur" in definitions.columns:
        defined = sorted(definitions["indicateur"].dropna().astype(str).unique())
    if indicateurs is None or "annee" not in indicateurs.columns or not defined:
        expected_rows = 0 if indicateurs is None else len(indicateurs)  # already reported elsewhere
    else:
        expected_rows = indicateurs["annee"].nunique() * len(expected_departments) * len(defined)
    return {
        "departements_attendus": expected_departments,
        "indicateurs_definis": defined,
        "nb_lignes_attendues": int(expected_rows),
    }


def _missing_table(spec: SuiteSpec, db_label: str) -> CheckFailure:
    """A table the gate cannot check: the candidate is malformed."""
    return CheckFailure(
        suite=spec.name,
        expectation="table_presente",
        severity=CRITIQUE,
        message=f"La table {spec.table} est absente du fichier {db_label} : le contrôle qualité est impossible.",
        details={"table": spec.table},
    )


def _load_frames(
    candidate_db: Path, previous_db: Path | None
) -> tuple[dict[str, pd.DataFrame], list[CheckFailure], pd.DataFrame | None]:
    """Dataframes to validate by suite name, failures for absent tables, and the quarantine table."""
    frames: dict[str, pd.DataFrame] = {}
    failures: list[CheckFailure] = []
    for spec in SUITES:
        if spec.name in (COMPARISON_SUITE, YEARS_SUITE):
            continue
        frame = _read_table(candidate_db, spec.table)
        if frame is None:
            failures.append(_missing_table(spec, "candidat"))
        else:
            frames[spec.name] = frame
    if "bilan_indicateurs_annuels" in frames:
        frames["bilan_indicateurs_annuels"] = _indicateurs_frame(
            frames["bilan_indicateurs_annuels"], frames.get("bilan_definitions_indicateurs")
        )
    previous = _previous_lignes_lues(previous_db)
    current = frames.get("qualite_lignes_lues")
    if previous is not None and current is not None and {"spreadsheet_title", "onglet", "lignes_lues"} <= set(
        current.columns
    ):
        frames[COMPARISON_SUITE] = comparison_frame(current, previous)
    previous_years = _previous_table(previous_db, "bilan.indicateurs_annuels")
    indicateurs = frames.get("bilan_indicateurs_annuels")
    if previous_years is not None and "annee" in previous_years.columns and indicateurs is not None:
        frames[YEARS_SUITE] = years_frame(indicateurs, previous_years)
    return {name: _html_safe(frame) for name, frame in frames.items()}, failures, _read_table(
        candidate_db, "qualite.quarantaine"
    )


def _html_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells HTML-escaped: GX writes unexpected values into Data Docs pages without escaping them.

    Titles of spreadsheets and tabs are typed by people; `_details` unescapes them for the run report.
    """
    text = [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]
    if not text:
        return frame
    escaped = frame.copy()
    for column in text:
        escaped[column] = frame[column].map(lambda v: html.escape(v, quote=True) if isinstance(v, str) else v)
    return escaped


def _previous_table(previous_db: Path | None, table: str) -> pd.DataFrame | None:
    """A table of the last published file, when there is one to compare with (None when absent)."""
    if previous_db is None:
        return None
    if not previous_db.exists():
        logger.warning("Entrepôt publié précédent introuvable (%s) : %s non comparée", previous_db, table)
        return None
    try:
        return _read_table(previous_db, table)
    except duckdb.IOException:
        # Someone holds the published file open read-write (locked): read a copy instead.
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(shutil.copy(previous_db, Path(folder) / previous_db.name))
            return _read_table(copy, table)


def _previous_lignes_lues(previous_db: Path | None) -> pd.DataFrame | None:
    """qualite.lignes_lues of the last published file, when there is one to compare with."""
    previous = _previous_table(previous_db, "qualite.lignes_lues")
    if previous_db is None or not previous_db.exists():
        return None
    if previous is None or not {"spreadsheet_title", "onglet", "lignes_lues"} <= set(previous.columns):
        logger.warning("L'entrepôt publié précédent n'a pas de qualite.lignes_lues : lignes lues non comparées")
        return None
    return previous


# ----------------------------------------------------------------------------------------------
# Results -> failures
# ----------------------------------------------------------------------------------------------


def _native(value: Any) -> Any:
    """numpy/pandas scalars and containers as plain, JSON-friendly Python values."""
    if isinstance(value, dict):
        return {str(k): _native(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_native(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _describe(result: ExpectationValidationResult) -> str:
    """Readable expectation name: its type and the columns it looks at."""
    config = result.expectation_config
    kwargs = config.kwargs
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    columns += kwargs.get("column_list") or []
    return f"{config.type}({', '.join(map(str, columns))})" if columns else config.type


def _details(result: ExpectationValidationResult) -> dict:
    """Counts and a few unexpected rows (aggregated indicator rows only, never personal data)."""
    if result.exception_info and result.exception_info.get("raised_exception"):
        return {"erreur": str(result.exception_info.get("exception_message"))}
    outcome = result.result or {}
    if "unexpected_count" not in outcome:
        return _native({"valeur_observee": outcome.get("observed_value"), **_missing_columns(outcome)})
    examples = outcome.get("unexpected_index_list") or outcome.get("partial_unexpected_list") or []
    return _native({
        "lignes_en_erreur": outcome.get("unexpected_count"),
        "lignes_controlees": outcome.get("element_count"),
        "exemples": [_unescaped(example) for example in examples[:MAX_EXAMPLES]],
    })


def _unescaped(value: Any) -> Any:
    """Undo `_html_safe` on a value quoted back from GX's results."""
    if isinstance(value, str):
        return html.unescape(value)
    if isinstance(value, dict):
        return {key: _unescaped(item) for key, item in value.items()}
    return value


def _missing_columns(outcome: dict) -> dict:
    """Missing columns reported by a column-set expectation."""
    mismatched = (outcome.get("details") or {}).get("mismatched") or {}
    return {"colonnes_manquantes": mismatched["missing"]} if mismatched.get("missing") else {}


def _failures(suite_result: ExpectationSuiteValidationResult) -> list[CheckFailure]:
    """Failed expectations of one suite run, with the severity and message from their meta."""
    failures = []
    for result in suite_result.results:
        if result.success:
            continue
        meta = result.expectation_config.meta or {}
        severity = meta.get("severity", CRITIQUE)  # an unlabelled expectation blocks: fail closed
        failures.append(
            CheckFailure(
                suite=suite_result.suite_name,
                expectation=_describe(result),
                severity=severity if severity in (CRITIQUE, AVERTISSEMENT) else CRITIQUE,
                message=meta.get("message", "Un contrôle qualité a échoué."),
                details=_details(result),
            )
        )
    return failures


def _quarantine_details(failures: list[CheckFailure], quarantaine: pd.DataFrame | None) -> list[CheckFailure]:
    """Add the quarantine reasons (tab, reason, rows) to the quarantine warning."""
    if quarantaine is None or quarantaine.empty:
        return failures
    columns = [c for c in ("spreadsheet_title", "onglet", "motif", "lignes") if c in quarantaine.columns]
    reasons = _native(quarantaine[columns].head(10).to_dict(orient="records"))
    return [
        CheckFailure(f.suite, f.expectation, f.severity, f.message, {**f.details, "motifs": reasons})
        if f.suite == "qualite_lignes_lues" and "lignes_quarantaine" in f.expectation
        else f
        for f in failures
    ]


_QUARANTINE_COLUMNS = {"spreadsheet_title", "onglet", "motif", "lignes"}


def quarantine_growth(current: pd.DataFrame | None, previous: pd.DataFrame | None) -> pd.DataFrame | None:
    """Quarantined rows by tab and reason now, with how many more than in the last publication (`hausse`)."""
    if current is None or not _QUARANTINE_COLUMNS <= set(current.columns):
        return None
    key = ["spreadsheet_title", "onglet", "motif"]
    now = current.groupby(key, as_index=False)["lignes"].sum()
    if previous is None or not _QUARANTINE_COLUMNS <= set(previous.columns):
        return now.assign(hausse=now["lignes"])
    before = previous.groupby(key, as_index=False)["lignes"].sum().rename(columns={"lignes": "avant"})
    frame = now.merge(before, on=key, how="left")
    return frame.assign(hausse=frame["lignes"] - frame["avant"].fillna(0)).drop(columns="avant")


def _dominant_reason(growth: pd.DataFrame | None, tabs: set[tuple[str, str]] | None) -> str | None:
    """« 73 lignes : Date illisible — la colonne Date a-t-elle changé de format ? »: the reason that grew most since
    the last publication, in the tabs given (None: all); None when no reason grew."""
    if growth is None:
        return None
    rows = growth[growth["hausse"] > 0]
    if tabs is not None:
        rows = rows[[(t, o) in tabs for t, o in zip(rows["spreadsheet_title"], rows["onglet"])]]
    if rows.empty:
        return None
    top = rows.groupby("motif", as_index=False)[["hausse", "lignes"]].sum()
    top = top.sort_values(["hausse", "motif"], ascending=[False, True])
    motif, lignes = html.unescape(str(top.iloc[0]["motif"])), int(top.iloc[0]["lignes"])
    hint = f" — la colonne {motif.removesuffix(' illisible')} a-t-elle changé de format ?" if motif.endswith(" illisible") else ""
    return f"{lignes} lignes : {motif}{hint}"


def _name_dominant_reason(failures: list[CheckFailure], growth: pd.DataFrame | None) -> list[CheckFailure]:
    """Valid rows collapsing, or a year gone: the message names the quarantine reason that grew most."""
    named = []
    for failure in failures:
        reason = None
        if failure.suite == COMPARISON_SUITE and "ratio_lignes_valides" in failure.expectation:
            examples = [e for e in failure.details.get("exemples", []) if isinstance(e, dict)]
            tabs = {(e.get("spreadsheet_title"), e.get("onglet")) for e in examples}
            reason = _dominant_reason(growth, tabs)
            where = " ; ".join(sorted(f"{t} / {o}" for t, o in tabs))
            reason = f"{where} : {reason}" if reason and where else reason
        elif failure.suite == YEARS_SUITE:
            reason = _dominant_reason(growth, None)
        named.append(
            CheckFailure(
                failure.suite, failure.expectation, failure.severity,
                f"{failure.message} {reason}" + ("" if reason.endswith("?") else "."), failure.details,
            )
            if reason else failure
        )
    return named


# ----------------------------------------------------------------------------------------------
# The gate
# ----------------------------------------------------------------------------------------------


def _run_checkpoint(
    context: AbstractDataContext, spec: SuiteSpec, frame: pd.DataFrame, parameters: dict, run: Any
) -> tuple[list[CheckFailure], list[Any]]:
    """Run one committed checkpoint on its dataframe; an error fails closed."""
    try:
        checkpoint = context.checkpoints.get(spec.name)
        outcome = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters, run_id=run)
    except Exception as err:  # noqa: BLE001 (any GX error must block publication, not crash the report)
        logger.exception("Le contrôle %s n'a pas pu s'exécuter", spec.name)
        failure = CheckFailure(
            suite=spec.name,
            expectation="execution",
            severity=CRITIQUE,
            message=f"Le contrôle qualité de {spec.table} n'a pas pu s'exécuter : publication bloquée par "
            "prudence.",
            details={"erreur": type(err).__name__},
        )
        return [failure], []
    failures = [f for result in outcome.run_results.values() for f in _failures(result)]
    return failures, list(outcome.run_results)


def _prune_results(results_dir: Path) -> None:
    """Delete stored results beyond the latest DATA_DOCS_RUNS_KEPT runs; GX then drops their pages."""
    # Layout: <suite>/<run name>/<run time>/<batch>.json; run times sort chronologically.
    run_dirs = [p for p in results_dir.glob("*/*/*") if p.is_dir()]
    kept = set(sorted({p.name for p in run_dirs}, reverse=True)[:DATA_DOCS_RUNS_KEPT])
    for run_dir in run_dirs:
        if run_dir.name not in kept:
            shutil.rmtree(run_dir, ignore_errors=True)
            with contextlib.suppress(OSError):  # not empty: another run of that name is still kept
                run_dir.parent.rmdir()


def _build_data_docs(context: AbstractDataContext, result_ids: list[Any], data_docs_dir: Path) -> Path | None:
    """Render this run's results and the suites into data_docs_dir; docs never block publication."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    suites = [ExpectationSuiteIdentifier(name=spec.name) for spec in SUITES]
    try:
        _prune_results(data_docs_dir / RESULTS_SUBDIR)
        context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=[*result_ids, *suites])
    except Exception:  # noqa: BLE001 (a rendering problem must not hide the gate's verdict)
        logger.exception("Les Data Docs n'ont pas pu être générées dans %s", data_docs_dir)
        return None
    index = data_docs_dir / "index.html"
    return index if index.exists() else None


def run_gate(
    candidate_db: Path,
    previous_db: Path | None,
    run_id: str,
    data_docs_dir: Path,
    departements: tuple[str, ...] = NETWORK_DEPARTMENTS,
) -> GateResult:
    """Validate the candidate file with the committed suites; passed when no critical check failed."""
    candidate_db, data_docs_dir = Path(candidate_db), Path(data_docs_dir)
    previous_db = Path(previous_db) if previous_db is not None else None
    frames, failures, quarantaine = _load_frames(candidate_db, previous_db)
    parameters = _parameters(frames, tuple(departements))
    data_docs_dir.mkdir(parents=True, exist_ok=True)
    with _GATE_LOCK:
        context = _open_context(data_docs_dir)
        from great_expectations.core.run_identifier import RunIdentifier

        run = RunIdentifier(run_name=run_id, run_time=dt.datetime.now(dt.timezone.utc))
        result_ids: list[Any] = []
        for spec in SUITES:
            if spec.name in frames:
                suite_failures, ids = _run_checkpoint(context, spec, frames[spec.name], parameters, run)
                failures += suite_failures
                result_ids += ids
        index = _build_data_docs(context, result_ids, data_docs_dir)
    growth = quarantine_growth(quarantaine, _previous_table(previous_db, "qualite.quarantaine"))
    failures = _name_dominant_reason(_quarantine_details(failures, quarantaine), growth)
    passed = not any(f.severity == CRITIQUE for f in failures)
    for failure in failures:
        logger.log(
            logging.ERROR if failure.severity == CRITIQUE else logging.WARNING,
            "[%s] %s — %s", failure.severity, failure.suite, failure.message,
        )
    return GateResult(passed=passed, failures=failures, data_docs_index=index)


def main(argv: list[str] | None = None) -> int:
    """`python -m flows.pipeline.validate --rebuild` regenerates the committed GX project."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="regenerate expectations/gx from this module")
    args = parser.parse_args(argv)
    if not args.rebuild:
        parser.print_help()
        return 2
    rebuild_project()
    print(f"Projet GX régénéré dans {GX_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
