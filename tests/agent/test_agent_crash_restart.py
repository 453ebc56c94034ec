"""A crashed database is restarted by its own agent at once (issue 17), on a real PostgreSQL.

The active with a live lease comes back writable after crash recovery without any
command from the operator; the standby comes back streaming; a database that keeps
crashing is restarted a bounded number of times, then left to the operator.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from agent_harness import Pod, streaming_in_sync, wait_for

from zenith_operator.agent.core import CRASH_RESTARTS

pytestmark = pytest.mark.integration


def writes(pod: Pod) -> bool:
    try:
        with psycopg.connect(pod.dsn(), autocommit=True, connect_timeout=1) as conn:
            conn.execute("INSERT INTO t VALUES (1)")
        return True
    except psycopg.Error:
        return False


def test_active_with_a_lease_restarts_its_crashed_database_writable(solo: Pod) -> None:
    solo.call("/v1/promote", {"lease_ttl": 60})
    with psycopg.connect(solo.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
    solo.kill_postmaster()
    killed = time.monotonic()
    wait_for("writes accepted again", lambda: writes(solo), timeout=20, interval=0.02)
    took = time.monotonic() - killed
    print(f"kill -9 of the active's postmaster -> writes again, no operator: {took:.2f}s")
    st = solo.status()
    assert (st["role"], st["database"], st["fenced"]) == ("active", "running", False)


def test_active_without_a_lease_restarts_read_only(solo: Pod) -> None:
    solo.call("/v1/promote", {"lease_ttl": 60})
    with psycopg.connect(solo.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
    solo.post("/v1/lease", {"ttl": 0.5})
    wait_for("fenced after the lease", lambda: solo.status()["fenced"], timeout=20)
    solo.kill_postmaster()
    wait_for("restarted", lambda: solo.status()["database"] == "running", timeout=20, interval=0.02)
    assert not writes(solo), "an active without a lease must come back read-only"
    assert solo.status()["fenced"] is True


def test_standby_restarts_streaming(pair: tuple[Pod, Pod]) -> None:
    a, b = pair
    b.kill_postmaster()
    wait_for("standby restarted", lambda: b.status()["database"] == "running", timeout=20)
    wait_for("standby streams in sync again", lambda: streaming_in_sync(a, "pair-1"), timeout=30)
    assert b.status()["role"] == "standby"


def test_a_database_that_keeps_crashing_is_left_to_the_operator(solo: Pod) -> None:
    solo.call("/v1/promote", {"lease_ttl": 120})
    for attempt in range(CRASH_RESTARTS):
        wait_for("running", lambda: solo.status()["database"] == "running", timeout=20)
        pid = solo.postmaster_pid()
        solo.kill_postmaster()
        wait_for(
            f"restart {attempt + 1}",
            lambda pid=pid: (
                solo.status()["database"] == "running"  # type: ignore[misc]
                and solo.postmaster_pid() != pid
            ),
            timeout=20,
            interval=0.02,
        )
    solo.kill_postmaster()
    wait_for("crash reported", lambda: solo.status()["database"] == "crashed", timeout=20)
    time.sleep(1.0)  # the agent's watcher ticks every 50 ms: it would have restarted by now
    assert solo.status()["database"] == "crashed"
    # the operator's start still works
    assert solo.call("/v1/start")["changed"] is True
    assert solo.status()["database"] == "running"
