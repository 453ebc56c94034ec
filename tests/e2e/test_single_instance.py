"""replicas: 1: a single instance reaches Normal as the active, serves writes through
NAME-rw, and comes back with its data after its pod is deleted."""

from __future__ import annotations

import time

import pytest

from zenith_operator import naming

from . import timeouts
from .conftest import E2E
from .kube import pods_with_role, wait_normal
from .sql import create_marker, has_marker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(timeouts.TEST)]

NAME = "single"


def test_single_instance(e2e: E2E) -> None:
    kube, ns = e2e.kube, e2e.ns
    status = e2e.create_normal_cluster(NAME, replicas=1)
    only = naming.pod_name(NAME, 0)
    assert status["activeInstance"] == only
    assert not status.get("standbyInstance"), status
    assert kube.get("statefulset", NAME, namespace=ns)["spec"]["replicas"] == 1
    assert pods_with_role(kube, ns, NAME, "active") == [only]
    create_marker(kube, ns, only, "single")
    with e2e.observed(NAME) as obs:
        obs.writer.wait_acks(20)
        fault = time.monotonic()
        e2e.delete_pod(only)
        obs.watcher.wait_seen(
            lambda s: s.state not in ("Normal", ""),
            timeouts.STATE_SEEN,
            f"{NAME} to leave Normal",
            after=fault,
        )
        acked = len(obs.writer.acked())
        status = wait_normal(kube, ns, NAME, timeouts.RECOVERY, replicas=1)
        assert status["activeInstance"] == only
        obs.writer.wait_acks(acked)
        assert has_marker(kube, ns, only, "single")
        obs.monitor.assert_clean()
        obs.writer.check_no_loss(only)
