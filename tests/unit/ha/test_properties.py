"""Property tests: random failures, recoveries and timeouts on the simulated cluster.

Asserted for every sequence:
- never two writable actives, never a promotion while another instance is writable
  (the model raises SafetyViolation);
- under ZeroDataLoss, never promote an instance lacking an acknowledged write, and no
  acknowledged write is lost at the end;
- once failures stop, the cluster is back to Normal within a bounded number of polls.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sim import Sim

from zenith_operator.ha.model import Promote, RenewLease
from zenith_operator.ha.states import FailoverPolicy, State

FAULTS = ["crash", "restart", "delete_pod", "partition", "heal", "operator", "wait"]
ROLLOUT_FAULTS = [*FAULTS, "change_config"]
RECOVERY_POLLS = 80

fault = st.tuples(
    st.sampled_from(FAULTS), st.integers(0, 1), st.sampled_from([0, 1, 2, 3, 5, 8, 12])
)

# Sequences known to matter, always tried first.
STALE_STANDBY_ALONE = [("crash", 1, 2), ("crash", 0, 0), ("restart", 1, 10)]
PARTITIONED_ACTIVE = [("partition", 0, 12)]
RESTART_DURING_FAILOVER = [("crash", 0, 5), ("operator", 0, 8)]
STALE_THEN_RESTART = [("crash", 1, 3), ("crash", 0, 1), ("operator", 0, 0), ("restart", 1, 12)]


def _apply(sim: Sim, kind: str, i: int) -> None:
    i = min(i, len(sim.nodes) - 1)
    if kind == "operator":
        sim.restart_operator()
    elif kind != "wait":
        getattr(sim, kind)(i)


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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fault, max_size=12))
@example(STALE_STANDBY_ALONE)
@example(PARTITIONED_ACTIVE)
@example(RESTART_DURING_FAILOVER)
@example(STALE_THEN_RESTART)
def test_pair_zero_data_loss(faults: list[tuple[str, int, int]]) -> None:
    sim = Sim()
    _run(sim, faults)
    lost = [w for w in sim.acked if w not in sim.active_data()]
    assert not lost, f"acknowledged writes lost: {lost[:5]}\n" + "\n".join(sim.log[-40:])
    assert sim.status.state == State.NORMAL
    assert not sim.status.replication_degraded


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fault, max_size=12))
@example(STALE_STANDBY_ALONE)
@example(PARTITIONED_ACTIVE)
def test_pair_availability_never_two_actives(faults: list[tuple[str, int, int]]) -> None:
    sim = Sim(policy=FailoverPolicy.AVAILABILITY)
    _run(sim, faults)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fault, max_size=12))
def test_single_instance_recovers(faults: list[tuple[str, int, int]]) -> None:
    sim = Sim(replicas=1)
    _run(sim, faults)
    assert all(w in sim.active_data() for w in sim.acked)


rollout_fault = st.tuples(
    st.sampled_from(ROLLOUT_FAULTS), st.integers(0, 1), st.sampled_from([0, 1, 2, 3, 5, 8])
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rollout_fault, max_size=10))
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


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rollout_fault, max_size=8))
def test_single_config_rollout(faults: list[tuple[str, int, int]]) -> None:
    sim = Sim(replicas=1)
    sim.run_until_normal(20)
    sim.change_config()
    _run(sim, faults)
    assert sim.run_until_rolled_out(RECOVERY_POLLS), "\n".join(sim.log[-40:])
    assert all(w in sim.active_data() for w in sim.acked)
