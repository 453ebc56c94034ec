"""Lease and self-fencing on a real PostgreSQL: an active without a live lease never writes."""

from __future__ import annotations

import os
import signal
import time

import psycopg
import pytest
import requests
from agent_harness import Pod, shm_of, wait_for

pytestmark = pytest.mark.integration


def try_write(pod: Pod) -> bool:
    try:
        with psycopg.connect(pod.dsn(), autocommit=True) as conn:
            conn.execute("INSERT INTO t VALUES (1)")
        return True
    except psycopg.Error:
        return False


def can_read(pod: Pod) -> bool:
    with psycopg.connect(pod.dsn(), autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM t").fetchone() is not None


def test_lapsed_lease_fences_and_only_promote_lifts_it(solo: Pod) -> None:
    ttl = 2.0
    solo.call("/v1/promote", {"lease_ttl": 30})
    with psycopg.connect(solo.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
    # renewals keep it writable
    for _ in range(3):
        resp = solo.post("/v1/lease", {"ttl": ttl, "holder": "test"})
        assert resp.status_code == 200 and resp.json()["fenced"] is False
        assert try_write(solo)
    granted = time.monotonic()
    solo.post("/v1/lease", {"ttl": ttl})
    assert try_write(solo), "a write must be accepted while the lease is live"
    wait_for("writes rejected after the lease lapsed", lambda: not try_write(solo), timeout=ttl + 5)
    rejected = time.monotonic() - granted
    print(f"lease {ttl}s: writes rejected {rejected - ttl:+.2f}s after expiry")
    assert rejected >= ttl - 0.05  # not before the lease ran out (client-side bound)
    assert rejected < ttl + 3.0
    # `fenced` is reported once the database runs read-only again (not before)
    wait_for("fenced reported", lambda: solo.status()["fenced"], timeout=10)
    st = solo.status()
    assert (st["role"], st["fenced"], st["lease_remaining"]) == ("active", True, 0.0)
    wait_for("reads still served while fenced", lambda: can_read(solo))
    assert solo.get("/health?ready=1").status_code == 503
    # a new lease does not lift the fence
    resp = solo.post("/v1/lease", {"ttl": 30})
    assert resp.json()["fenced"] is True
    assert not try_write(solo)
    # promote does
    result = solo.call("/v1/promote", {"lease_ttl": 30})
    assert result["changed"] is True
    assert try_write(solo)
    st = solo.status()
    assert (st["fenced"], st["database"]) == (False, "running")
    assert st["lease_remaining"] > 25


def test_restarted_active_boots_fenced(solo: Pod) -> None:
    solo.call("/v1/promote", {"lease_ttl": 60})
    with psycopg.connect(solo.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
    assert solo.terminate() == 0  # SIGTERM: fast shutdown of the database, exit 0
    assert not solo.pg_pids()
    solo.start()
    wait_for("database back", lambda: solo.status()["database"] == "running")
    st = solo.status()
    assert (st["role"], st["fenced"], st["lease_remaining"]) == ("active", True, None)
    assert can_read(solo) and not try_write(solo)
    assert solo.call("/v1/promote", {"lease_ttl": 60})["changed"] is True
    assert try_write(solo)
    # promote on a writable active: a no-op success that renews the lease
    result = solo.call("/v1/promote", {"lease_ttl": 60})
    assert (result["changed"], result["status"]["role"]) == (False, "active")


def test_agent_death_takes_postgres_along(solo: Pod) -> None:
    """PR_SET_PDEATHSIG: SIGKILL of the agent alone (not its group) kills the postmaster;
    the next agent recovers the crashed data; a rebuild from an unreachable peer keeps it."""
    solo.call("/v1/promote", {"lease_ttl": 60})
    with psycopg.connect(solo.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (42)")
    assert solo.proc is not None
    solo.shm |= shm_of(solo.pg_pids())
    os.kill(solo.proc.pid, signal.SIGKILL)
    solo.proc.wait(10)
    wait_for("postgres gone with its agent", lambda: not solo.pg_pids(), timeout=10)
    solo.start()
    wait_for(
        "crash recovery, read-only, boot fence done",
        lambda: (st := solo.status())["database"] == "running" and st["busy"] is None,
    )
    assert solo.status()["fenced"] is True

    def rebuild() -> list[requests.Response]:  # the operator retries a 503 Busy
        resp = solo.post("/v1/rebuild", {"host": "127.0.0.9", "port": 1})
        return [] if resp.status_code == 503 else [resp]  # (a 500 Response is falsy)

    (resp,) = wait_for("rebuild not busy", rebuild)
    assert resp.status_code == 500 and "CHECKPOINT on 127.0.0.9:1" in resp.json()["message"]
    assert "CHECKPOINT" in solo.status()["last_error"]
    solo.call("/v1/promote", {"lease_ttl": 60})
    with psycopg.connect(solo.dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(42,)]


def test_a_hung_agent_still_fences_at_the_end_of_its_lease(solo: Pod) -> None:
    """SIGSTOP of the agent alone (its database runs on): the lease watchdog, a process
    of its own, kills the database when the lease ends; no liveness probe needed."""
    solo.call("/v1/promote", {"lease_ttl": 30})
    with psycopg.connect(solo.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
    ttl = 2.0
    solo.post("/v1/lease", {"ttl": ttl})
    ends = time.monotonic() + ttl
    assert solo.proc is not None
    os.kill(solo.proc.pid, signal.SIGSTOP)
    try:
        assert try_write(solo), "writable while the lease runs"
        wait_for("writes refused", lambda: not try_write(solo), timeout=ttl + 5)
        late = time.monotonic() - ends
        print(f"hung agent: writes refused {late:+.2f}s after the lease ended")
        assert late < 1.0
        wait_for("every database process killed", lambda: not solo.pg_pids(), timeout=3)
    finally:
        os.kill(solo.proc.pid, signal.SIGCONT)
    # the agent wakes up, fences (read-only), and only a promote opens writes again
    wait_for("fenced reported", lambda: solo.status()["fenced"], timeout=15)
    assert not try_write(solo)
    solo.call("/v1/promote", {"lease_ttl": 30})
    assert try_write(solo)
