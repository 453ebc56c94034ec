"""A real active/standby pair driven through the agent API: replication, failover,
rewind and planned switchover, with no acknowledged write lost."""

from __future__ import annotations

import time

import psycopg
import pytest
from agent_harness import Pod, pods, streaming_in_sync, wait_for
from agent_writer import Writer

pytestmark = pytest.mark.integration


def ids_on(pod: Pod) -> set[int]:
    with psycopg.connect(pod.dsn(), autocommit=True) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM acks").fetchall()}


def make_table(pod: Pod) -> None:
    with psycopg.connect(pod.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE acks (id int PRIMARY KEY)")


def test_pair_replicates(pair: tuple[Pod, Pod]) -> None:
    a, b = pair
    make_table(a)
    with psycopg.connect(a.dsn(), autocommit=True) as conn:
        conn.execute("INSERT INTO acks VALUES (1)")
    wait_for("row on the standby", lambda: ids_on(b) == {1})
    sa, sb = a.status(), b.status()
    assert (sa["role"], sa["database"], sa["fenced"]) == ("active", "running", False)
    assert sa["replication"]["mode"] == "sync"
    assert sa["replication"]["sync_standby"] == "pair-1"
    assert (sb["role"], sb["replication"]["upstream_host"]) == ("standby", a.ip)
    assert sb["replication"]["receiving"] is True
    assert sa["timeline"] == sb["timeline"] == 1
    # the app user and database exist
    with psycopg.connect(a.dsn("app", "app-pw", "app"), autocommit=True) as conn:
        conn.execute("CREATE TABLE mine (x int)")
    # a standby rejects writes
    with psycopg.connect(b.dsn(), autocommit=True) as conn, pytest.raises(psycopg.Error):
        conn.execute("INSERT INTO acks VALUES (2)")
    # readiness follows the role
    assert a.get("/health?ready=1").json()["ready"] is True
    assert b.get("/health?ready=1").json()["ready"] is True


def test_failover_then_rewind(pair: tuple[Pod, Pod]) -> None:
    a, b = pair
    make_table(a)
    active = {"pod": a}
    writer = Writer(lambda: active["pod"].dsn())
    writer.start()
    writer.wait_acked(200)
    # the operator renews with a short lease and, once the active's database has died
    # and stays down, promotes the standby only after that lease has run out (the agent
    # restarts a crashed database on its own while its lease lasts)
    a.post("/v1/lease", {"ttl": 1.0})
    a.kill_postmaster()  # the active's database dies mid-write
    killed = time.monotonic()
    wait_for("old active fenced after its lease", lambda: a.status()["fenced"])
    result = b.call("/v1/promote", {"lease_ttl": 60})
    assert result["changed"] is True
    active["pod"] = b
    writer.wait_acked(50)
    took = time.monotonic() - killed
    print(f"kill -9, lease 1 s -> promoted standby accepts writes: {took:.2f}s")
    acked = writer.finish()
    missing = set(acked) - ids_on(b)
    assert not missing, f"{len(missing)} acknowledged ids lost, e.g. {sorted(missing)[:5]}"
    sb = b.status()
    assert (sb["role"], sb["fenced"], sb["timeline"]) == ("active", False, 2)
    assert sb["replication"]["mode"] == "async"  # a promote always starts async

    started = time.monotonic()
    result = a.call("/v1/rebuild", b.address())
    print(f"rebuild: {result['message']} (call {time.monotonic() - started:.2f}s)")
    assert "rewind" in result["message"]
    b.call("/v1/replication", {"mode": "sync", "standby_name": "pair-0"})
    wait_for("old active streams from the new one", lambda: streaming_in_sync(b, "pair-0"))
    with psycopg.connect(b.dsn(), autocommit=True) as conn:
        conn.execute("INSERT INTO acks VALUES (-1)")
    wait_for("write replicated to the rebuilt standby", lambda: -1 in ids_on(a))
    sa = a.status()
    assert (sa["role"], sa["timeline"], sa["replication"]["receiving"]) == ("standby", 2, True)


def test_planned_switchover(pair: tuple[Pod, Pod]) -> None:
    a, b = pair
    make_table(a)
    active = {"pod": a}
    writer = Writer(lambda: active["pod"].dsn())
    writer.start()
    writer.wait_acked(100)
    started = time.monotonic()
    a.call("/v1/stop")  # clean shutdown: every WAL record reaches the sync standby
    b.call("/v1/promote", {"lease_ttl": 60})
    active["pod"] = b
    writer.wait_acked(20)
    print(f"switchover: writes moved in {time.monotonic() - started:.2f}s")
    a.call("/v1/follow", b.address())
    b.call("/v1/replication", {"mode": "sync", "standby_name": "pair-0"})
    wait_for("old active follows in sync", lambda: streaming_in_sync(b, "pair-0"))
    writer.wait_acked(20)
    acked = writer.finish()
    assert not set(acked) - ids_on(b)
    wait_for("all acknowledged ids on the new standby", lambda: set(acked) <= ids_on(a))
    assert a.status()["timeline"] == b.status()["timeline"] == 2


def test_rebuild_falls_back_to_clone(need_pg: None) -> None:
    """Two unrelated databases: pg_rewind refuses, so rebuild clones with pg_basebackup."""
    with pods(("pair-0", "127.0.0.2"), ("pair-1", "127.0.0.3")) as (a, b):
        a.start()
        b.start()
        a.call("/v1/promote", {"lease_ttl": 60})
        b.call("/v1/promote", {"lease_ttl": 60})
        make_table(a)
        b.call("/v1/stop")  # b is writable: stop it first (a rebuild of a live active is a 409)
        result = b.call("/v1/rebuild", a.address())
        assert "clone" in result["message"], result["message"]
        wait_for("clone streams", lambda: b.status()["replication"]["receiving"])
        assert ids_on(b) == set()
        # a standby restarted by its pod resumes following its upstream
        assert b.terminate() == 0
        b.start()
        wait_for("standby resumes streaming", lambda: b.status()["replication"]["receiving"])
        assert b.status()["role"] == "standby"


def test_sync_standby_lost_then_async_releases_commits(pair: tuple[Pod, Pod]) -> None:
    """With the only sync standby gone every commit waits; switching to async (what the
    operator does in StandbyDown) releases the waiting commits and keeps writes flowing."""
    a, b = pair
    make_table(a)
    writer = Writer(lambda: a.dsn())
    writer.start()
    writer.wait_acked(50)
    b.kill()  # the standby's pod dies
    wait_for("active sees no standby", lambda: not a.status()["replication"]["peers"])
    stalled = len(writer.acked)
    with pytest.raises(AssertionError):
        writer.wait_acked(1, timeout=0.5)  # commits are blocked waiting for the standby
    assert len(writer.acked) <= stalled + 1
    result = a.call("/v1/replication", {"mode": "async"})
    assert result["changed"] is True
    assert result["status"]["replication"]["mode"] == "async"
    writer.wait_acked(50)
    acked = writer.finish()
    assert set(acked) <= ids_on(a)
