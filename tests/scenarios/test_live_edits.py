"""Issue 16 item 6: live edits of the spec (and the switchover annotation) under a writer.

Each prints the longest gap between acknowledged writes and asserts 0 lost, never two
writable instances.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kubernetes import client

from zenith_operator.ha import SWITCHOVER_ANNOTATION
from zenith_sandbox.polling import wait_for
from zenith_sandbox.scenario import Cluster, FaultRun, run_fault

pytestmark = pytest.mark.integration


def _check(run: FaultRun) -> None:
    print(
        f"\n{run.fault}: longest gap between acknowledged writes {run.max_gap:.2f}s,"
        f" Normal {run.normal}, acked {run.acked}, lost {len(run.lost)},"
        f" two writable {run.double_writable}, states {run.states}"
    )
    assert run.double_writable == 0, "two instances were writable at once"
    assert not run.lost, f"acknowledged writes lost: {sorted(run.lost)[:20]}"
    assert run.normal is not None


def _make_pod1_active(cluster: Cluster) -> None:
    pod1 = f"{cluster.name}-1"
    cluster.annotate(SWITCHOVER_ANNOTATION, pod1)
    wait_for(f"{pod1} active", lambda: cluster.status().get("activeInstance") == pod1, timeout=90)
    cluster.annotate(SWITCHOVER_ANNOTATION, None)
    cluster.wait_normal(timeout=90)


def test_scale_down_while_pod1_is_active_switches_over_first(
    make_cluster: Callable[..., Cluster],
) -> None:
    """replicas 2 -> 1 with NAME-1 active: switch over to NAME-0, then scale down."""
    cluster = make_cluster("pair")
    cluster.wait_normal(timeout=120)
    _make_pod1_active(cluster)
    run = run_fault(cluster, lambda _pod: cluster.patch_spec({"replicas": 1}), "replicas 2 -> 1")
    _check(run)
    assert run.new_active == f"{cluster.name}-0"
    wait_for("NAME-1 gone", lambda: list(cluster.pod_ips()) == [f"{cluster.name}-0"], 60)
    status = cluster.wait_normal(timeout=30)
    assert status.get("standbyInstance") is None
    assert run.max_gap is not None and run.max_gap < 10, run.max_gap


@pytest.mark.parametrize("port", ["agent", "listen", "replication"])
def test_port_change_is_refused(make_cluster: Callable[..., Cluster], port: str) -> None:
    cluster = make_cluster("pair")
    cluster.wait_normal(timeout=120)
    with pytest.raises(client.ApiException) as refused:
        cluster.patch_spec({"ports": {port: 40123}})
    assert refused.value.status == 422
    assert "ports are immutable" in str(refused.value.body)
    assert cluster.state() == "Normal"


@pytest.mark.parametrize("target", ["active", "unknown"])
def test_switchover_annotation_naming_no_standby_is_reported(
    make_cluster: Callable[..., Cluster], target: str
) -> None:
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    name = status["activeInstance"] if target == "active" else f"{cluster.name}-7"
    cluster.annotate(SWITCHOVER_ANNOTATION, name)
    message = wait_for(
        "the rejection in status.message",
        lambda: (m := cluster.status().get("message", "")) and "ignored" in m and m,
        timeout=30,
    )
    assert f"switchover-to {name} ignored" in message

    def rejected() -> bool:
        events = cluster.core.list_namespaced_event(cluster.namespace)
        return any(
            e.reason == "SwitchoverRejected" and e.involved_object.name == cluster.name
            for e in events.items
        )

    wait_for("a SwitchoverRejected Warning Event", rejected, timeout=30)
    cluster.annotate(SWITCHOVER_ANNOTATION, None)
    wait_for(
        "the message cleared",
        lambda: "ignored" not in cluster.status().get("message", ""),
        timeout=30,
    )
    assert cluster.status()["activeInstance"] == status["activeInstance"]
