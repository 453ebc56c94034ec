"""Faults on a synchronous pair under a concurrent writer and a writability checker.

Each asserts: never more than one writable instance at any sample, zero acknowledged
writes lost, back to Normal with the standby in sync; and prints the timings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from zenith_sandbox.faults import FaultError
from zenith_sandbox.scenario import (
    FAULT_KINDS,
    Cluster,
    FaultRun,
    fault_injector,
    network_faults_available,
    run_fault,
)
from zenith_sandbox.stack import Sandbox

pytestmark = pytest.mark.integration

needs_network = pytest.mark.skipif(
    not network_faults_available(), reason="network faults need root and iptables"
)


def _check(run: FaultRun) -> None:
    print(
        f"\n{run.fault}: detected {run.detected}, writes again {run.recovered},"
        f" Normal {run.normal}, acked {run.acked}, samples {run.samples}, states {run.states}"
    )
    assert run.double_writable == 0, "two instances were writable at once"
    assert not run.lost, f"acknowledged writes lost: {sorted(run.lost)[:20]}"
    assert run.normal is not None
    # the operator noticed, or the agent repaired it alone (a crashed database restarted)
    assert run.detected is not None or run.recovered is not None, "nothing noticed the fault"
    assert run.acked > 0


def test_create_pair_reaches_normal_in_sync(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    assert status["activeInstance"] != status["standbyInstance"]
    assert status["replicationMode"] == "sync"
    conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
    assert conditions.get("Ready") == "True"


@pytest.mark.parametrize(
    "kind",
    [
        "kill-database",
        "kill-pod",
        "delete-pod",
        "freeze",
        pytest.param("cut-off", marks=needs_network),
        pytest.param("node-crash", marks=needs_network),
    ],
)
def test_active_fault(sandbox: Sandbox, make_cluster: Callable[..., Cluster], kind: str) -> None:
    cluster = make_cluster("pair")
    cluster.wait_normal(timeout=120)
    run = run_fault(cluster, fault_injector(sandbox.faults, kind), FAULT_KINDS[kind].description)
    if kind == "freeze":
        with contextlib.suppress(FaultError):  # the operator may have replaced the pod
            sandbox.faults.thaw(run.victim)
    _check(run)


@needs_network
def test_active_cut_off_fails_over_to_the_standby(
    sandbox: Sandbox, make_cluster: Callable[..., Cluster]
) -> None:
    """An active that stays unreachable is replaced: the standby is promoted."""
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    run = run_fault(cluster, fault_injector(sandbox.faults, "node-crash"), "node crash")
    _check(run)
    assert run.new_active == status["standbyInstance"]
    # counted down and failed over in one cycle (the lease ends before unreachableTimeout)
    assert next(s for _, s in run.states) == "Failover"


def test_kill_standby(sandbox: Sandbox, make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    active = status["activeInstance"]
    run = run_fault(
        cluster, sandbox.faults.kill_processes, "kill -9 standby pod", victim_role="standby"
    )
    _check(run)
    assert run.new_active == active, "losing the standby must not move the active"


@needs_network
def test_operator_killed_during_failover(
    sandbox: Sandbox, make_cluster: Callable[..., Cluster]
) -> None:
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    crash = fault_injector(sandbox.faults, "node-crash")

    def crash_then_kill_operator(victim: str) -> None:
        crash(victim)
        cluster.wait_state("Failover", timeout=60)
        sandbox.restart_operator(kill=True)

    run = run_fault(cluster, crash_then_kill_operator, "operator killed mid-failover")
    _check(run)
    assert run.new_active == status["standbyInstance"]
