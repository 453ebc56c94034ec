"""Both instances down, a single instance, and deleting a cluster."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zenith_sandbox.scenario import Cluster, run_fault, wait_for
from zenith_sandbox.stack import Sandbox
from zenith_sandbox.workload import Writer, missing_acknowledged

pytestmark = pytest.mark.integration


def test_both_down_then_back_keeps_every_acknowledged_write(
    sandbox: Sandbox, make_cluster: Callable[..., Cluster]
) -> None:
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    creds = cluster.credentials()
    writer = Writer(cluster.active_lookup(), creds)
    writer.start()
    try:
        wait_for("writes", lambda: len(writer.acks) >= 30, 30)
        sandbox.faults.kill_processes(status["standbyInstance"])
        sandbox.faults.kill_processes(status["activeInstance"])
        cluster.wait_state("BothDown", "ActiveDown", "StandbyDown", "Failover", timeout=30)
        final = cluster.wait_normal(timeout=180)
        count = len(writer.acks)
        wait_for("writes after recovery", lambda: len(writer.acks) >= count + 5, 60)
    finally:
        writer.stop()
    active_ip = cluster.pod_ips()[final["activeInstance"]]
    assert not missing_acknowledged(active_ip, creds, writer.acked_ids)


def test_single_instance_recovers_from_a_killed_database(
    sandbox: Sandbox, make_cluster: Callable[..., Cluster]
) -> None:
    cluster = make_cluster("single")
    status = cluster.wait_normal(timeout=120)
    assert status["activeInstance"] and not status.get("standbyInstance")
    run = run_fault(cluster, sandbox.faults.kill_processes, "kill -9 single instance")
    assert not run.lost and run.double_writable == 0
    assert run.new_active == status["activeInstance"]


def test_delete_cluster_removes_its_pods(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster("pair")
    cluster.wait_normal(timeout=120)
    cluster.delete()
    wait_for("the cluster object to go", lambda: cluster.get() is None, 60)
    wait_for("its pods to go", lambda: not cluster.pod_ips(), 60)
