"""`pdn`: the command the coordinator and the scheduler run. Messages are French."""

from __future__ import annotations

import argparse
import sys

from flows.settings import silence_telemetry


def _format_summary(report: dict) -> str:
    """A short French account of a run, for the terminal and for alerts (no personal data)."""
    titles = {
        "publie": "publiée",
        "bloque": "bloquée, rien n'a été publié",
        "erreur_entree": "arrêtée : erreur dans les sources ou la configuration, rien n'a été publié",
        "refuse": "refusée",
        "echec": "en échec, rien n'a été publié",
    }
    lines = [f"Synchronisation {report['run_id']} : {titles.get(report['statut'], report['statut'])}."]
    if report.get("message"):
        lines.append(f"  {report['message']}")
    if report.get("source"):
        lines.append(f"  Source : {report['source']}")
    for tab in report.get("lignes_lues", []):
        lines.append(f"  Lignes lues : {tab['tableur']} / {tab['onglet']} : {tab['lignes']}")
    if report.get("requetes_sheets"):
        lines.append(f"  Requêtes Google Sheets : {report['requetes_sheets']}")
    quarantine = report.get("quarantaine", [])
    if quarantine:
        lines.append(f"  Lignes mises en quarantaine (non comptées) : {len(quarantine)}")
        for row in quarantine[:20]:
            lines.append(f"    - {row['tableur']} / {row['onglet']}, ligne {row['ligne']} : {row['motif']}")
        if len(quarantine) > 20:
            lines.append(f"    … et {len(quarantine) - 20} autres (voir le rapport d'exécution)")
    failures = report.get("controles_en_echec", [])
    for level, label in (("critique", "Contrôle bloquant"), ("avertissement", "Avertissement")):
        for failure in (f for f in failures if f["gravite"] == level):
            lines.append(f"  {label} : {failure['message']}")
    if report.get("fichier_publie"):
        lines.append(f"  Entrepôt publié : {report['fichier_publie']}")
    if report.get("durees_secondes"):
        total = sum(report["durees_secondes"].values())
        lines.append(f"  Durée : {total:.1f} s")
    return "\n".join(lines)


def _sync(args: argparse.Namespace) -> int:
    import os

    if not args.verbose:
        # The French summary below is the message; Prefect's console logs and tracebacks are noise here.
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
    from flows.errors import PdnError
    from flows.sync import nightly_sync

    try:
        report = nightly_sync(
            source_dir=args.source, full=args.full, replay=args.replay, accept_drop=args.accept_drop
        )
    except PdnError as err:
        report = getattr(err, "report", None)
        print(_format_summary(report) if report else str(err), file=sys.stderr)
        if report and report.get("message") != str(err):
            print(f"  {err}", file=sys.stderr)
        return err.exit_code
    print(_format_summary(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The `pdn` command line."""
    parser = argparse.ArgumentParser(prog="pdn", description="Entrepôt de données Promeneurs du Net")
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="synchroniser les sources et publier l'entrepôt")
    sync.add_argument("--source", metavar="DOSSIER", help="lire un dossier d'exports (CSV ou XLSX)")
    sync.add_argument("--full", action="store_true", help="relire tous les tableurs, même inchangés")
    sync.add_argument("--replay", metavar="SYNC_ID", help="reconstruire à partir d'un instantané brut passé")
    sync.add_argument(
        "--accept-drop",
        action="store_true",
        help="accepter une fois une forte baisse du nombre de lignes d'un onglet (onglet vidé volontairement)",
    )
    sync.add_argument("--verbose", action="store_true", help="afficher aussi les journaux de Prefect")
    sync.set_defaults(handler=_sync)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `pdn` command."""
    silence_telemetry()
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
