"""`pdn bi superset`: the CAF's Superset dashboard, built from the assets in bi/superset/ and imported into a
running Superset through its REST API.

The assets say what to draw; the published warehouse says what the columns mean: each dataset's description
and its columns' labels and descriptions are read from the file's COMMENTs (dbt's descriptions), and each
indicator's label from `bilan.definitions_indicateurs`, when the bundle is built. The bundle is Superset's
import format (a ZIP of YAML files: metadata.yaml, databases/, datasets/, charts/, dashboards/), imported as
« assets », which overwrites every object by its uuid: a second import updates, never duplicates.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import yaml

from flows.errors import InputError, PdnError
from flows.settings import REPO_ROOT

ASSETS_DIR = REPO_ROOT / "bi" / "superset"
ALLOWED_SCHEMAS = ("bilan", "qualite")  # the marts apply the secrecy: nothing else is read
IMPORT_VERSION = "1.0.0"
ROW_LIMIT = 10000
HTTP_TIMEOUT_SECONDS = 300  # an import on a loaded machine takes tens of seconds


class SupersetFailed(PdnError):
    """Superset refused the login or the import (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class ImportResult:
    """What a `pdn bi superset` run left in Superset."""

    title: str
    dashboard_url: str
    dashboard_id: int
    charts: int
    datasets: int


# ---- reading the assets and the warehouse ---------------------------------------------------------------------


def _read_yaml(path: Path) -> Any:
    """One asset file."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_assets(folder: Path = ASSETS_DIR) -> dict[str, Any]:
    """The database, datasets, charts (by file stem) and dashboard of bi/superset/."""
    return {
        "database": _read_yaml(folder / "database.yaml"),
        "datasets": _read_yaml(folder / "datasets.yaml"),
        "charts": {path.stem: _read_yaml(path) for path in sorted((folder / "charts").glob("*.yaml"))},
        "dashboard": _read_yaml(folder / "dashboard.yaml"),
    }


def short_label(comment: str | None, column: str) -> str:
    """A column label from its comment's first words (« Année du bilan. » → « Année du bilan »), else its name."""
    first = re.split(r" \(| ;| :|, |\. |\.$", (comment or "").strip(), maxsplit=1)[0].strip()
    if first and len(first) <= 48 and first[0].isupper() and not first.startswith("Vrai"):
        return first
    return column.replace("_", " ").capitalize()


def _open_published(published: Path) -> duckdb.DuckDBPyConnection:
    """The published file, read-only; a French error when no sync has published it yet."""
    if not published.exists():
        raise InputError(
            f"Aucun entrepôt publié dans {published} : lancez d'abord « pdn synchroniser » "
            "(ou indiquez le dossier avec PDN_WAREHOUSE_DIR)."
        )
    return duckdb.connect(str(published), read_only=True)


def _table_description(con: duckdb.DuckDBPyConnection, qualified: str) -> tuple[str | None, list[tuple]]:
    """A mart's comment and its columns (name, type, comment), in order."""
    schema, table = qualified.split(".")
    if schema not in ALLOWED_SCHEMAS:
        raise InputError(f"Le tableau de bord ne lit que bilan.* et qualite.* : « {qualified} » est refusé.")
    found = con.execute(
        "select comment from duckdb_tables() where schema_name = ? and table_name = ?", [schema, table]
    ).fetchone()
    if found is None:
        raise InputError(f"La table {qualified} manque dans l'entrepôt publié : relancez « pdn synchroniser ».")
    columns = con.execute(
        "select column_name, data_type, comment from duckdb_columns() "
        "where schema_name = ? and table_name = ? order by column_index",
        [schema, table],
    ).fetchall()
    return found[0], columns


def indicator_labels(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each indicator's French label, as the bilan prints it."""
    return dict(con.execute("select indicateur, libelle from bilan.definitions_indicateurs").fetchall())


# ---- the bundle -----------------------------------------------------------------------------------------------


def database_config(spec: dict, published: Path) -> dict:
    """The read-only DuckDB connection on the configured published file (no credentials)."""
    return dict(spec) | {"sqlalchemy_uri": f"duckdb:///{published.resolve()}", "version": IMPORT_VERSION}


def dataset_config(con: duckdb.DuckDBPyConnection, spec: dict, database_uuid: str, labels: dict[str, str]) -> dict:
    """A physical dataset on one mart, described by the warehouse's own comments."""
    schema, table = spec["table"].split(".")
    comment, columns = _table_description(con, spec["table"])
    labels = labels | spec.get("libelles", {})
    return {
        "table_name": table,
        "schema": schema,
        "description": comment,
        "main_dttm_col": spec.get("date"),
        "sql": None,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None,
        "cache_timeout": None,
        "offset": 0,
        "uuid": spec["uuid"],
        "database_uuid": database_uuid,
        "version": IMPORT_VERSION,
        "metrics": [
            {"metric_name": "count", "verbose_name": "Nombre de lignes", "metric_type": "count",
             "expression": "COUNT(*)", "description": None, "d3format": None, "extra": None, "warning_text": None}
        ],
        "columns": [
            {
                "column_name": name,
                "verbose_name": labels.get(name) or short_label(column_comment, name),
                "description": column_comment,
                "type": data_type,
                "is_dttm": data_type in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"),
                "groupby": True,
                "filterable": True,
                "expression": None,
                "python_date_format": None,
                "extra": None,
            }
            for name, data_type, column_comment in columns
        ],
    }


def _metric(spec: dict, labels: dict[str, str]) -> dict:
    """An ad-hoc SQL metric: one indicator of the long `indicateurs_annuels` (labelled as in the bilan), or SQL."""
    if "indicateur" in spec:
        code = spec["indicateur"]
        if code not in labels:
            raise InputError(f"Indicateur inconnu dans un graphique de bi/superset : « {code} ».")
        # One row per year, department and indicator: MAX picks it, and never adds « ensemble » to the
        # departments when a chart groups by year only. The code is a known indicator (checked above).
        sql, label = f"MAX(CASE WHEN indicateur = '{code}' THEN valeur END)", labels[code]
    else:
        sql, label = spec["sql"], spec["label"]
    return {"expressionType": "SQL", "sqlExpression": sql, "label": label, "hasCustomLabel": True,
            "optionName": f"metric_{re.sub(r'[^a-z0-9]+', '_', label.lower())}"}


def _indicator_filter(specs: list[dict]) -> list[dict]:
    """An indicator chart reads only its indicators' rows."""
    codes = [spec["indicateur"] for spec in specs if "indicateur" in spec]
    if not codes:
        return []
    return [{"expressionType": "SIMPLE", "subject": "indicateur", "operator": "IN", "comparator": codes,
             "clause": "WHERE", "isExtra": False, "filterOptionName": "filter_indicateurs"}]


def form_data(chart: dict, labels: dict[str, str]) -> dict:
    """Superset's chart parameters (what the chart draws), with metrics and filters spelled out."""
    params = dict(chart["params"])
    metric_specs = params.pop("metrics", [])
    metric_spec = params.pop("metric", None)
    orderby = params.pop("orderby", [])
    form = {"viz_type": chart["viz_type"], "row_limit": ROW_LIMIT, **params,
            "adhoc_filters": _indicator_filter(metric_specs)}
    if metric_specs:
        form["metrics"] = [_metric(spec, labels) for spec in metric_specs]
    if metric_spec:
        form["metric"] = _metric(metric_spec, labels)
    if params.get("query_mode") == "raw":
        form["order_by_cols"] = [json.dumps(pair) for pair in orderby]
    if chart["viz_type"].startswith("echarts_timeseries") and not params.get("time_grain_sqla"):
        form["xAxisForceCategorical"] = True  # years are categories, not a time axis
    return form


def _query_columns(form: dict) -> list:
    """The query's dimensions: the x axis (with its time grain) and the series, or the raw table's columns."""
    if form.get("query_mode") == "raw":
        return list(form["all_columns"])
    columns: list = list(form.get("groupby", []))
    if "x_axis" in form:
        axis = {"columnType": "BASE_AXIS", "sqlExpression": form["x_axis"], "label": form["x_axis"],
                "expressionType": "SQL"}
        if form.get("time_grain_sqla"):
            axis["timeGrain"] = form["time_grain_sqla"]
        columns.insert(0, axis)
    return columns


def query_context(chart: dict, form: dict) -> dict:
    """The saved query behind `/api/v1/chart/{id}/data/` (reports, the data API): the chart's rows, unpivoted."""
    # No metrics at all (None, not []) is what makes a raw query: no GROUP BY.
    metrics = form.get("metrics") or ([form["metric"]] if "metric" in form else None)
    filters = [{"col": f["subject"], "op": f["operator"], "val": f["comparator"]} for f in form["adhoc_filters"]]
    query = {
        "columns": _query_columns(form),
        "metrics": metrics,
        "filters": filters,
        "orderby": [list(pair) for pair in chart["params"].get("orderby", [])],
        "row_limit": ROW_LIMIT,
        "extras": {"having": "", "where": ""},
        "applied_time_extras": {},
        "annotation_layers": [],
        "series_columns": list(form.get("groupby", [])) if "x_axis" in form else [],
        "url_params": {},
        "custom_params": {},
        "custom_form_data": {},
    }
    return {"datasource": {"id": 0, "type": "table"}, "force": False, "queries": [query], "form_data": form,
            "result_format": "json", "result_type": "full"}


def chart_config(chart: dict, dataset_uuid: str, labels: dict[str, str]) -> dict:
    """One chart of the import bundle."""
    form = form_data(chart, labels)
    return {
        "slice_name": chart["slice_name"],
        "description": chart.get("description"),
        "viz_type": chart["viz_type"],
        "params": form,
        "query_context": json.dumps(query_context(chart, form), ensure_ascii=False),
        "cache_timeout": None,
        "uuid": chart["uuid"],
        "dataset_uuid": dataset_uuid,
        "version": IMPORT_VERSION,
    }


def _layout(dashboard: dict, charts: dict[str, dict]) -> tuple[dict, dict[str, int]]:
    """The dashboard's grid (rows of charts, an introduction on top) and a placeholder id per chart key."""
    ids = {key: number for number, key in enumerate(charts, start=1)}  # Superset swaps in the real ids
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": dashboard["dashboard_title"]}},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
    }
    rows = [[["introduction", 12, 12]], *dashboard["rows"]]
    for number, row in enumerate(rows):
        row_id = f"ROW-{number}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {"type": "ROW", "id": row_id, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                            "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for key, width, *height in row:
            parents = ["ROOT_ID", "GRID_ID", row_id]
            if key == "introduction":
                element = {"type": "MARKDOWN", "id": "MARKDOWN-introduction", "children": [], "parents": parents,
                           "meta": {"width": width, "height": height[0], "code": dashboard["introduction"]}}
            else:
                element = {"type": "CHART", "id": f"CHART-{key}", "children": [], "parents": parents,
                           "meta": {"chartId": ids[key], "uuid": charts[key]["uuid"], "width": width,
                                    "height": height[0] if height else 50, "sliceName": charts[key]["slice_name"]}}
            position[row_id]["children"].append(element["id"])
            position[element["id"]] = element
    return position, ids


def _native_filter(spec: dict, dataset_uuids: dict[str, str], columns: dict[str, set[str]],
                   charts: dict[str, dict], ids: dict[str, int]) -> dict:
    """A native select filter on one column, scoped to the charts whose dataset has that column."""
    excluded = [ids[key] for key, chart in charts.items() if spec["column"] not in columns[chart["dataset"]]]
    return {
        "id": spec["id"], "name": spec["name"], "type": "NATIVE_FILTER", "filterType": "filter_select",
        "targets": [{"datasetUuid": dataset_uuids[spec["dataset"]], "column": {"name": spec["column"]}}],
        "controlValues": {"enableEmptyFilter": False, "defaultToFirstItem": False, "multiSelect": True,
                          "searchAllOptions": False, "inverseSelection": False, "sortAscending": True},
        "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
        "cascadeParentIds": [], "scope": {"rootPath": ["ROOT_ID"], "excluded": excluded},
        "description": "", "tabsInScope": [],
    }


def dashboard_config(dashboard: dict, charts: dict[str, dict], dataset_uuids: dict[str, str],
                     columns: dict[str, set[str]]) -> dict:
    """The dashboard « Promeneurs du Net — indicateurs CAF » with its native filters."""
    position, ids = _layout(dashboard, charts)
    filters = [_native_filter(spec, dataset_uuids, columns, charts, ids) for spec in dashboard["filters"]]
    return {
        "dashboard_title": dashboard["dashboard_title"],
        "description": None,
        "css": "",
        "slug": dashboard["slug"],
        "uuid": dashboard["uuid"],
        "published": True,
        "version": IMPORT_VERSION,
        "position": position,
        "metadata": {
            "native_filter_configuration": filters, "color_scheme": "supersetColors", "refresh_frequency": 0,
            "cross_filters_enabled": False, "expanded_slices": {}, "timed_refresh_immune_slices": [],
            "default_filters": "{}", "chart_configuration": {}, "label_colors": dashboard.get("couleurs", {}),
            "shared_label_colors": [],
        },
    }


def _file_name(title: str, uuid: str) -> str:
    """An ASCII file name for a bundle member."""
    return f"{re.sub(r'[^A-Za-z0-9]+', '_', title).strip('_')}_{uuid[:8]}.yaml"


def build_bundle(published: Path, assets: dict[str, Any] | None = None) -> dict[str, dict]:
    """Every file of the import bundle (path → content), from the assets and the published warehouse."""
    assets = assets or load_assets()
    database = database_config(assets["database"], published)
    tables = assets["datasets"]["tables"]
    dataset_uuids = {spec["table"]: spec["uuid"] for spec in tables}
    bundle: dict[str, dict] = {
        "metadata.yaml": {"version": IMPORT_VERSION, "type": "assets",
                          "timestamp": datetime.now(timezone.utc).isoformat()},
        f"databases/{_file_name('pdn', database['uuid'])}": database,
    }
    columns: dict[str, set[str]] = {}
    with _open_published(published) as con:
        labels = indicator_labels(con)
        for spec in tables:
            config = dataset_config(con, spec, database["uuid"], assets["datasets"].get("libelles", {}))
            columns[spec["table"]] = {column["column_name"] for column in config["columns"]}
            bundle[f"datasets/pdn/{_file_name(spec['table'], spec['uuid'])}"] = config
    for chart in assets["charts"].values():
        if chart["dataset"] not in dataset_uuids:
            raise InputError(f"Le graphique « {chart['slice_name']} » lit {chart['dataset']}, absent de datasets.yaml.")
        bundle[f"charts/{_file_name(chart['slice_name'], chart['uuid'])}"] = chart_config(
            chart, dataset_uuids[chart["dataset"]], labels
        )
    dashboard = dashboard_config(assets["dashboard"], assets["charts"], dataset_uuids, columns)
    bundle[f"dashboards/{_file_name(dashboard['slug'], dashboard['uuid'])}"] = dashboard
    return bundle


def bundle_zip(bundle: dict[str, dict]) -> bytes:
    """The bundle as Superset reads it: a ZIP whose single top folder holds the YAML files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in bundle.items():
            archive.writestr(f"pdn_superset/{name}", yaml.safe_dump(content, allow_unicode=True, sort_keys=False))
    return buffer.getvalue()


# ---- Superset's REST API --------------------------------------------------------------------------------------


def _refused(response, action: str) -> SupersetFailed:
    """Superset's answer, in French, without the request (it carries the password or the bundle)."""
    try:
        detail = response.json().get("message") or response.json().get("errors")
    except ValueError:
        detail = response.text[:300]
    return SupersetFailed(f"Superset a refusé {action} (HTTP {response.status_code}) : {detail}")


def login(client, user: str, password: str) -> dict[str, str]:
    """Log in (database provider) and return the headers every write needs: the token and the CSRF token."""
    response = client.post(
        "/api/v1/security/login", json={"username": user, "password": password, "provider": "db", "refresh": False}
    )
    if response.status_code == 401:
        raise SupersetFailed(f"Superset a refusé la connexion de « {user} » : identifiant ou mot de passe incorrect.")
    if response.status_code != 200:
        raise _refused(response, "la connexion")
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    csrf = client.get("/api/v1/security/csrf_token/", headers=headers)
    if csrf.status_code != 200:
        raise _refused(csrf, "le jeton CSRF")
    return headers | {"X-CSRFToken": csrf.json()["result"], "Referer": str(client.base_url)}


def import_bundle(client, headers: dict[str, str], archive: bytes) -> None:
    """Import the bundle as assets: every object is created, or overwritten by its uuid."""
    response = client.post(
        "/api/v1/assets/import/", headers=headers,
        files={"bundle": ("pdn_superset.zip", archive, "application/zip")},
    )
    if response.status_code != 200:
        raise _refused(response, "l'import du tableau de bord")


def install_dashboard(bundle: dict[str, dict], url: str, user: str, password: str) -> ImportResult:
    """Import a bundle (build_bundle) into the Superset at `url`; return where its dashboard is."""
    import httpx

    dashboard = next(content for name, content in bundle.items() if name.startswith("dashboards/"))
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=HTTP_TIMEOUT_SECONDS) as client:
            headers = login(client, user, password)
            import_bundle(client, headers, bundle_zip(bundle))
            found = client.get(f"/api/v1/dashboard/{dashboard['slug']}", headers=headers)
            if found.status_code != 200:
                raise _refused(found, "la lecture du tableau de bord importé")
            dashboard_id = found.json()["result"]["id"]
    except httpx.HTTPError as error:
        raise SupersetFailed(
            f"Superset ne répond pas à {url} ({type(error).__name__}) : est-il démarré (« make bi-serve ») ?"
        ) from None
    return ImportResult(
        title=dashboard["dashboard_title"],
        dashboard_url=f"{url.rstrip('/')}/superset/dashboard/{dashboard['slug']}/",
        dashboard_id=dashboard_id,
        charts=sum(name.startswith("charts/") for name in bundle),
        datasets=sum(name.startswith("datasets/") for name in bundle),
    )


def format_import(result: ImportResult, published: Path) -> str:
    """The French summary of an import."""
    return (
        f"Tableau de bord « {result.title} » installé : {result.dashboard_url}\n"
        f"  {result.charts} graphiques, {result.datasets} jeux de données, lus en lecture seule dans {published}."
    )
