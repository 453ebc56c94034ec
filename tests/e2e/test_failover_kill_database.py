"""kill -9 of the active's database: the cluster heals with no acknowledged write lost.

docs/states.md decides how: an agent that answers with its database crashed gets the
database restarted in place first; if it does not serve again within
unreachableTimeout, the in-sync standby is promoted. Both are accepted here; what must
hold either way: Normal again, zero acknowledged writes lost, never two writable.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import timeouts
from .conftest import E2E
from .environment import log
from .kube import cluster_status, wait_for
from .sql import db_now, kill_postmaster, postmaster_start

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(timeouts.TEST)]

NAME = "crash"


def test_kill_active_database(e2e: E2E) -> None:
    kube, ns = e2e.kube, e2e.ns
    status = e2e.create_normal_cluster(NAME)
    old_active, old_standby = status["activeInstance"], status["standbyInstance"]
    with e2e.observed(NAME) as obs:
        obs.writer.wait_acks(20)
        killed_at = db_now(kube, ns, old_active)
        kill_postmaster(kube, ns, old_active)
        acked_at_kill = len(obs.writer.acked())

        def healed() -> dict[str, Any] | None:
            st = cluster_status(kube, ns, NAME)
            if st.get("state") != "Normal" or not st.get("standbyInstance"):
                return None
            if st["activeInstance"] == old_standby:
                return st  # failed over
            restarted = postmaster_start(kube, ns, st["activeInstance"]) > killed_at
            return st if restarted else None

        status = wait_for(
            healed,
            timeouts.RECOVERY,
            f"{NAME} Normal again after kill -9 of {old_active}'s database",
        )
        obs.writer.wait_acks(acked_at_kill)
        obs.monitor.assert_clean()
        new_active = status["activeInstance"]
        how = "failover" if new_active == old_standby else "restart in place"
        log(f"{NAME}: healed by {how}; states {obs.watcher.states()}")
        assert {new_active, status["standbyInstance"]} == {old_active, old_standby}
        obs.writer.check_no_loss(new_active)
