"""The active's pod is deleted and cannot come back (its node is cordoned, its local
volume lives there): the in-sync standby is promoted, writes resume through NAME-rw,
and when the node returns the old active rejoins as the standby. No acknowledged
write is lost, never two writable."""

from __future__ import annotations

import time

import pytest

from . import timeouts
from .conftest import E2E
from .kube import pods_with_role, wait_for, wait_normal

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(timeouts.TEST)]

NAME = "failover"


def pod_phase(e2e: E2E, pod: str) -> str | None:
    obj = e2e.kube.get_or_none("pod", pod, namespace=e2e.ns)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return None
    phase: str | None = obj["status"].get("phase")
    return phase


def test_delete_active_pod_fails_over(e2e: E2E) -> None:
    kube, ns = e2e.kube, e2e.ns
    status = e2e.create_normal_cluster(NAME)
    old_active, old_standby = status["activeInstance"], status["standbyInstance"]
    with e2e.observed(NAME) as obs:
        obs.writer.wait_acks(20)
        with e2e.node_cordoned(e2e.node_of(old_active)):
            fault = time.monotonic()
            e2e.delete_pod(old_active)
            obs.watcher.wait_seen(
                lambda s: s.state == "ActiveDown",
                timeouts.STATE_SEEN,
                f"{NAME} ActiveDown",
                after=fault,
            )
            obs.watcher.wait_seen(
                lambda s: s.active == old_standby,
                timeouts.FAILOVER,
                f"{old_standby} promoted",
                after=fault,
            )
            wait_for(
                lambda: pods_with_role(kube, ns, NAME, "active") == [old_standby],
                timeouts.FAILOVER,
                f"{old_standby} labelled active",
            )
            acked = len(obs.writer.acked())
            obs.writer.wait_acks(acked)  # writes flow through NAME-rw to the new active
            # the instance really is held down: its pod was recreated and cannot schedule
            wait_for(
                lambda: pod_phase(e2e, old_active) == "Pending",
                timeouts.FAILOVER,
                f"{old_active} recreated and Pending on the cordoned node",
            )
        status = wait_normal(kube, ns, NAME, timeouts.RECOVERY)
        assert status["activeInstance"] == old_standby, status
        assert status["standbyInstance"] == old_active, status
        assert status.get("replicationMode") == "sync", status
        assert pods_with_role(kube, ns, NAME, "standby") == [old_active]
        obs.monitor.assert_clean()
        obs.writer.check_no_loss(old_standby)
