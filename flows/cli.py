"""`pdn`: the command the coordinator and the scheduler run. Messages are French."""

from __future__ import annotations

import argparse
import sys

from flows.ops.summary import format_summary
from flows.settings import silence_telemetry


def quiet_prefect_console() -> None:
    """Silence Prefect's console output for this process (its API logs still reach the server).

    The French summary is the message; Prefect's INFO lines and tracebacks of expected errors are noise.
    """
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler):
            handler.setLevel(logging.CRITICAL)


def _sync(args: argparse.Namespace) -> int:
    from flows.errors import PdnError
    from flows.pipeline.processes import mark_this_process, stop_orphans

    # Before Prefect starts its temporary server: earlier killed syncs' servers go, this one's carry the mark.
    stopped = stop_orphans()
    mark_this_process()
    from flows.pipeline.sync import nightly_sync

    if stopped:
        print(f"Processus laissés par une synchronisation interrompue arrêtés : {len(stopped)}.", file=sys.stderr)
    try:
        if not args.verbose:
            quiet_prefect_console()
        report = nightly_sync(
            source_dir=args.source, full=args.full, replay=args.replay, accept_drop=args.accept_drop
        )
    except PdnError as err:
        report = getattr(err, "report", None)
        print(format_summary(report) if report else str(err), file=sys.stderr)
        if report and report.get("message") != str(err):
            print(f"  {err}", file=sys.stderr)
        return err.exit_code
    print(format_summary(report))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from flows.errors import PdnError
    from flows.ops.schedule import serve

    try:
        serve()
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    return 0


def _status(args: argparse.Namespace) -> int:
    from flows.errors import PdnError
    from flows.ops.status import status
    from flows.settings import load_settings

    try:
        code, text = status(load_settings(), limit=args.nombre)
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print(text)
    return code


def _purge(args: argparse.Namespace) -> int:
    from flows.errors import PdnError
    from flows.ops.purge import format_purge, run_purge
    from flows.settings import load_settings

    try:
        summary = run_purge(load_settings(), years=args.annees, dry_run=args.simulation)
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print(format_purge(summary))
    return 0


def _alert_test(args: argparse.Namespace) -> int:
    from flows.ops.notify import send_test_alert

    channels = send_test_alert()
    if not channels:
        print(
            "Aucun message envoyé : configurez PDN_ALERT_WEBHOOK_URL et/ou PDN_SMTP_HOST et PDN_ALERT_TO "
            "(voir .env.example), et lisez les avertissements ci-dessus.",
            file=sys.stderr,
        )
        return 2
    print(f"Message d'essai envoyé par : {', '.join(channels)}.")
    return 0


def _report(args: argparse.Namespace) -> int:
    from flows.errors import PdnError
    from flows.outputs.report import produce_bilan
    from flows.settings import load_settings

    try:
        files = produce_bilan(load_settings(), args.year)
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print(f"Bilan {files.annee} écrit : {files.html}")
    print(f"  Indicateurs pour la CAF (Excel) : {files.xlsx}")
    print(f"  Indicateurs pour la CAF (CSV, format long) : {files.csv}")
    print("  Ouvrir le bilan dans un navigateur ; « Imprimer → Enregistrer au format PDF » donne des pages A4.")
    return 0


def _docs(args: argparse.Namespace) -> int:
    from flows.errors import PdnError
    from flows.outputs.dbt_docs import build_docs
    from flows.settings import load_settings

    try:
        page = build_docs(load_settings())
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print(f"Documentation des données écrite dans {page.parent}")
    print(f"  Page autonome à ouvrir dans un navigateur : {page}")
    return 0


def _modele(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flows.errors import PdnError
    from flows.settings import load_settings
    from flows.sources.template import network_config
    from flows.sources.template_sheets import format_spreadsheet
    from flows.sources.template_xlsx import write_workbook

    try:
        settings = load_settings()
        if args.xlsx:  # no Google call at all
            lines = write_workbook(Path(args.xlsx), network_config(settings))
        else:
            lines = format_spreadsheet(settings, args.cle)
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print("\n".join(lines))
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
    serve = commands.add_parser("serve", help="planifier la synchronisation nocturne (serveur Prefect requis)")
    serve.set_defaults(handler=_serve)
    status = commands.add_parser("status", help="dernières synchronisations ; code 4 si l'entrepôt n'est plus à jour")
    status.add_argument("--nombre", type=int, default=10, metavar="N", help="nombre d'exécutions affichées (10)")
    status.set_defaults(handler=_status)
    purge = commands.add_parser("purge", help="appliquer la durée de conservation à l'historique brut (RGPD)")
    purge.add_argument("--annees", type=int, metavar="N", help="durée de conservation (défaut : PDN_RETENTION_YEARS, 3)")
    purge.add_argument("--simulation", action="store_true", help="compter sans rien supprimer")
    purge.set_defaults(handler=_purge)
    alert = commands.add_parser("essai-alerte", help="envoyer un message d'essai sur les canaux d'alerte configurés")
    alert.set_defaults(handler=_alert_test)
    report = commands.add_parser(
        "report", help="écrire le bilan annuel (HTML) et les indicateurs pour la CAF (XLSX, CSV)"
    )
    report.add_argument(
        "--year", "--annee", dest="year", type=int, metavar="ANNÉE",
        help="année du bilan (par défaut : la dernière année de l'entrepôt publié)",
    )
    report.set_defaults(handler=_report)
    docs = commands.add_parser("docs", help="générer la documentation des données (dbt docs) de l'entrepôt publié")
    docs.set_defaults(handler=_docs)
    modele = commands.add_parser(
        "modele", help="mettre le tableur de suivi au modèle (onglets, en-têtes, listes, menus déroulants)"
    )
    target = modele.add_mutually_exclusive_group()
    target.add_argument(
        "--cle", metavar="CLE_OU_URL", help="clé ou adresse du tableur (défaut : le [[suivi]] de sources.toml)"
    )
    target.add_argument(
        "--xlsx", metavar="FICHIER", help="écrire le modèle dans un nouveau fichier Excel, sans appeler Google"
    )
    modele.set_defaults(handler=_modele)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `pdn` command: the CLI's error boundary (a French message, never a traceback)."""
    from flows.errors import PdnError, safe_error

    silence_telemetry()
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("Interrompu : rien n'a été publié.", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 (the CLI's error boundary)
        safe: PdnError = safe_error(error)
        print(str(safe), file=sys.stderr)
        return safe.exit_code


if __name__ == "__main__":
    sys.exit(main())
