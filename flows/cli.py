"""`pdn`: the command the coordinator and the scheduler run. Messages are French."""

from __future__ import annotations

import argparse
import gc
import sys

from flows.argparse_fr import FrenchArgumentParser, use_french
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


def _prepare_prefect_process(verbose: bool) -> None:
    """Before a flow starts Prefect's temporary server: earlier killed runs' servers go, this one's carry the mark."""
    from flows.pipeline.processes import mark_this_process, stop_orphans

    stopped = stop_orphans()
    mark_this_process()
    import flows.pipeline.sync  # noqa: F401 (sets Prefect's logging up, for quiet_prefect_console)

    if stopped:
        print(f"Processus laissés par une synchronisation interrompue arrêtés : {len(stopped)}.", file=sys.stderr)
    if not verbose:
        quiet_prefect_console()


def _starts_a_temporary_prefect_server() -> bool:
    """No Prefect server configured (PREFECT_API_URL): the flow starts a temporary one and waits for it. With a
    server there is no such wait: the flow starts its parse ahead itself, first thing, as in deployment runs."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url is None


def _import_great_expectations() -> None:
    from flows.pipeline.validate import warm_up

    warm_up()


def _temporary_server_did_not_start() -> str:
    """The cause and the fix, when Prefect's temporary server does not answer in time."""
    import os

    from flows.settings import EPHEMERAL_STARTUP_TIMEOUT

    return (
        f"Le serveur Prefect temporaire n'a pas démarré dans le délai ({os.environ.get(EPHEMERAL_STARTUP_TIMEOUT)} s) : "
        "la machine est très chargée, ou le dossier de Prefect (PREFECT_HOME) est inaccessible. Rien n'a été "
        f"publié. Relancez `pdn sync` plus tard, ou allongez le délai avec la variable {EPHEMERAL_STARTUP_TIMEOUT} "
        "(en secondes) ; pour la synchronisation nocturne, un serveur permanent (`prefect server start`) évite cette attente."
    )


def _sync(args: argparse.Namespace) -> int:
    from flows.pipeline.collector import cycle_collection_paused

    with cycle_collection_paused():  # from the first import: Prefect's, dbt's and GX's make millions of objects
        return _run_sync(args)


def _run_sync(args: argparse.Namespace) -> int:
    from flows.errors import PdnError
    from flows.pipeline.transform import forget_parse_ahead, parse_ahead

    _prepare_prefect_process(args.verbose)  # first: Prefect's logging set, dbt's imports leave it alone
    if _starts_a_temporary_prefect_server():
        # dbt's import and parse, then Great Expectations' import, fill the seconds the server takes to start
        # (the flow's own call to parse_ahead then keeps this parse).
        parse_ahead(args.replay, then=_import_great_expectations)
    from flows.pipeline.sync import nightly_sync
    from flows.screen import SourceFolder  # Prefect stores the flow's parameters: never the folder's path

    try:
        report = nightly_sync(
            source_dir=SourceFolder.of(args.source) if args.source else None, full=args.full, replay=args.replay,
            accept_drop=args.accept_drop,
            reviser=args.reviser,
        )
    except RuntimeError as err:
        if "ephemeral Prefect API server" not in str(err):
            raise
        print(_temporary_server_did_not_start(), file=sys.stderr)
        return 1
    except PdnError as err:
        report = getattr(err, "report", None)
        print(format_summary(report) if report else str(err), file=sys.stderr)
        if report and str(err) not in (report.get("message") or ""):  # the report's message may add to it
            print(f"  {err}", file=sys.stderr)
        return err.exit_code
    finally:
        forget_parse_ahead()  # a sync stopped before its build leaves no parse behind
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


def _with_sound_history(settings):
    """The settings, once the raw history reads back whole; else DamagedHistory, which names `pdn reparer`."""
    from flows.ops.repair import check_raw_history

    check_raw_history(settings)
    return settings


def _reparer(args: argparse.Namespace) -> int:
    from flows.errors import PdnError
    from flows.ops.repair import format_repair, repair
    from flows.settings import load_settings

    try:
        result = repair(load_settings(), from_scratch=args.repartir_de_zero)
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print(format_repair(result))
    return 0


def _purge(args: argparse.Namespace) -> int:
    from flows.errors import PdnError
    from flows.ops.purge import format_purge, run_purge
    from flows.settings import load_settings

    try:
        summary = run_purge(_with_sound_history(load_settings()), years=args.annees, dry_run=args.simulation)
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print(format_purge(summary))
    return 0


