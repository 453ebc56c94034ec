"""Which replication slots an agent keeps (agent/engines/postgres/slotplan.py)."""

from __future__ import annotations

from zenith_operator.agent.engines.postgres.slotplan import (
    Slot,
    primary_slot_plan,
    slot_keep_mb,
    slot_name,
    standby_slot_drops,
)


def test_slot_name_is_a_valid_identifier() -> None:
    assert slot_name("pair-1") == "zenith_pair_1"
    assert slot_name("My.Pod-0") == "zenith_my_pod_0"
    assert len(slot_name("x" * 100)) == 63


def test_active_creates_a_slot_for_each_streaming_peer() -> None:
    assert primary_slot_plan("pg-0", [], ["pg-1"]) == (["zenith_pg_1"], [])
    existing = [Slot("zenith_pg_1", True, False)]
    assert primary_slot_plan("pg-0", existing, ["pg-1"]) == ([], [])


def test_active_keeps_a_stopped_peers_slot_and_drops_stale_ones() -> None:
    slots = [
        Slot("zenith_pg_1", False, False),  # the peer is down: kept (bounded by the size)
        Slot("zenith_pg_0", False, False),  # named for itself: from a former life
        Slot("zenith_pg_2", False, True),  # lost: useless
        Slot("other_tool", False, False),  # not ours
    ]
    assert primary_slot_plan("pg-0", slots, []) == ([], ["zenith_pg_0", "zenith_pg_2"])


def test_lost_slot_of_a_streaming_peer_is_recreated() -> None:
    slots = [Slot("zenith_pg_1", False, True)]
    assert primary_slot_plan("pg-0", slots, ["pg-1"]) == (["zenith_pg_1"], ["zenith_pg_1"])


def test_standby_drops_its_inactive_slots_only() -> None:
    slots = [
        Slot("zenith_pg_1", False, False),
        Slot("zenith_x", True, False),
        Slot("a", False, False),
    ]
    assert standby_slot_drops(slots) == ["zenith_pg_1"]


def test_slot_keep_is_a_quarter_of_the_volume() -> None:
    assert slot_keep_mb(1024**3) == 256
    assert slot_keep_mb(10 * 1024**3) == 2560
    assert slot_keep_mb(1024**2) == 64
