"""`pdn documentation`: the documentation site opens on the warehouse's French overview."""

import json

import duckdb

from flows.outputs.dbt_docs import generate_site


def test_docs_site_opens_on_the_french_overview(tmp_path):
    database = tmp_path / "pdn.duckdb"
    duckdb.connect(str(database)).close()  # the overview needs no data: an empty file stands in for the warehouse
    target = generate_site(database, tmp_path)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    # The site shows the one `__overview__` block outside dbt's own package instead of dbt's generic page.
    overviews = [uid for uid, doc in manifest["docs"].items() if doc["name"] == "__overview__"]
    assert sorted(overviews) == ["doc.dbt.__overview__", "doc.pdn.__overview__"]
    overview = manifest["docs"]["doc.pdn.__overview__"]["block_contents"]
    phrase = "L'entrepôt publié ne contient **aucune donnée personnelle**"
    for expected in ("# Entrepôt de données Promeneurs du Net", phrase, "secret statistique", "chaque nuit"):
        assert expected in overview
    page = (target / "static_index.html").read_text(encoding="utf-8")
    assert json.dumps(phrase)[1:-1] in page  # the self-contained page inlines the manifest, JSON-escaped
