"""A dbConfigMap edit is rolled out as the seed describes: the standby restarts first
with the new value, then a switchover makes it the active and the old active restarts
as the new standby, also with the new value. Writes continue; none acknowledged is lost.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import manifests, timeouts
from .conftest import E2E
from .environment import log
from .kube import cluster_status, wait_for
from .sql import db_now, postmaster_start, setting

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(timeouts.TEST)]

NAME = "rollout"
BEFORE = {**manifests.DEFAULT_SETTINGS, "max_connections": "100"}
AFTER = {**manifests.DEFAULT_SETTINGS, "max_connections": "150"}


def test_config_change_rolls_out_standby_first(e2e: E2E) -> None:
    kube, ns = e2e.kube, e2e.ns
    status = e2e.create_normal_cluster(NAME, settings=BEFORE)
    active, standby = status["activeInstance"], status["standbyInstance"]
    for pod in (active, standby):
        assert setting(kube, ns, pod, "max_connections") == "100"
    with e2e.observed(NAME) as obs:
        obs.writer.wait_acks(20)
        edited_at = db_now(kube, ns, active)
        kube.apply(manifests.db_config(NAME, AFTER), namespace=ns)

        def rolled_out() -> dict[str, Any] | None:
            st = cluster_status(kube, ns, NAME)
            if st.get("state") != "Normal" or st.get("activeInstance") != standby:
                return None
            if st.get("standbyInstance") != active:
                return None
            values = {setting(kube, ns, pod, "max_connections") for pod in (active, standby)}
            return st if values == {"150"} else None

        status = wait_for(
            rolled_out,
            timeouts.CONFIG_ROLLOUT,
            f"max_connections=150 on both instances of {NAME}, {standby} active",
        )
        log(f"{NAME}: states during the rollout {obs.watcher.states()}")
        standby_restart = postmaster_start(kube, ns, standby)
        active_restart = postmaster_start(kube, ns, active)
        assert edited_at < standby_restart < active_restart, (
            f"restart order: edit at {edited_at}, old standby {standby} at {standby_restart}, "
            f"old active {active} at {active_restart} (the standby must restart first)"
        )
        assert status.get("replicationMode") == "sync", status
        obs.writer.wait_acks(len(obs.writer.acked()))
        obs.monitor.assert_clean()
        obs.writer.check_no_loss(standby)
