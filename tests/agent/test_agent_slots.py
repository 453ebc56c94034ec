"""Replication slots for the peer (issue 12 item 5): the active's agent creates one for
its streaming standby, the standby streams through it, a switchover moves it to the new
active, stale ones are dropped, and max_slot_wal_keep_size bounds it."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from agent_harness import Pod, streaming_in_sync, wait_for

pytestmark = pytest.mark.integration


def slots(pod: Pod) -> dict[str, tuple[bool, Any]]:
    with psycopg.connect(pod.dsn(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT slot_name, active, restart_lsn FROM pg_replication_slots"
        ).fetchall()
    return {str(r[0]): (bool(r[1]), r[2]) for r in rows}


def in_use(pod: Pod, slot: str) -> bool:
    found = slots(pod).get(slot)
    return found is not None and found[0]


def test_slot_follows_the_active_and_keeps_wal_for_a_stopped_standby(
    pair: tuple[Pod, Pod],
) -> None:
    a, b = pair
    wait_for("pair-1 streams through its slot on pair-0", lambda: in_use(a, "zenith_pair_1"))
    with psycopg.connect(a.dsn(), autocommit=True) as conn:
        keep = conn.execute("SHOW max_slot_wal_keep_size").fetchone()
    assert keep is not None and keep[0] != "-1", keep  # bounded
    # a stopped standby's slot stays and holds its position
    b.call("/v1/stop")
    wait_for("slot inactive", lambda: not in_use(a, "zenith_pair_1"))
    held = slots(a)["zenith_pair_1"][1]
    a.call("/v1/lease", {"ttl": 60})  # the fixture's lease may be nearly spent
    with psycopg.connect(a.dsn(), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = local")  # its sync standby is stopped
        conn.execute("CREATE TABLE t AS SELECT generate_series(1, 20000) AS x")
        conn.execute("SELECT pg_switch_wal()")
        conn.execute("CHECKPOINT")
    assert slots(a)["zenith_pair_1"][1] == held  # WAL kept for pair-1
    b.call("/v1/start")
    wait_for("pair-1 back through its slot", lambda: in_use(a, "zenith_pair_1"))
    wait_for("in sync", lambda: streaming_in_sync(a, "pair-1"))

    # switchover: the new active makes a slot for the former one, stale ones go
    a.call("/v1/lease", {"ttl": 60})
    a.call("/v1/stop")
    b.call("/v1/promote", {"lease_ttl": 60})
    a.call("/v1/follow", b.address())
    b.call("/v1/replication", {"mode": "sync", "standby_name": "pair-0"})
    wait_for("pair-0 streams through its slot on pair-1", lambda: in_use(b, "zenith_pair_0"))
    wait_for("the old slot left on pair-0 is dropped", lambda: "zenith_pair_1" not in slots(a))
    assert set(slots(b)) == {"zenith_pair_0"}
    wait_for("in sync after the switchover", lambda: streaming_in_sync(b, "pair-0"))


def test_after_a_failover_the_new_active_makes_the_slot_and_the_old_one_is_dropped(
    pair: tuple[Pod, Pod],
) -> None:
    a, b = pair
    wait_for("pair-1 streams through its slot on pair-0", lambda: in_use(a, "zenith_pair_1"))
    # the active dies with a short lease (the operator promotes the standby only once
    # that lease is over: until then the agent restarts its crashed database itself);
    # its slot for pair-1 stays in its data
    a.post("/v1/lease", {"ttl": 1.0})
    a.kill_postmaster()
    wait_for("old active fenced after its lease", lambda: a.status()["fenced"])
    b.call("/v1/promote", {"lease_ttl": 60})
    b.call("/v1/lease", {"ttl": 60})
    a.call("/v1/rebuild", b.address())  # pg_rewind does not copy pg_replslot
    b.call("/v1/replication", {"mode": "sync", "standby_name": "pair-0"})
    wait_for("pair-0 streams through its slot on pair-1", lambda: in_use(b, "zenith_pair_0"))
    wait_for("the stale slot on pair-0 is dropped", lambda: "zenith_pair_1" not in slots(a))
    assert set(slots(b)) == {"zenith_pair_0"}
    wait_for("in sync after the failover", lambda: streaming_in_sync(b, "pair-0"))
