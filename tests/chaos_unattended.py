"""Chaos run of the unattended service (`make chaos`): kill -9 of everything at a random moment, restart, repeat.

Each round triggers a nightly run on a real `prefect server start` + `pdn planifier` (sample sources, local webhook),
kills the server, `pdn planifier` and the flow process together at a random moment of the run, as a reboot would
(the moment is drawn between the flow's start and its end as measured on a quiet run first, so that most kills
land mid-run: a kill before the flow starts or after it ends tests little),
starts both again and triggers one more run, which must publish without a human. At the end: the published
file opens read-only with the sample's figures, no process is left, and the webhook received exactly one alert
per run that did not publish and none for a run that did. Prints one line per round; exit 1 on any breach.

    python -m tests.chaos_unattended --rondes 10
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from flows.settings import silence_telemetry
from tests.ops.test_notify import WebhookReceiver
from tests.prefect_service import PrefectService, kill_tree

SAMPLE_ACTIVE_END_2019 = 66  # bilan 2019: Promeneurs actifs au 31 décembre, réseau (the seed report)


def published_figure(root: Path) -> int:
    with duckdb.connect(str(root / "warehouse" / "pdn.duckdb"), read_only=True) as con:
        return con.execute(
            "select valeur from bilan.indicateurs_annuels where annee = 2019 and departement = 'ensemble' "
            "and indicateur = 'promeneurs_actifs_fin_annee'"
        ).fetchone()[0]


def run_reports(root: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((root / "warehouse" / "runs").glob("2*.json"))]


def quiet_window(service: PrefectService) -> tuple[float, float]:
    """One quiet nightly run, timed from its trigger by the server's own clock: (flow running, flow over)."""
    quiet = service.run_now()
    service.wait_final(quiet)
    with service.client() as client:
        run = client.read_flow_run(quiet)
    return (run.start_time - run.created).total_seconds(), (run.end_time - run.created).total_seconds()


def one_round(
    service: PrefectService, root: Path, webhook: WebhookReceiver, rng: random.Random, window: tuple[float, float]
) -> tuple[str, bool]:
    """Trigger, kill everything at a random moment of the window, restart, trigger again and wait for the
    publication. Returns the round's line and whether the kill hit the run mid-flight."""
    victim = service.run_now()
    delay = rng.uniform(*window)
    time.sleep(delay)
    killed_in = service.state_of(victim).type.value
    for process in (service.serve, service.server):
        kill_tree(process)
    service.start_server()
    service.start_serve(root, PDN_ALERT_WEBHOOK_URL=webhook.url)
    healthy = service.run_now()
    final = service.wait_final(healthy).type.value
    victim_final = service.wait_final(victim).type.value
    line = f"tué après {delay:4.1f} s ({killed_in}) → {victim_final} ; exécution suivante : {final}"
    return line, killed_in == "RUNNING"


def check(root: Path, webhook: WebhookReceiver) -> list[str]:
    """The promises: figures intact, one alert per run that did not publish, none for the others."""
    breaches = []
    if published_figure(root) != SAMPLE_ACTIVE_END_2019:
        breaches.append("chiffres publiés différents de ceux de l'échantillon")
    for report in run_reports(root):
        alerts = [body for body in webhook.bodies if report["run_id"] in body["text"]]
        expected = 0 if report["statut"] == "publie" else 1
        if report["statut"] == "en_cours":
            breaches.append(f"{report['run_id']} : rapport resté « en cours »")
        if len(alerts) != expected:
            breaches.append(f"{report['run_id']} ({report['statut']}) : {len(alerts)} alerte(s), {expected} attendue(s)")
    return breaches


def main(argv: list[str] | None = None) -> int:
    silence_telemetry()
    parser = argparse.ArgumentParser(description="Chaos du service nocturne (kill -9 de tout, redémarrage).")
    parser.add_argument("--rondes", type=int, default=10)
    parser.add_argument("--graine", type=int, default=None)
    args = parser.parse_args(argv)
    seed = args.graine if args.graine is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    base = Path(tempfile.mkdtemp(prefix="pdn-chaos-"))
    root = base / "pdn"
    webhook = WebhookReceiver()
    service = PrefectService(base / "prefect-home")
    print(f"Chaos : {args.rondes} rondes, graine {seed}, dossier {base}")
    try:
        service.start_server()
        service.start_serve(root, PDN_ALERT_WEBHOOK_URL=webhook.url)
        first = service.run_now()
        print(f"Première publication : {service.wait_final(first).type.value}")
        window = quiet_window(service)
        print(f"Exécution calme : flux démarré {window[0]:.1f} s après son déclenchement, fini à {window[1]:.1f} s ; "
              "fenêtre de l'arrêt brutal choisie entre les deux.", flush=True)
        mid_run = 0
        for number in range(1, args.rondes + 1):
            line, hit = one_round(service, root, webhook, rng, window)
            mid_run += hit
            print(f"Ronde {number} : {line}", flush=True)
        print(f"Exécutions tuées en plein vol : {mid_run}/{args.rondes}.")
    finally:
        service.stop()
        webhook.close()
    breaches = check(root, webhook)
    left = PrefectService.leftover_processes(base)
    breaches += [f"processus restant : {pid}" for pid in left]
    print("\n".join(breaches) if breaches else "Aucune promesse rompue.")
    if not breaches:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
