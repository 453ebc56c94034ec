"""Property tests: random failures, recoveries, slow commands and live timer edits on
the simulated cluster (sim.py).

Asserted for every sequence:
- at no instant two writable instances, counting a start or promote in flight that
  will open writes; never a promotion while another instance may write (the model
  raises SafetyViolation);
- under ZeroDataLoss, never promote an instance lacking an acknowledged write, and no
  acknowledged write is lost at the end;
- once failures stop, the cluster is back to Normal within a bounded number of polls.

CI runs them derandomized (tests/conftest.py); `make test-deep` draws fresh examples,
`scaled()` times more. Every counterexample ever found stays here as an @example.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sim import TIMERS, Sim

from zenith_operator.ha.model import Event, Promote, RenewLease
from zenith_operator.ha.states import FailoverPolicy, State

FAULTS = [
    "crash",
    "crash_db",
    "restart",
    "delete_pod",
    "partition",
    "heal",
    "freeze_agent",
    "slow",
    "timers",
    "agent_port",
    "operator",
    "late_write",
    "wait",
]
ROLLOUT_FAULTS = [*FAULTS, "change_config"]
RECOVERY_POLLS = 120
WAITS = [-1, 0, 1, 2, 3, 5, 8, 12]  # polls after the fault, minus one


def scaled(n: int) -> int:
    """Examples per property: `make test-deep` sets ZENITH_HYPOTHESIS_SCALE (>= 20)."""
    return n * int(os.environ.get("ZENITH_HYPOTHESIS_SCALE", "1"))


fault = st.tuples(st.sampled_from(FAULTS), st.integers(0, 7), st.sampled_from(WAITS))

# Sequences known to matter, always tried first.
STALE_STANDBY_ALONE = [("crash", 1, 2), ("crash", 0, 0), ("restart", 1, 10)]
PARTITIONED_ACTIVE = [("partition", 0, 12)]
RESTART_DURING_FAILOVER = [("crash", 0, 5), ("operator", 0, 8)]
STALE_THEN_RESTART = [("crash", 1, 3), ("crash", 0, 1), ("operator", 0, 0), ("restart", 1, 12)]
# Issue 9.1: the former active promoted again (async) in BothDown took writes without the
# standby, crashed, and the "in-sync" standby was promoted without them.
PROMOTED_AGAIN_ASYNC = [
    ("change_config", 0, 5),
    ("crash", 1, 5),
    ("crash", 0, 0),
    ("restart", 1, 0),
    ("crash", 0, 3),
]
# Issue 9.2: unreachableTimeout lowered live, then the active's agent hangs (its pod
# keeps the slow liveness probe) or is cut off (it holds a lease with the old TTL).
# (The pods of these examples were created with unreachableTimeout 30: `timers=1`.)
TIMEOUT_LOWERED_THEN_FROZEN = [("timers", 0, 2), ("freeze_agent", 0, 40)]
TIMEOUT_LOWERED_THEN_CUT_OFF = [("timers", 0, -1), ("partition", 0, 40)]
# Issue 9.3: the active's database crashes; the Start sent to it runs long (crash
# recovery) while its lease lapses.
START_IN_FLIGHT = [("slow", 4, 0), ("crash_db", 0, 30)]
# Found by `make test-deep`: the active cut off, then its agent hangs while its lease
# still runs (timers=1, 30 s): only the lease watchdog stops its database in time.
# Found by `make test-deep`: the active restarted in place and the standby promoted in
# one cycle (a failover decided in the cycle that sends the active a start).
RESTARTED_AND_FAILED_OVER_AT_ONCE = [
    ("crash", 0, 0),
    ("crash", 0, 0),
    ("crash", 1, 8),
    ("partition", 1, 0),
    ("timers", 1, 0),
    ("crash_db", 0, 0),
    ("timers", 0, 0),
    ("crash", 1, 2),
]
CUT_OFF_THEN_HUNG = [
    ("partition", 0, 8),
    ("crash", 1, 12),
    ("freeze_agent", 0, -1),
    ("restart", 1, 8),
]


start_timers = st.integers(0, len(TIMERS) - 1)


def _sim(timers: int, **kw: Any) -> Sim:
    """A simulation whose pods are created with TIMERS[timers]."""
    interval, timeout = TIMERS[timers]
    return Sim(interval=interval, timeout=timeout, **kw)


def _apply(sim: Sim, kind: str, i: int) -> None:
    """`i` picks the instance (i % 2), the timers (TIMERS[i % 4]) or, for "slow", the
    instance and how long its next command takes."""
    node = (i % 2) % len(sim.nodes)
    if kind == "operator":
        sim.restart_operator()
    elif kind == "timers":
        sim.set_timers(i)
    elif kind == "agent_port":
        sim.change_agent_port()
    elif kind == "slow":
        sim.slow(node, [3.0, 8.0, 20.0, 60.0][(i // 2) % 4])
    elif kind != "wait":
        getattr(sim, kind)(node)


def _one_active_told(sim: Sim) -> None:
    d = sim.decision
    assert d is not None
    told = {a.pod for a in d.actions if isinstance(a, Promote | RenewLease)}
    assert len(told) <= 1, (told, sim.log[-5:])


def _run(sim: Sim, faults: list[tuple[str, int, int]]) -> None:
    sim.run_until_normal(20)
    for kind, i, wait in faults:
        _apply(sim, kind, i)
        for _ in range(wait + 1):
            sim.step()
            _one_active_told(sim)
    sim.heal_all()
    back = sim.run_until_normal(RECOVERY_POLLS)
    assert back, "no Normal after failures stopped:\n" + "\n".join(sim.log[-40:])


@settings(max_examples=scaled(300))
@given(st.lists(fault, max_size=12), start_timers)
@example(STALE_STANDBY_ALONE, 0)
@example(PARTITIONED_ACTIVE, 0)
@example(RESTART_DURING_FAILOVER, 0)
@example(STALE_THEN_RESTART, 0)
@example(TIMEOUT_LOWERED_THEN_FROZEN, 1)
@example(TIMEOUT_LOWERED_THEN_CUT_OFF, 1)
@example(START_IN_FLIGHT, 0)
@example(CUT_OFF_THEN_HUNG, 1)
def test_pair_zero_data_loss(faults: list[tuple[str, int, int]], timers: int) -> None:
    sim = _sim(timers)
    _run(sim, faults)
    lost = [w for w in sim.acked if w not in sim.active_data()]
    assert not lost, f"acknowledged writes lost: {lost[:5]}\n" + "\n".join(sim.log[-40:])
    assert sim.status.state == State.NORMAL
    assert not sim.status.replication_degraded


@settings(max_examples=scaled(150))
@given(st.lists(fault, max_size=12), start_timers)
@example(STALE_STANDBY_ALONE, 0)
@example(PARTITIONED_ACTIVE, 0)
@example(TIMEOUT_LOWERED_THEN_FROZEN, 1)
@example(START_IN_FLIGHT, 0)
def test_pair_availability_never_two_actives(
    faults: list[tuple[str, int, int]], timers: int
) -> None:
    sim = _sim(timers, policy=FailoverPolicy.AVAILABILITY)
    _run(sim, faults)


@settings(max_examples=scaled(150))
@given(st.lists(fault, max_size=12), start_timers)
def test_single_instance_recovers(faults: list[tuple[str, int, int]], timers: int) -> None:
    sim = _sim(timers, replicas=1)
    _run(sim, faults)
    assert all(w in sim.active_data() for w in sim.acked)


rollout_fault = st.tuples(
    st.sampled_from(ROLLOUT_FAULTS), st.integers(0, 7), st.sampled_from([0, 1, 2, 3, 5, 8])
)


@settings(max_examples=scaled(200))
@given(st.lists(rollout_fault, max_size=10))
@example(PROMOTED_AGAIN_ASYNC)
@example(RESTARTED_AND_FAILED_OVER_AT_ONCE)
@example([("wait", 0, 0)])
@example([("wait", 0, 3), ("crash", 0, 2)])
@example([("wait", 0, 6), ("operator", 0, 1), ("crash", 1, 3)])
def test_pair_config_rollout(faults: list[tuple[str, int, int]]) -> None:
    """A config change mid-anything: safe throughout, and rolled out on both pods once
    failures stop (standby first, switchover, former active)."""
    sim = Sim()
    sim.run_until_normal(20)
    sim.change_config()
    _run(sim, faults)
    done = sim.run_until_rolled_out(RECOVERY_POLLS)
    assert done, "rollout not finished:\n" + "\n".join(sim.log[-40:])
    lost = [w for w in sim.acked if w not in sim.active_data()]
    assert not lost, f"acknowledged writes lost: {lost[:5]}\n" + "\n".join(sim.log[-40:])


@settings(max_examples=scaled(100))
@given(st.lists(rollout_fault, max_size=8))
def test_single_config_rollout(faults: list[tuple[str, int, int]]) -> None:
    sim = Sim(replicas=1)
    sim.run_until_normal(20)
    sim.change_config()
    _run(sim, faults)
    assert sim.run_until_rolled_out(RECOVERY_POLLS), "\n".join(sim.log[-40:])
    assert all(w in sim.active_data() for w in sim.acked)


def _rollout_deletes(sim: Sim) -> int:
    """Pods the rollout deleted in the last decision (its Events say so; the deletion of
    a silent pod by the failure handling is bounded on its own)."""
    d = sim.decision
    if d is None:
        return 0
    return sum(
        isinstance(a, Event) and a.reason.startswith(("RolloutRestart", "RolloutReplace"))
        for a in d.actions
    )


@settings(max_examples=scaled(60))
@given(st.lists(rollout_fault, max_size=6), st.integers(20, 60))
@example([], 40)
@example([("crash", 0, 3)], 30)
def test_pair_bad_template_pauses_and_a_revert_heals(
    faults: list[tuple[str, int, int]], polls: int
) -> None:
    """A template whose pods never start: the rollout stops at the standby (deleting no
    pod in a loop), the active keeps every acknowledged write; reverting the template
    heals the cluster: Normal, every pod on the (old) revision."""
    sim = Sim()
    sim.run_until_normal(20)
    sim.break_template()
    _run_no_heal(sim, faults)
    deleted = 0
    for _ in range(polls):
        sim.step()
        deleted += _rollout_deletes(sim)
        _one_active_told(sim)
    assert deleted <= 2, f"{deleted} pods deleted while paused:\n" + "\n".join(sim.log[-40:])
    sim.revert_template()
    sim.heal_all()
    done = sim.run_until_rolled_out(RECOVERY_POLLS)
    assert done, "not healed by the revert:\n" + "\n".join(sim.log[-40:])
    lost = [w for w in sim.acked if w not in sim.active_data()]
    assert not lost, f"acknowledged writes lost: {lost[:5]}\n" + "\n".join(sim.log[-40:])


@settings(max_examples=scaled(40))
@given(st.lists(rollout_fault, max_size=4))
@example([])
def test_single_bad_template_pauses_and_a_revert_heals(
    faults: list[tuple[str, int, int]],
) -> None:
    sim = Sim(replicas=1)
    sim.run_until_normal(20)
    sim.break_template()
    _run_no_heal(sim, faults)
    for _ in range(30):
        sim.step()
    sim.revert_template()
    sim.heal_all()
    assert sim.run_until_rolled_out(RECOVERY_POLLS), "\n".join(sim.log[-40:])
    assert all(w in sim.active_data() for w in sim.acked)


def _run_no_heal(sim: Sim, faults: list[tuple[str, int, int]]) -> None:
    for kind, i, wait in faults:
        _apply(sim, kind, i)
        for _ in range(wait + 1):
            sim.step()
            _one_active_told(sim)
