"""`kubectl-zenith`: arguments, kubeconfig (kubectl's rules, through the kubernetes client
of the `kubectl` extra), errors.

`--kubeconfig`, `$KUBECONFIG` (several files joined by `:`), then `~/.kube/config`, then
the in-cluster service account; `--context` picks a context; `-n` the namespace, else
the context's, else `default`. Errors print `error: ...` and exit 1 (usage errors 2).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import urllib3
from kubernetes import client, config

from zenith_operator.kubectl_plugin import commands
from zenith_operator.kubectl_plugin.commands import PluginError, Target

DEFAULT_TIMEOUT = 300.0


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("-n", "--namespace", default=default, help="namespace of the cluster")
    parser.add_argument("--context", default=default, help="kubeconfig context to use")
    parser.add_argument("--kubeconfig", default=default, help="path to the kubeconfig file")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubectl zenith", description="Operate ZenithClusters (zenith-operator)."
    )
    _common(p, suppress=False)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=text, description=text)
        _common(c, suppress=True)
        return c

    def waits(c: argparse.ArgumentParser) -> None:
        c.add_argument("--wait", action="store_true", help="wait until done, showing progress")
        c.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds (--wait)")

    command("status", "state, roles, lag, lease and the latest events").add_argument("name")
    c = command("switchover", "planned switchover to the standby (or --to POD)")
    c.add_argument("name")
    c.add_argument("--to", metavar="POD", help="the instance to promote (default: the standby)")
    waits(c)
    c = command("resume", "leave ManualIntervention (--active POD: make POD the active)")
    c.add_argument("name")
    c.add_argument("--active", metavar="POD", help="the instance whose data wins")
    waits(c)
    for verb, text in (("stop", "stop the database, keep storage"), ("start", "start it again")):
        c = command(verb, text)
        c.add_argument("name")
        waits(c)
    c = command("rollout", "configuration rollouts")
    c.add_argument("action", choices=["status"])
    c.add_argument("name")
    waits(c)
    return p


def connect(kubeconfig: str | None, context: str | None) -> tuple[client.ApiClient, str]:
    """An API client and the context's namespace, as kubectl would choose them."""
    path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    have_file = any(Path(p).expanduser().exists() for p in path.split(os.pathsep) if p)
    if not have_file and not kubeconfig and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        ns_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        ns = ns_file.read_text().strip() if ns_file.exists() else "default"
        return client.ApiClient(), ns
    if not have_file:
        raise PluginError(f"no kubeconfig found ({path}); set KUBECONFIG or --kubeconfig")
    try:
        contexts, active = config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
        chosen = next((c for c in contexts if c["name"] == context), None) if context else active
        if chosen is None:
            raise PluginError(f'context "{context}" not found in {path}')
        api = config.new_client_from_config(config_file=path, context=chosen["name"])  # type: ignore[no-untyped-call]
    except config.ConfigException as exc:
        raise PluginError(f"bad kubeconfig {path}: {exc}") from None
    namespace = (chosen.get("context") or {}).get("namespace") or "default"
    return api, namespace


def run(args: argparse.Namespace) -> int:
    api, context_namespace = connect(args.kubeconfig, args.context)
    try:
        t = Target(api, args.namespace or context_namespace, args.name)
        if args.command == "status":
            return commands.status(t)
        if args.command == "switchover":
            return commands.switchover(t, args.to, args.wait, args.timeout)
        if args.command == "resume":
            return commands.resume(t, args.active, args.wait, args.timeout)
        if args.command in ("stop", "start"):
            return commands.set_stopped(t, args.command == "stop", args.wait, args.timeout)
        return commands.rollout_status(t, args.wait, args.timeout)
    finally:
        api.close()  # type: ignore[no-untyped-call]


def _api_message(exc: client.ApiException) -> str:
    import json

    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return f"{message or exc.reason} (HTTP {exc.status})"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except client.ApiException as exc:
        print(f"error: {_api_message(exc)}", file=sys.stderr)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        print(f"error: cannot reach the Kubernetes API: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
