"""Issue 16 item 6: live edits of the spec and annotations, as decide() sees them."""

from __future__ import annotations

from dataclasses import replace

from ha_factories import (
    T0,
    A,
    B,
    active_report,
    agent,
    inst,
    observe,
    pair_normal,
    pending,
    standby_report,
    status,
)

from zenith_operator.ha.decide import decide
from zenith_operator.ha.model import Event, Observations, SetReplication
from zenith_operator.ha.states import State
from zenith_operator.wire import DatabaseState, Role


def _with(obs: Observations, **settings: object) -> Observations:
    return replace(obs, settings=replace(obs.settings, **settings))


def _warnings(d: object) -> list[Event]:
    return [a for a in d.actions if isinstance(a, Event) and a.type == "Warning"]  # type: ignore[attr-defined]


def test_switchover_to_the_active_itself_is_reported_once() -> None:
    old, obs = pair_normal()
    d = decide(old, _with(obs, switchover_to=A), T0)
    assert d.state == State.NORMAL
    assert "switchover-to c-0 ignored: c-0 is already the active" in d.status.message
    assert [e.reason for e in _warnings(d)] == ["SwitchoverRejected"]
    again = decide(d.status, _with(obs, switchover_to=A), T0 + 10)
    assert not _warnings(again), "reported once, not at every poll"
    assert "ignored" in again.status.message
    cleared = decide(again.status, obs, T0 + 20)
    assert "ignored" not in cleared.status.message


def test_switchover_to_an_unknown_pod_is_reported() -> None:
    old, obs = pair_normal()
    d = decide(old, _with(obs, switchover_to="c-7"), T0)
    assert "c-7 is not an instance of this cluster (c-0, c-1)" in d.status.message
    assert [e.reason for e in _warnings(d)] == ["SwitchoverRejected"]


def test_message_follows_the_current_error_in_the_same_state() -> None:
    """A rebuild that keeps failing: the message must show the error, not "(attempt 1)"."""
    old = status(
        State.STANDBY_PARTIALLY_DOWN,
        in_sync=False,
        degraded=True,
        mode="async",
        pending=pending("Rebuild", B, A, attempts=1, last=T0 - 31),
        message="c-1 is not streaming from c-0 (role standby, database stopped): "
        "rebuilding it from c-0 (attempt 1)",
    )
    failing = agent(B, Role.STANDBY, DatabaseState.STOPPED)
    failing = failing.model_copy(update={"last_error": "rebuild: CHECKPOINT: Connection refused"})
    active = agent(A)
    d = decide(old, observe(inst(A, active), inst(B, failing)), T0)
    assert d.state == State.STANDBY_PARTIALLY_DOWN
    assert "Connection refused" in d.status.message


def test_a_counter_alone_does_not_rewrite_the_message() -> None:
    old = status(State.STANDBY_PARTIALLY_DOWN, in_sync=False, degraded=True, mode="async")
    obs = observe(inst(A, agent(A)), inst(B, None, last_ok=T0 - 2, error="timeout"))
    first = decide(old, obs, T0)
    second = decide(first.status, obs, T0 + 1)
    assert second.status.message == first.status.message
    assert "has not answered for 2s" in second.status.message


def test_scale_down_with_the_active_beyond_switches_over_first() -> None:
    """replicas 2 -> 1 while c-1 is active: the instances stay two (held) and the operator
    switches over to c-0; the scale-down follows once c-0 is the active."""
    old = status(State.NORMAL, B)
    obs = observe(
        inst(A, standby_report(A), label="standby"),
        inst(B, active_report(B, A), label="active"),
    )
    d = decide(old, _with(obs, desired_replicas=1), T0)
    assert d.state == State.SWITCHOVER
    assert d.status.pending_action is not None and d.status.pending_action.target == A
    assert "scale down to 1 replica(s)" in d.reason


def test_scale_down_waits_for_the_standby_to_be_in_sync() -> None:
    old = status(State.STANDBY_PARTIALLY_STARTING, B, in_sync=False, degraded=True, mode="async")
    obs = observe(
        inst(A, standby_report(A), label="standby"),
        inst(B, active_report(B, A, mode="async", sync=False, lag=50_000_000), label="active"),
    )
    d = decide(old, _with(obs, desired_replicas=1), T0)
    assert d.state != State.SWITCHOVER


def test_single_instance_left_in_sync_mode_goes_async() -> None:
    """Scaled from a pair to one instance: the active must not wait for a standby."""
    old = status(State.NORMAL, pair=False, mode=None)
    d = decide(old, observe(inst(A, active_report(streaming=False))), T0)
    assert SetReplication(A, "async", None) in d.actions
