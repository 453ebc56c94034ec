"""Both pods deleted at once: the cluster goes down (BothDown/ActiveDown), the
StatefulSet brings both back, the operator restores a pair with the data intact: the
instance that was ahead becomes the active, no acknowledged write is lost."""

from __future__ import annotations

import time

import pytest

from zenith_operator import naming

from . import timeouts
from .conftest import E2E
from .kube import wait_normal
from .sql import create_marker, has_marker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(timeouts.TEST)]

NAME = "both"


def test_both_pods_deleted(e2e: E2E) -> None:
    kube, ns = e2e.kube, e2e.ns
    status = e2e.create_normal_cluster(NAME)
    create_marker(kube, ns, status["activeInstance"], "before")
    with e2e.observed(NAME) as obs:
        obs.writer.wait_acks(20)
        fault = time.monotonic()
        kube(
            "delete",
            "pod",
            naming.pod_name(NAME, 0),
            naming.pod_name(NAME, 1),
            "--wait=false",
            namespace=ns,
        )
        obs.watcher.wait_seen(
            lambda s: s.state not in ("Normal", ""),
            timeouts.STATE_SEEN,
            f"{NAME} to leave Normal",
            after=fault,
        )
        acked = len(obs.writer.acked())
        status = wait_normal(kube, ns, NAME, timeouts.RECOVERY)
        obs.writer.wait_acks(acked)
        active = status["activeInstance"]
        assert has_marker(kube, ns, active, "before")
        assert status.get("replicationMode") == "sync", status
        obs.monitor.assert_clean()
        obs.writer.check_no_loss(active)
