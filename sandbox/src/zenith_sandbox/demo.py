"""`zenith-operator sandbox demo` (`make demo`): the whole system on one machine.

Starts the API emulator, the local pod runtime and the operator; applies examples/pair.yaml
(with short timers so the demo is quick); waits for Normal; writes rows; kills the active;
shows the failover and the standby returning; proves every acknowledged row is present;
prints a timeline, the metrics that moved (operator and agents) and the `kubectl zenith
status` view; cleans up.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import time
from pathlib import Path

from zenith_operator.kubectl_plugin.commands import Target
from zenith_operator.kubectl_plugin.commands import status as plugin_status
from zenith_sandbox.metrics import Samples, agent_url, scrape
from zenith_sandbox.scenario import (
    FAULT_KINDS,
    Cluster,
    FaultRun,
    fault_injector,
    fresh_state_dir,
    load_example,
    network_faults_available,
    run_fault,
)
from zenith_sandbox.stack import Sandbox, check_reachable_by_database_user, start_sandbox

# the series the demo shows when they moved: operator (per cluster), then agent
OPERATOR_SERIES = (
    "zenith_cluster_failovers_total",
    "zenith_cluster_switchovers_total",
    "zenith_cluster_active_ordinal",
    "zenith_cluster_last_failover_duration_seconds",
    "zenith_cluster_state_seconds_total",
    "zenith_cluster_poll_errors_total",
)
AGENT_SERIES = (
    "zenith_agent_role",
    "zenith_agent_timeline",
    "zenith_agent_operation_duration_seconds_count",
)


def snapshot(sandbox: Sandbox, cluster: Cluster) -> dict[str, Samples]:
    """The operator's metrics ("operator") and each agent's (by pod name)."""
    out: dict[str, Samples] = {}
    if sandbox.metrics_url:
        out["operator"] = scrape(sandbox.metrics_url)
    for pod, ip in cluster.pod_ips().items():
        try:
            out[pod] = scrape(agent_url(ip))
        except OSError:
            continue
    return out


def moved(before: dict[str, Samples], after: dict[str, Samples], cluster: Cluster) -> list[str]:
    """One line per series that changed: `where  name{labels}  old -> new`."""
    lines = []
    for source, now in after.items():
        names = OPERATOR_SERIES if source == "operator" else AGENT_SERIES
        old = before.get(source, Samples({}))
        for (name, labels), value in sorted(now.values.items()):
            shown = dict(labels)
            if name not in names or (source == "operator" and shown.get("name") != cluster.name):
                continue
            was = old.values.get((name, labels))
            if was == value:
                continue
            shown.pop("namespace", None), shown.pop("name", None)
            text = ",".join(f"{k}={v}" for k, v in shown.items())
            series = f"{name}{{{text}}}" if text else name
            lines.append(f"  {source:<9} {series:<66} {_num(was)} -> {_num(value)}")
    return lines


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


class Clock:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.t0:7.2f}s] {message}", flush=True)


def _report(run: FaultRun, clock: Clock) -> bool:
    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}s"

    print()
    print(f"  fault                      {run.fault} on {run.victim}")
    print(f"  operator detected it       {fmt(run.detected)}")
    print(f"  writes accepted again      {fmt(run.recovered)}  (on {run.new_active})")
    print(f"  back to Normal, in sync    {fmt(run.normal)}")
    print(f"  state changes              {', '.join(f'{s}@{t:.1f}s' for t, s in run.states)}")
    print(f"  acknowledged writes        {run.acked}, missing after failover: {len(run.lost)}")
    print(f"  writability samples        {run.samples}, with two writable: {run.double_writable}")
    print()
    if run.ok:
        clock.say("every acknowledged row is present and there was never more than one writable")
    else:
        clock.say("FAILED: see the figures above")
    return run.ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="zenith-operator sandbox demo")
    parser.add_argument("--state-dir", help="default: a new directory under /tmp")
    parser.add_argument(
        "--fault",
        choices=sorted(FAULT_KINDS),
        help="default: node-crash where iptables is available, else kill-pod",
    )
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running")
    args = parser.parse_args(argv)
    state = Path(args.state_dir).resolve() if args.state_dir else fresh_state_dir("demo")
    state.mkdir(parents=True, exist_ok=True)
    try:
        check_reachable_by_database_user(state)
    except RuntimeError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2
    clock = Clock()
    clock.say("starting the Kubernetes API emulator, the pod runtime and the operator")
    sandbox = start_sandbox(state)
    ok = False
    view = io.StringIO()  # the `kubectl zenith status` view, printed last
    try:
        cluster = Cluster(sandbox.api, sandbox.namespace, "pair")
        clock.say(
            "creating examples/pair.yaml via the API (pollingInterval 1s, unreachableTimeout 5s)"
        )
        cluster.create(load_example("pair", pollingInterval=1, unreachableTimeout=5))
        status = cluster.wait_normal(timeout=120)
        clock.say(
            f"Normal: active {status['activeInstance']}, standby {status['standbyInstance']},"
            f" replication {status.get('replicationMode')}"
        )
        before = snapshot(sandbox, cluster)
        fault = args.fault or ("node-crash" if network_faults_available() else "kill-pod")
        inject = fault_injector(sandbox.faults, fault)
        clock.say(f"writing rows; then {fault}: {FAULT_KINDS[fault].description}")
        run = run_fault(
            cluster,
            inject,
            fault,
            victim_role=FAULT_KINDS[fault].victim,
            on_state=lambda t, s: clock.say(f"  +{t:5.2f}s after the fault: state {s}"),
        )
        ok = _report(run, clock)
        clock.say("metrics that moved (operator: GET /metrics; agents: GET POD_IP:8009/metrics)")
        print("\n".join(moved(before, snapshot(sandbox, cluster), cluster)) or "  none")
        plugin_status(Target(sandbox.api, sandbox.namespace, cluster.name, out=view))
        if args.keep:
            print(f"sandbox left running: export KUBECONFIG={sandbox.kubeconfig}")
            print(f"stop it with: zenith-operator sandbox down --state-dir {state}")
    except Exception as e:
        clock.say(f"FAILED: {e}  (logs in {state}/logs)")
    finally:
        if not args.keep:
            clock.say("cleaning up")
            sandbox.stop()
            if ok and not args.state_dir:
                shutil.rmtree(state, ignore_errors=True)
    if view.getvalue():
        print("\n$ kubectl zenith status pair   (just before the clean-up)")
        print(view.getvalue(), end="")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
