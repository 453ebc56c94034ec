"""The standby is lost (pod deleted, node cordoned so it stays down): the cluster reports
StandbyDown, the active drops to asynchronous replication and keeps acknowledging
writes; when the standby returns it catches up and the pair is Normal and synchronous
again, with the same active (losing a standby is no reason to fail over)."""

from __future__ import annotations

import time

import pytest

from . import timeouts
from .conftest import E2E
from .kube import pods_with_role, wait_normal

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(timeouts.TEST)]

NAME = "standby"


def test_standby_down_then_back(e2e: E2E) -> None:
    kube, ns = e2e.kube, e2e.ns
    status = e2e.create_normal_cluster(NAME)
    active, standby = status["activeInstance"], status["standbyInstance"]
    with e2e.observed(NAME) as obs:
        obs.writer.wait_acks(20)
        with e2e.node_cordoned(e2e.node_of(standby)):
            fault = time.monotonic()
            e2e.delete_pod(standby)
            down = obs.watcher.wait_seen(
                lambda s: (
                    s.state == "StandbyDown"
                    and (s.replication_mode == "async" or s.replication_degraded)
                ),
                timeouts.STATE_SEEN,
                f"{NAME} StandbyDown with async replication",
                after=fault,
            )
            assert down.active == active, down
            # the active keeps serving while its standby is gone
            acked = len(obs.writer.acked())
            obs.writer.wait_acks(acked + 20)
            assert obs.watcher.snapshots()[-1].state == "StandbyDown", obs.watcher.states()
        status = wait_normal(kube, ns, NAME, timeouts.RECOVERY)
        assert status["activeInstance"] == active, status
        assert status["standbyInstance"] == standby, status
        assert status.get("replicationMode") == "sync", status
        assert not status.get("replicationDegraded"), status
        assert pods_with_role(kube, ns, NAME, "active") == [active]
        obs.monitor.assert_clean()
        obs.writer.check_no_loss(active)
