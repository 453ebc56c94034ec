"""`zenith-operator sandbox up|down|status|logs|fault|demo`: the sandbox from a shell.

The processes themselves are started and stopped by `stack` (`start_sandbox`, `Sandbox`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from zenith_sandbox import demo, faults
from zenith_sandbox.stack import (
    ORDER,
    STATE_FILE,
    Sandbox,
    check_reachable_by_database_user,
    start_sandbox,
)


# -- CLI ---------------------------------------------------------------------------
def _up(args: argparse.Namespace) -> int:
    state = Path(args.state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    try:
        check_reachable_by_database_user(state)
    except RuntimeError as e:
        print(f"sandbox up: {e}", file=sys.stderr)
        return 2
    if (state / STATE_FILE).exists():
        sb = Sandbox.load(state)
        if any(p.alive() for p in sb.procs.values()):
            print(f"sandbox already running in {state} (zenith-operator sandbox down)")
            return 1
    sb = start_sandbox(state, operator=not args.no_operator)
    for p in sb.procs.values():
        p.popen = None  # detach: `down` finds them by pid
    print(f"export KUBECONFIG={sb.kubeconfig}")
    return 0


def _down(args: argparse.Namespace) -> int:
    state = Path(args.state_dir)
    if not (state / STATE_FILE).exists():
        print(f"no sandbox in {state}")
        return 0
    Sandbox.load(state).stop()
    if args.purge:
        shutil.rmtree(state, ignore_errors=True)
    print("sandbox stopped")
    return 0


def _status(args: argparse.Namespace) -> int:
    state = Path(args.state_dir)
    if not (state / STATE_FILE).exists():
        print(f"no sandbox in {state}")
        return 1
    print(json.dumps(Sandbox.load(state).status(), indent=2))
    return 0


def _logs(args: argparse.Namespace) -> int:
    """Print a pod container's log (all its runs) or a sandbox process's log."""
    state = Path(args.state_dir)
    if args.target in ORDER:
        path = state / "logs" / f"{args.target}.log"
    else:
        pod_dir = state / "logs" / args.namespace / args.target
        logs = sorted(pod_dir.glob("*.log"))
        chosen = [p for p in logs if p.stem == args.container] if args.container else logs[:1]
        if not chosen:
            print(f"no log for {args.target} {args.container or ''} in {pod_dir}", file=sys.stderr)
            return 1
        path = chosen[0]
    try:
        sys.stdout.write(path.read_text(errors="replace"))
    except OSError as e:
        print(f"{path}: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "fault":
        return faults.main(argv[1:])
    if argv and argv[0] == "demo":
        return demo.main(argv[1:])
    p = argparse.ArgumentParser(prog="zenith-operator sandbox")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start apiserver, runtime and operator in the background")
    up.add_argument("--no-operator", action="store_true")
    down = sub.add_parser("down", help="stop everything")
    down.add_argument("--purge", action="store_true", help="also delete the state directory")
    sub.add_parser("status", help="what runs")
    logs = sub.add_parser(
        "logs", help="print a log: POD [-c CONTAINER] or apiserver|runtime|operator"
    )
    logs.add_argument("target")
    logs.add_argument("--container", "-c")
    logs.add_argument("--namespace", "-n", default="default")
    sub.add_parser("fault", help="inject a fault: sandbox fault KIND POD (see --help)")
    sub.add_parser("demo", help="run the demo")
    for sp in sub.choices.values():
        sp.add_argument("--state-dir", default=".sandbox")
    args = p.parse_args(argv)
    handlers = {"up": _up, "down": _down, "status": _status, "logs": _logs}
    return handlers[args.cmd](args)
