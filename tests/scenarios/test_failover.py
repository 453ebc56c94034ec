"""Faults on a synchronous pair under a concurrent writer and a writability checker.

Each asserts: never more than one writable instance at any sample, zero acknowledged
writes lost, back to Normal with the standby in sync; and prints the timings.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zenith_operator.sandbox.cli import Sandbox
from zenith_operator.sandbox.scenario import Cluster, FaultRun, run_fault

pytestmark = pytest.mark.integration


def _check(run: FaultRun) -> None:
    print(
        f"\n{run.fault}: detected {run.detected}, writes again {run.recovered},"
        f" Normal {run.normal}, acked {run.acked}, samples {run.samples}, states {run.states}"
    )
    assert run.double_writable == 0, "two instances were writable at once"
    assert not run.lost, f"acknowledged writes lost: {sorted(run.lost)[:20]}"
    assert run.normal is not None
    assert run.detected is not None, "the operator never noticed the fault"


def test_create_pair_reaches_normal_in_sync(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    assert status["activeInstance"] != status["standbyInstance"]
    assert status["replicationMode"] == "sync"
    conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
    assert conditions.get("Ready") == "True"


def test_kill_active_database(sandbox: Sandbox, make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster("pair")
    cluster.wait_normal(timeout=120)
    _check(run_fault(cluster, sandbox.faults.kill_database, "kill -9 active database"))


def test_kill_active_pod_processes(sandbox: Sandbox, make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster("pair")
    cluster.wait_normal(timeout=120)
    _check(run_fault(cluster, sandbox.faults.kill_processes, "kill -9 active pod"))


def test_delete_active_pod(sandbox: Sandbox, make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster("pair")
    cluster.wait_normal(timeout=120)
    run = run_fault(cluster, sandbox.faults.delete_pod, "delete active pod")
    _check(run)


def test_freeze_active_pod(sandbox: Sandbox, make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    victim = status["activeInstance"]
    run = run_fault(cluster, sandbox.faults.freeze, "SIGSTOP active pod")
    _check(run)
    # The frozen instance was killed by its liveness probe or rebuilt: never active again
    # while another instance was writable (checked above); thaw is harmless now.
    sandbox.faults.thaw(victim)


def test_kill_standby(sandbox: Sandbox, make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    active = status["activeInstance"]
    run = run_fault(
        cluster, sandbox.faults.kill_processes, "kill -9 standby pod", victim_role="standby"
    )
    _check(run)
    assert run.new_active == active, "losing the standby must not move the active"


def test_operator_killed_during_failover(
    sandbox: Sandbox, make_cluster: Callable[..., Cluster]
) -> None:
    cluster = make_cluster("pair")
    cluster.wait_normal(timeout=120)

    def kill_active_then_operator(victim: str) -> None:
        sandbox.faults.kill_processes(victim)
        cluster.wait_state("ActiveDown", "Failover", timeout=30)
        sandbox.restart_operator(kill=True)

    _check(run_fault(cluster, kill_active_then_operator, "operator killed mid-failover"))
