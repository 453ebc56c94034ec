"""Deterministic scenarios on the simulated cluster (see sim.py)."""

from __future__ import annotations

from sim import Sim

from zenith_operator.ha.model import Promote, Rebuild, SetReplication
from zenith_operator.ha.states import FailoverPolicy, State


def _states(sim: Sim, steps: int) -> list[State]:
    return [sim.step().state for _ in range(steps)]


def test_pair_initialises_to_normal_in_sync() -> None:
    sim = Sim()
    assert sim.run_until_normal(20), "\n".join(sim.log)
    assert sim.status.active_instance == "c-0"
    assert sim.status.replication_mode == "sync"
    assert not sim.status.replication_degraded
    assert sim.acked, "the client could write"


def test_single_initialises_to_normal() -> None:
    sim = Sim(replicas=1)
    assert sim.run_until_normal(5), "\n".join(sim.log)


def test_failover_after_active_crash_loses_no_acknowledged_write() -> None:
    sim = Sim()
    assert sim.run_until_normal(20)
    sim.crash(0)
    seen = _states(sim, 15)
    assert State.FAILOVER in seen, "\n".join(sim.log)
    assert sim.status.active_instance == "c-1"
    assert all(w in sim.node("c-1").data for w in sim.acked)
    sim.restart(0)
    assert sim.run_until_normal(30), "\n".join(sim.log)
    assert sim.status.standby_instance == "c-0"
    assert all(w in sim.active_data() for w in sim.acked)


def test_partitioned_active_is_fenced_before_the_standby_is_promoted() -> None:
    sim = Sim()
    assert sim.run_until_normal(20)
    sim.partition(0)  # the active still runs: only its lease stops it
    promoted_at = None
    for _ in range(20):
        d = sim.step()
        if any(isinstance(a, Promote) and a.pod == "c-1" for a in d.actions):
            promoted_at = sim.now
            break
    assert promoted_at is not None, "\n".join(sim.log)
    assert sim.node("c-0").fenced
    sim.heal(0)
    assert sim.run_until_normal(30), "\n".join(sim.log)
    assert sim.status.active_instance == "c-1"


def test_standby_loss_goes_async_then_back_to_sync() -> None:
    sim = Sim()
    assert sim.run_until_normal(20)
    sim.crash(1)
    d = sim.step()
    assert SetReplication("c-0", "async", None) in d.actions
    standby = d.status.instance("c-1")
    assert standby is not None
    assert d.status.replication_degraded and not standby.in_sync
    acked = len(sim.acked)
    _states(sim, 6)
    assert len(sim.acked) > acked, "the active keeps serving while the standby is down"
    assert sim.status.state == State.STANDBY_DOWN
    sim.restart(1)
    assert sim.run_until_normal(20), "\n".join(sim.log)
    assert not sim.status.replication_degraded


def test_both_down_and_only_the_stale_standby_returns_waits() -> None:
    sim = Sim()
    assert sim.run_until_normal(20)
    sim.crash(1)
    _states(sim, 8)  # standby out of sync, active async
    sim.crash(0)
    _states(sim, 10)
    sim.restart(1)
    states = _states(sim, 20)
    assert State.FAILOVER not in states, "\n".join(sim.log)
    assert sim.status.active_instance == "c-0"
    sim.restart(0)
    assert sim.run_until_normal(30), "\n".join(sim.log)
    assert sim.status.active_instance == "c-0"
    assert all(w in sim.active_data() for w in sim.acked)


def test_availability_policy_promotes_a_stale_standby() -> None:
    sim = Sim(policy=FailoverPolicy.AVAILABILITY)
    assert sim.run_until_normal(20)
    sim.crash(1)
    _states(sim, 8)
    sim.crash(0)
    _states(sim, 8)
    sim.restart(1)
    _states(sim, 10)
    assert sim.status.active_instance == "c-1", "\n".join(sim.log)


def test_operator_restart_in_the_middle_of_a_failover() -> None:
    sim = Sim()
    assert sim.run_until_normal(20)
    sim.crash(0)
    while sim.step().state != State.FAILOVER:
        pass
    sim.restart_operator()
    _states(sim, 15)
    assert sim.status.active_instance == "c-1", "\n".join(sim.log)
    sim.restart(0)
    assert sim.run_until_normal(30), "\n".join(sim.log)
    rebuilt = [line for line in sim.log if "rebuilding" in line]
    assert rebuilt


def test_steady_state_writes_nothing() -> None:
    sim = Sim()
    assert sim.run_until_normal(20)
    sim.step()
    before = sim.persisted
    for _ in range(10):
        sim.step()
    assert sim.persisted is before


def test_rebuild_is_not_repeated_every_poll() -> None:
    sim = Sim()
    assert sim.run_until_normal(20)
    sim.crash(0)
    _states(sim, 12)
    sim.partition(0)
    sim.restart(0)
    rebuilds = 0
    for _ in range(8):
        d = sim.step()
        rebuilds += sum(isinstance(a, Rebuild) for a in d.actions)
    assert rebuilds == 0  # unreachable: nothing to send
    sim.heal(0)
    assert sim.run_until_normal(20), "\n".join(sim.log)