def _cloturer(args: argparse.Namespace) -> int:
    from flows.errors import PdnError
    from flows.ops.closing import close_year, format_closure
    from flows.settings import load_settings

    try:
        closure = close_year(load_settings(), args.annee)
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print(format_closure(closure))
    return 0


def _subject_request(args: argparse.Namespace):
    """The person named on the command line: --email, or --nom (with --structure)."""
    from flows.errors import InputError
    from flows.ops.subject import SubjectRequest

    if args.structure and not args.nom:
        raise InputError("--structure ne s'emploie qu'avec --nom.")
    # Libraries record this process's arguments (dbt writes them into its logs): not the person's name or address.
    sys.argv[1:] = [args.command]
    return SubjectRequest(email=args.email, nom=args.nom, structure=args.structure)


def _confirmed() -> bool:
    """The coordinator types « oui » (no terminal, no answer: not confirmed)."""
    try:
        return input("Confirmer l'effacement définitif ? Tapez « oui » : ").strip().lower() == "oui"
    except EOFError:
        return False


def _oubli(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flows.errors import PdnError
    from flows.ops.erasure import format_erasure, format_plan, preview_erasure, run_erasure
    from flows.settings import load_settings

    try:
        settings = _with_sound_history(load_settings())
        request = _subject_request(args)
        print(format_plan(preview_erasure(settings, request)))
        if not (args.oui or _confirmed()):
            print("Effacement annulé : rien n'a été modifié.", file=sys.stderr)
            return 2
        _prepare_prefect_process(args.verbose)
        summary = run_erasure(settings, request, source_dir=Path(args.source) if args.source else None)
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print(format_erasure(summary))
    if summary.rapport:
        print(format_summary(summary.rapport))
    if summary.republication is not None:
        print(
            f"  L'effacement est fait, mais la republication a échoué : {summary.republication}\n"
            "  Corrigez la cause, puis lancez « pdn sync » : l'entrepôt sera publié sans cette personne.",
            file=sys.stderr,
        )
        return summary.republication.exit_code
    return 0


def _acces(args: argparse.Namespace) -> int:
    from flows.errors import PdnError
    from flows.ops.access import format_access, write_access_extract
    from flows.settings import load_settings

    try:
        summary = write_access_extract(_with_sound_history(load_settings()), _subject_request(args))
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print(format_access(summary))
    return 0


def _add_person_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", metavar="ADRESSE", help="adresse e-mail de la personne (la façon la plus sûre)")
    who.add_argument("--nom", metavar="« Prénom Nom »", help="son nom complet, dans un ordre ou l'autre")
    parser.add_argument(
        "--structure", metavar="STRUCTURE", help="avec --nom : sa structure, quand plusieurs personnes portent ce nom"
    )


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
    from pathlib import Path

    from flows.errors import PdnError
    from flows.outputs import report
    from flows.settings import load_settings

    try:
        if args.modele_recit:
            print(f"Modèle de récit écrit : {report.write_starter_document(Path(args.modele_recit))}")
            return 0
        settings = load_settings()
        if args.marqueurs:
            print(report.placeholder_summary(settings, args.year))
            return 0
        config = report.bilan_config(settings, Path(args.source) if args.source else None)
        if args.brouillon:
            draft, draft_pdf = report.produce_draft(settings, args.year, config, pdf=args.pdf)
            print(f"Brouillon à relire (textes à compléter surlignés), à ne pas envoyer à la CAF : {draft}")
            if draft_pdf:
                print(f"  PDF du brouillon : {draft_pdf}")
            return 0
        files = report.produce_bilan(settings, args.year, config, pdf=args.pdf)
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    state = " (provisoire : l'année n'était pas terminée à la date des chiffres)" if files.provisoire else ""
    print(f"Bilan {files.annee}{state} écrit : {files.html}")
    print(f"  Texte : {files.recit or 'mise en page standard (aucun récit déclaré pour cette année)'}")
    if files.pdf:
        print(f"  PDF (A4, pages numérotées) : {files.pdf}")
    print(f"  Indicateurs pour la CAF (Excel) : {files.xlsx}")
    print(f"  Indicateurs pour la CAF (CSV, format long) : {files.csv}")
    print(f"  Qualité des données (pour la coordination, à ne pas envoyer) : {files.qualite}")
    return 0


def _rekey(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flows.errors import PdnError
    from flows.ops.rekey import format_rekey, run_rekey
    from flows.settings import load_settings

    try:
        summary = run_rekey(load_settings(), Path(args.ancienne_cle_fichier) if args.ancienne_cle_fichier else None)
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print(format_rekey(summary))
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
    from flows.sources.template_sheets import format_spreadsheet
    from flows.sources.template_xlsx import write_template

    try:
        settings = load_settings()
        if args.xlsx:  # no Google call at all
            lines = write_template(Path(args.xlsx), settings)
        else:
            lines = format_spreadsheet(settings, args.cle)
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print("\n".join(lines))
    return 0


def _superset_password() -> str:
    """The Superset password: $PDN_SUPERSET_PASSWORD, else asked without echo (never an argument: it would be logged)."""
    import getpass
    import os

    from flows.errors import InputError

    password = os.environ.get("PDN_SUPERSET_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        raise InputError("Mot de passe Superset manquant : définissez PDN_SUPERSET_PASSWORD, ou lancez la commande dans un terminal.")
    return getpass.getpass("Mot de passe Superset : ")


def _bi_superset(args: argparse.Namespace) -> int:
    from flows.errors import PdnError
    from flows.outputs.superset import build_bundle, format_import, install_dashboard
    from flows.settings import load_settings

    try:
        published = load_settings().published_db
        bundle = build_bundle(published)  # first: no password asked while there is nothing to install
        result = install_dashboard(bundle, args.url, args.utilisateur, _superset_password())
    except PdnError as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    print(format_import(result, published))
    return 0


def _command(commands, name: str, help: str, aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """A subcommand under its French name (its former English name still works), with its help as description."""
    return commands.add_parser(name, aliases=list(aliases), help=help, description=help[0].upper() + help[1:] + ".")


def build_parser() -> argparse.ArgumentParser:
    """The `pdn` command line, in French; the former English names stay as aliases (cron lines, deployments)."""
    use_french()
    parser = FrenchArgumentParser(prog="pdn", description="Entrepôt de données Promeneurs du Net.")
    commands = parser.add_subparsers(dest="command", required=True, title="commandes", metavar="COMMANDE")
    sync = _command(commands, "synchroniser", "synchroniser les sources et publier l'entrepôt", ("sync",))
    sync.add_argument("--source", metavar="DOSSIER", help="lire un dossier d'exports (CSV ou XLSX)")
    sync.add_argument("--complet", "--full", dest="full", action="store_true",
                      help="relire tous les tableurs, même inchangés")
    sync.add_argument("--rejouer", "--replay", dest="replay", metavar="SYNC_ID",
                      help="reconstruire à partir d'un instantané brut passé")
    sync.add_argument(
        "--accepter-baisse", "--accept-drop", dest="accept_drop", action="store_true",
        help="accepter une fois une forte baisse du nombre de lignes d'un onglet (onglet vidé volontairement)",
    )
    sync.add_argument(
        "--reviser", type=int, action="append", metavar="ANNÉE",
        help="publier les nouveaux chiffres d'une année close (répétable) ; la révision est enregistrée",
    )
    sync.add_argument("--details", "--verbose", dest="verbose", action="store_true",
                      help="afficher aussi les journaux de Prefect")
    sync.set_defaults(handler=_sync)
    serve = _command(
        commands, "planifier", "servir la planification nocturne jusqu'à l'arrêt (serveur Prefect requis)", ("serve",)
    )
    serve.set_defaults(handler=_serve)
    status = _command(
        commands, "etat", "dernières synchronisations ; code 4 si l'entrepôt n'est plus à jour", ("status",)
    )
    status.add_argument("--nombre", type=int, default=10, metavar="N", help="nombre d'exécutions affichées (10)")
    status.set_defaults(handler=_status)
    purge = _command(commands, "purger", "appliquer la durée de conservation à l'historique brut (RGPD)", ("purge",))
    purge.add_argument("--annees", type=int, metavar="N", help="durée de conservation (défaut : PDN_RETENTION_YEARS, 3)")
    purge.add_argument("--simulation", action="store_true", help="compter sans rien supprimer")
    purge.set_defaults(handler=_purge)
    cloturer = _command(
        commands, "cloturer", "clore une année (bilan envoyé à la CAF) : ses chiffres publiés ne bougeront plus"
    )
    cloturer.add_argument("annee", type=int, metavar="ANNÉE", help="l'année à clore, par exemple 2019")
    cloturer.set_defaults(handler=_cloturer)
    oubli = _command(
        commands, "oubli", "effacer une personne de tout l'historique, puis republier sans elle (RGPD, droit à l'effacement)"
    )
    _add_person_arguments(oubli)
    oubli.add_argument("--oui", action="store_true", help="ne pas demander de confirmation (scripts)")
    oubli.add_argument("--source", metavar="DOSSIER", help="dossier d'exports dont le sources.toml sert au bilan refait")
    oubli.add_argument("--details", "--verbose", dest="verbose", action="store_true",
                       help="afficher aussi les journaux de Prefect")
    oubli.set_defaults(handler=_oubli)
    acces = _command(
        commands, "acces", "extraire tout ce qui est détenu sur une personne, dans le dossier privé (RGPD, droit d'accès)"
    )
    _add_person_arguments(acces)
    acces.set_defaults(handler=_acces)
    rekey = _command(
        commands, "recle",
        "passer l'historique brut à une nouvelle clé de pseudonymisation (celle en usage), l'ancienne donnée",
        ("rekey",),
    )
    rekey.add_argument(
        "--ancienne-cle-fichier", metavar="FICHIER",
        help="fichier de l'ancienne clé (sinon : variable PDN_ANCIEN_PSEUDONYM_KEY)",
    )
    rekey.set_defaults(handler=_rekey)
    reparer = _command(
        commands, "reparer", "reconstruire l'historique brut endommagé depuis sa dernière sauvegarde (dossier privé)"
    )
    reparer.add_argument(
        "--repartir-de-zero", action="store_true",
        help="sans sauvegarde lisible : mettre l'historique endommagé de côté et repartir d'un historique vide",
    )
    reparer.set_defaults(handler=_reparer)
    alert = _command(commands, "essai-alerte", "envoyer un message d'essai sur les canaux d'alerte configurés")
    alert.set_defaults(handler=_alert_test)
    report = _command(
        commands, "rapport",
        "écrire le bilan annuel (HTML, PDF), les indicateurs pour la CAF (XLSX, CSV) et la page qualité", ("report",),
    )
    report.add_argument(
        "--annee", "--year", dest="year", type=int, metavar="ANNÉE",
        help="année du bilan (par défaut : la dernière année de l'entrepôt publié)",
    )
    report.add_argument("--pdf", action="store_true", help="écrire aussi le PDF (Chromium sans interface)")
    report.add_argument("--source", metavar="DOSSIER", help="dossier dont le sources.toml déclare les récits")
    report.add_argument("--marqueurs", action="store_true", help="lister les marqueurs utilisables dans le récit")
    report.add_argument("--modele-recit", metavar="FICHIER", help="écrire un modèle de récit (Markdown) à compléter")
    report.add_argument(
        "--brouillon", action="store_true",
        help="écrire un brouillon à relire (brouillon-bilan-ANNÉE.html), textes du modèle à compléter surlignés",
    )
    report.set_defaults(handler=_report)
    docs = _command(
        commands, "documentation", "générer la documentation des données (dbt docs) de l'entrepôt publié", ("docs",)
    )
    docs.set_defaults(handler=_docs)
    modele = _command(commands, "modele", "mettre le tableur de suivi au modèle (onglets, en-têtes, listes, menus déroulants)")
    target = modele.add_mutually_exclusive_group()
    target.add_argument(
        "--cle", metavar="CLE_OU_URL", help="clé ou adresse du tableur (défaut : le [[suivi]] de sources.toml)"
    )
    target.add_argument(
        "--xlsx", metavar="FICHIER", help="écrire le modèle dans un nouveau fichier Excel, sans appeler Google"
    )
    modele.set_defaults(handler=_modele)
    bi = _command(commands, "bi", "installer les tableaux de bord de l'entrepôt dans un outil de BI")
    bi_tools = bi.add_subparsers(dest="outil", required=True, title="outils", metavar="OUTIL")
    superset = _command(
        bi_tools, "superset",
        "importer (ou mettre à jour) le tableau de bord de la CAF dans Superset, lu sur l'entrepôt publié",
    )
    superset.add_argument("--url", default="http://127.0.0.1:8088", metavar="URL",
                          help="adresse de Superset (défaut : http://127.0.0.1:8088)")
    superset.add_argument("--utilisateur", required=True, metavar="NOM",
                          help="compte Superset autorisé à importer (mot de passe : PDN_SUPERSET_PASSWORD, sinon demandé)")
    superset.set_defaults(handler=_bi_superset)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `pdn` command: the CLI's error boundary (a French message, never a traceback)."""
    from flows.errors import PdnError, quiet_log_write_failures, safe_error

    silence_telemetry()
    quiet_log_write_failures()
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


def run() -> None:
    """The `pdn` console script. A sync leaves millions of objects (dbt's manifest, Great Expectations,
    Prefect) that the interpreter's last collection would walk for ~2 s, freeing nothing the end of the
    process does not: frozen, they are skipped. atexit handlers, threads and file flushes happen as usual."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
