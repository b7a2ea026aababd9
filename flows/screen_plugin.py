"""The dbt-duckdb plugin that gives dbt's DuckDB connections the screen's SQL functions (flows/screen.py).

Declared in dbt/profiles.yml (`plugins: - module: flows.screen_plugin`): dbt-duckdb imports this module, builds
its `Plugin` and calls `configure_connection` on each connection it opens, before any model runs.
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from flows.screen import register


class Plugin(BasePlugin):
    """Registers pdn_cle_nom, pdn_cle_texte, pdn_motif_ecran and pdn_motifs_nom."""

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        """Create the screen's functions on a new connection of dbt."""
        register(conn)
