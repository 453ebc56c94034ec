"""`zenith-operator run`: the operator process (kopf, in-process).

Loads the handler modules (`handlers`: the cluster's resources; `ha_daemon`: the HA loop
of each cluster), makes sure the peering object exists, then runs kopf until
SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

import kopf
import structlog

from zenith_operator import logging as zlogging
from zenith_operator.controller import metrics
from zenith_operator.controller.reconcile_kube import Kube, KubeError, Ref

HANDLER_MODULES = ("zenith_operator.controller.handlers", "zenith_operator.controller.ha_daemon")
DEFAULT_PEERING = "zenith-operator"
DEFAULT_LIVENESS = "http://0.0.0.0:8080/healthz"
DEFAULT_METRICS = "0.0.0.0:8081"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="zenith-operator run", description=__doc__)
    parser.add_argument(
        "--namespace",
        default=os.environ.get("WATCH_NAMESPACE", ""),
        help="namespace to watch (default: $WATCH_NAMESPACE; empty: all namespaces)",
    )
    parser.add_argument(
        "--liveness",
        default=DEFAULT_LIVENESS,
        help=f"kopf liveness endpoint (default {DEFAULT_LIVENESS}; 'none' disables)",
    )
    parser.add_argument(
        "--metrics",
        default=os.environ.get("ZENITH_METRICS_ADDRESS", DEFAULT_METRICS),
        help="serve Prometheus metrics on HOST:PORT/metrics (default $ZENITH_METRICS_ADDRESS "
        f"or {DEFAULT_METRICS}; 'none' disables)",
    )
    peering = parser.add_mutually_exclusive_group()
    peering.add_argument(
        "--peering", default=DEFAULT_PEERING, help="kopf peering object name (one active operator)"
    )
    peering.add_argument("--standalone", action="store_true", help="no peering (single operator)")
    parser.add_argument("--priority", type=int, default=0, help="kopf peering priority")
    parser.add_argument("--verbose", action="store_true", help="debug logs")
    return parser.parse_args(argv)


def load_handlers() -> list[str]:
    """Import the handler modules (which register with kopf); a missing one is an error,
    never an operator that silently runs without its HA loop."""
    for module in HANDLER_MODULES:
        importlib.import_module(module)
    return list(HANDLER_MODULES)


def ensure_peering(kube: Kube, name: str, namespace: str) -> bool:
    """Create the (Cluster)KopfPeering object if missing; False if that is impossible."""
    if namespace:
        obj = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering"}
        obj["metadata"] = {"name": name, "namespace": namespace}  # type: ignore[assignment]
    else:
        obj = {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering"}
        obj["metadata"] = {"name": name}  # type: ignore[assignment]
    try:
        if kube.get(Ref(obj["apiVersion"], obj["kind"], name, namespace or None)) is None:
            kube.create(obj)
        return True
    except KubeError as exc:
        return exc.status == 409


def start_metrics(address: str, log: Any) -> None:
    """Serve /metrics; a port in use or a bad address is logged, never fatal (HA first)."""
    try:
        host, port = metrics.serve(address)
    except (OSError, ValueError) as exc:
        log.warning("metrics not served", address=address, error=str(exc))
        return
    log.info("metrics", url=f"http://{host}:{port}/metrics")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    zlogging.configure(verbose=args.verbose)
    log = structlog.get_logger("zenith_operator.run")
    modules = load_handlers()
    namespace = args.namespace.strip()
    standalone = args.standalone
    kube = Kube.from_environment()
    if not standalone and not ensure_peering(kube, args.peering, namespace):
        log.warning("peering object unavailable: running standalone", peering=args.peering)
        standalone = True
    memo = kopf.Memo(kube=kube, watch_namespace=namespace or None)
    if args.metrics != "none":
        start_metrics(args.metrics, log)
    log.info(
        "starting",
        namespace=namespace or "*",
        peering=None if standalone else args.peering,
        handlers=modules,
    )
    kopf.run(
        standalone=standalone,
        peering_name=None if standalone else args.peering,
        priority=args.priority,
        liveness_endpoint=None if args.liveness == "none" else args.liveness,
        clusterwide=not namespace,
        namespaces=[namespace] if namespace else (),
        memo=memo,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
