"""Failover benchmark: `make bench`.

Runs each fault kind repeatedly against a pair in the local sandbox (real operator, real
PostgreSQL) under a concurrent writer, and prints per fault kind p50/p95/max of the time
from the fault to the new active accepting writes, split into detection (fault -> the
operator leaves Normal) and the rest (-> first acknowledged write), next to the engine's
raw promote time measured in the same runs (the agent logs how long promote took), and
the longest commit stall (the longest time without an acknowledged write after the
fault), with the goals of issues 16 and 17 and PASS/MISS for each (see `goals`). Besides
the sandbox's faults (sandbox/scenario.py FAULT_KINDS) it runs a planned switchover and an
API outage. Exits non-zero when any run lost an acknowledged write or saw two writable.

    python bench/failover.py [--runs 10] [--faults kill-database,switchover,...]
                             [--polling-interval 1] [--unreachable-timeout 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from zenith_operator.ha import SWITCHOVER_ANNOTATION
from zenith_sandbox.scenario import (
    FAULT_KINDS,
    Cluster,
    FaultRun,
    fault_injector,
    fresh_state_dir,
    load_example,
    network_faults_available,
    run_api_pause,
    run_fault,
)
from zenith_sandbox.stack import Sandbox, start_sandbox


def promote_seconds(log_dir: Path, since: float) -> list[float]:
    """Promote durations the agents logged after wall-clock time `since`."""
    found: list[float] = []
    for path in log_dir.rglob("zenith-ha.log"):
        for line in path.read_text(errors="replace").splitlines():
            if '"promoted"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "promoted" and entry.get("unix", 0) >= since:
                found.append(float(entry["seconds"]))
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def row(label: str, values: list[float], goal: float | None = None, q: float = 0.95) -> str:
    """p50/p95/max of `values`; with a goal, the goal and PASS/MISS of the p95 (or of the
    max, q=1.0, for stalls that must never exceed it)."""
    text = ""
    if goal is not None:
        verdict = "-" if not values else ("PASS" if percentile(values, q) <= goal else "MISS")
        text = f" {'<= ' + format(goal, '.1f'):>8} {verdict:>5}"
    if not values:
        return f"  {label:<26} {'-':>7} {'-':>7} {'-':>7}{text}"
    return (
        f"  {label:<26} {statistics.median(values):7.2f} {percentile(values, 0.95):7.2f}"
        f" {max(values):7.2f}{text}"
    )


def goals(fault: str, unreachable_timeout: int) -> tuple[float | None, float | None]:
    """Goals from issues 16 and 17: (p95 of fault -> writes accepted, p95 of the longest
    commit stall). Writes accepted again: kill-database 1.0 s, kill-pod and delete-pod
    1.5 s, freeze 4 s, a real failover (cut-off, node-crash) unreachableTimeout + 1 s;
    longest stall: a planned switchover 0.8 s, a hung standby unreachableTimeout + 1 s,
    an API outage none (no gap longer than the writer's own pace, 1 s)."""
    writes = {
        "kill-database": 1.0,
        "kill-pod": 1.5,
        "delete-pod": 1.5,
        "freeze": 4.0,
        "cut-off": unreachable_timeout + 1.0,
        "node-crash": unreachable_timeout + 1.0,
    }
    stalls = {
        "switchover": 0.8,
        "hung-standby": unreachable_timeout + 1.0,
        "api-outage": NO_GAP,
    }
    return writes.get(fault), stalls.get(fault)


API_OUTAGE_SECONDS = 12.0  # more than twice the default unreachableTimeout of the bench
NO_GAP = 1.0
EXTRA_KINDS = {
    "switchover": "planned switchover to the standby (the switchover-to annotation)",
    "api-outage": f"the Kubernetes API hangs for {API_OUTAGE_SECONDS:g} s (SIGSTOP)",
}


def injector(sandbox: Sandbox, cluster: Cluster, fault: str) -> Callable[[str], object]:
    if fault == "switchover":
        return lambda _pod: cluster.annotate(
            SWITCHOVER_ANNOTATION, str(cluster.status()["standbyInstance"])
        )
    return fault_injector(sandbox.faults, fault)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/failover.py")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--faults", help="comma-separated; default: every kind that can run here")
    parser.add_argument("--polling-interval", type=int, default=1)
    parser.add_argument("--unreachable-timeout", type=int, default=5)
    args = parser.parse_args(argv)
    state = fresh_state_dir("bench")
    sandbox = start_sandbox(state)
    results: dict[str, list[FaultRun]] = {}
    promotes: dict[str, list[float]] = {}
    failures = 0
    try:
        kinds = (
            args.faults.split(",")
            if args.faults
            else [
                k.name for k in FAULT_KINDS.values() if network_faults_available() or not k.network
            ]
            + list(EXTRA_KINDS)
        )
        for n, fault in enumerate(kinds):
            cluster = Cluster(sandbox.api, sandbox.namespace, f"bench-{n}")
            cluster.create(
                load_example(
                    "pair",
                    pollingInterval=args.polling_interval,
                    unreachableTimeout=args.unreachable_timeout,
                )
            )
            cluster.wait_normal(timeout=180)
            started = time.time()
            for i in range(args.runs):
                if fault == "api-outage":
                    pause, resume = sandbox.pause_api, sandbox.resume_api
                    run = run_api_pause(cluster, pause, resume, API_OUTAGE_SECONDS)
                else:
                    victim = FAULT_KINDS[fault].victim if fault in FAULT_KINDS else "active"
                    inject = injector(sandbox, cluster, fault)
                    run = run_fault(cluster, inject, fault, victim_role=victim, timeout=180)
                if fault == "freeze":
                    sandbox.faults.thaw(run.victim)
                results.setdefault(fault, []).append(run)
                failures += 0 if run.ok else 1
                print(
                    f"{fault} #{i + 1}: detected {run.detected}, writes {run.recovered},"
                    f" normal {run.normal:.2f}, stall {run.max_gap or 0:.2f}, lost {len(run.lost)},"
                    f" double-writable {run.double_writable}",
                    flush=True,
                )
            promotes[fault] = promote_seconds(state / "logs", started)
            cluster.delete()
    finally:
        sandbox.stop()
    print()
    print(
        f"failover, {args.runs} runs per fault; pollingInterval {args.polling_interval}s,"
        f" unreachableTimeout {args.unreachable_timeout}s (seconds; goal and verdict on p95)"
    )
    print(f"  {'':<26} {'p50':>7} {'p95':>7} {'max':>7} {'goal':>8} {'':>5}")
    for fault, runs in results.items():
        print(f"{fault}")
        write_goal, stall_goal = goals(fault, args.unreachable_timeout)
        detected = [r.detected for r in runs if r.detected is not None]
        recovered = [r.recovered if r.recovered is not None else 0.0 for r in runs]
        rest = [
            r.recovered - r.detected
            for r in runs
            if r.recovered is not None and r.detected is not None
        ]
        print(row("longest commit stall", [r.max_gap for r in runs if r.max_gap is not None],
                  stall_goal))  # fmt: skip
        print(row("fault -> writes accepted", recovered, write_goal))
        print(row("  detection", detected))
        print(row("  promotion and routing", rest))
        print(row("  engine promote (raw)", promotes.get(fault, [])))
        print(row("fault -> Normal, in sync", [r.normal for r in runs if r.normal is not None]))
        lost = sum(len(r.lost) for r in runs)
        print(
            f"  acknowledged writes lost: {lost}; samples with two writable:"
            f" {sum(r.double_writable for r in runs)}"
        )
    shutil.rmtree(state, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
