"""A planned switchover, requested with the annotation
zenith.huawei.cloudb.com/switchover-to: <standby> (docs/states.md): the roles swap, the
old active becomes the in-sync standby; no acknowledged write lost, never two
writable."""

from __future__ import annotations

import time
from typing import Any

import pytest

from zenith_operator.ha import SWITCHOVER_ANNOTATION

from . import timeouts
from .conftest import E2E
from .kube import ZC, cluster_status, pods_with_role, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(timeouts.TEST)]

NAME = "switchover"


def test_switchover_swaps_roles(e2e: E2E) -> None:
    kube, ns = e2e.kube, e2e.ns
    status = e2e.create_normal_cluster(NAME)
    active, standby = status["activeInstance"], status["standbyInstance"]
    with e2e.observed(NAME) as obs:
        obs.writer.wait_acks(20)
        requested = time.monotonic()
        kube(
            "annotate", ZC, NAME, f"{SWITCHOVER_ANNOTATION}={standby}", "--overwrite", namespace=ns
        )
        obs.watcher.wait_seen(
            lambda s: s.state == "Switchover",
            timeouts.STATE_SEEN,
            f"{NAME} Switchover",
            after=requested,
        )

        def swapped() -> dict[str, Any] | None:
            st = cluster_status(kube, ns, NAME)
            done = (
                st.get("state") == "Normal"
                and st.get("activeInstance") == standby
                and st.get("standbyInstance") == active
                and st.get("replicationMode") == "sync"
            )
            return st if done else None

        wait_for(swapped, timeouts.SWITCHOVER, f"{standby} active and {active} in-sync standby")
        assert pods_with_role(kube, ns, NAME, "active") == [standby]
        assert pods_with_role(kube, ns, NAME, "standby") == [active]
        obs.writer.wait_acks(len(obs.writer.acked()))
        obs.monitor.assert_clean()
        obs.writer.check_no_loss(standby)
