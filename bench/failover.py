"""Failover benchmark: `make bench`.

Runs each fault kind repeatedly against a pair in the local sandbox (real operator, real
PostgreSQL) under a concurrent writer, and prints per fault kind p50/p95/max of the time
from the fault to the new active accepting writes, split into detection (fault -> the
operator leaves Normal) and the rest (-> first acknowledged write), next to the engine's
raw promote time measured in the same runs (the agent logs how long promote took), and
the longest commit stall (the longest time without an acknowledged write after the
fault), with issue 16's goals: freeze p95 to writes <= 4 s, hung-standby stall <=
unreachableTimeout + 1 s.

    python bench/failover.py [--runs 10] [--faults kill-database,kill-pod,...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

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
from zenith_sandbox.stack import start_sandbox


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


def row(label: str, values: list[float], goal: float | None = None) -> str:
    text = f"{'<= ' + format(goal, '.1f'):>9}" if goal is not None else ""
    if not values:
        return f"  {label:<26} {'-':>7} {'-':>7} {'-':>7}{text}"
    return (
        f"  {label:<26} {statistics.median(values):7.2f} {percentile(values, 0.95):7.2f}"
        f" {max(values):7.2f}{text}"
    )


def goals(fault: str, unreachable_timeout: int) -> tuple[float | None, float | None]:
    """Goals (p95 of fault -> writes, max commit stall) from issue 16."""
    if fault == "hung-standby":
        return None, unreachable_timeout + 1.0
    if fault == "freeze":
        return 4.0, None
    return None, None


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
                inject = fault_injector(sandbox.faults, fault)
                victim = FAULT_KINDS[fault].victim
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
        f" unreachableTimeout {args.unreachable_timeout}s (seconds)"
    )
    print(f"  {'':<26} {'p50':>7} {'p95':>7} {'max':>7} {'goal':>8}")
    for fault, runs in results.items():
        print(f"{fault}")
        write_goal, stall_goal = goals(fault, args.unreachable_timeout)
        detected = [r.detected for r in runs if r.detected is not None]
        recovered = [r.recovered for r in runs if r.recovered is not None]
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
