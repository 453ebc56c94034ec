"""The operator pod is deleted in the middle of a failover (the active lost, the cluster
ActiveDown or already failing over): the replacement operator resumes from the status
and finishes the failover. No acknowledged write lost, never two writable."""

from __future__ import annotations

import time

import pytest

from . import timeouts
from .conftest import E2E
from .environment import log
from .kube import pod_ready, wait_for, wait_normal

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(timeouts.TEST)]

NAME = "restart"
# a longer unreachableTimeout keeps the cluster down long enough to restart the operator
UNREACHABLE_TIMEOUT = 20


def test_operator_restarted_mid_failover(e2e: E2E) -> None:
    kube, ns, env = e2e.kube, e2e.ns, e2e.env
    status = e2e.create_normal_cluster(NAME, unreachable_timeout=UNREACHABLE_TIMEOUT)
    old_active, old_standby = status["activeInstance"], status["standbyInstance"]
    operators = {p["metadata"]["uid"] for p in env.operator_pods()}
    with e2e.observed(NAME) as obs:
        obs.writer.wait_acks(20)
        with e2e.node_cordoned(e2e.node_of(old_active)):
            fault = time.monotonic()
            e2e.delete_pod(old_active)
            seen = obs.watcher.wait_seen(
                lambda s: s.state in ("ActiveDown", "Failover"),
                timeouts.STATE_SEEN + UNREACHABLE_TIMEOUT,
                f"{NAME} ActiveDown",
                after=fault,
            )
            kube(
                "delete",
                "pod",
                "--selector",
                env.operator_selector(),
                "--wait=false",
                namespace=env.operator_namespace,
            )
            log(f"{NAME}: operator deleted while {seen.state}")

            def replaced() -> bool:
                pods = env.operator_pods()
                return any(p["metadata"]["uid"] not in operators and pod_ready(p) for p in pods)

            wait_for(replaced, timeouts.OPERATOR_AVAILABLE, "a new operator pod Ready")
            obs.watcher.wait_seen(
                lambda s: s.active == old_standby and s.state != "Failover",
                timeouts.FAILOVER,
                f"{old_standby} promoted",
                after=fault,
            )
            obs.writer.wait_acks(len(obs.writer.acked()))
        status = wait_normal(kube, ns, NAME, timeouts.RECOVERY)
        assert status["activeInstance"] == old_standby, status
        assert status["standbyInstance"] == old_active, status
        obs.monitor.assert_clean()
        obs.writer.check_no_loss(old_standby)
