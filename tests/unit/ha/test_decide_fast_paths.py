"""The fast paths of issue 17, pure: a container the kubelet reports dead, a deleted
active, a switchover that stops the active at once and lets it follow afterwards."""

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
    pending,
    standby_report,
    status,
)

from zenith_operator.controller.observe import Memory, PodInfo, _proven_dead
from zenith_operator.ha.decide import decide
from zenith_operator.ha.model import Follow, Promote, Rebuild, Stop
from zenith_operator.ha.states import PendingKind, State
from zenith_operator.wire import DatabaseState, Role


def _dead_active(proven: bool) -> tuple[object, object]:
    old = status(State.NORMAL, renewal=T0 - 1)
    gone = replace(inst(A, None, last_ok=T0 - 1, error="refused"), proven_dead=proven)
    return old, observe(gone, inst(B, standby_report(), label="standby"), renewed=T0 - 1)


def test_a_container_reported_dead_fails_over_in_the_same_cycle() -> None:
    old, obs = _dead_active(proven=True)
    d = decide(old, obs, T0)  # type: ignore[arg-type]
    assert d.state == State.FAILOVER
    assert Promote(B, d.status.lease_ttl or 0) in d.actions or any(
        isinstance(a, Promote) and a.pod == B for a in d.actions
    )


def test_without_the_kubelet_the_lease_is_waited_for() -> None:
    old, obs = _dead_active(proven=False)
    d = decide(old, obs, T0)  # type: ignore[arg-type]
    assert d.state == State.NORMAL
    assert not any(isinstance(a, Promote) for a in d.actions)


def test_a_deleted_active_hands_over_once_its_database_has_stopped() -> None:
    old = status(State.NORMAL)
    stopping = replace(
        inst(A, agent(A, Role.ACTIVE, DatabaseState.STOPPED, busy="shutdown")), pod_deleting=True
    )
    d = decide(old, observe(stopping, inst(B, standby_report(), label="standby")), T0)
    assert d.state == State.FAILOVER
    assert any(isinstance(a, Promote) and a.pod == B for a in d.actions)


def test_a_deleted_active_still_serving_is_not_replaced() -> None:
    old = status(State.NORMAL)
    serving = replace(inst(A, active_report(), label="active"), pod_deleting=True)
    d = decide(old, observe(serving, inst(B, standby_report(), label="standby")), T0)
    assert not any(isinstance(a, Promote) for a in d.actions)


def test_a_switchover_stops_the_active_in_the_cycle_it_starts() -> None:
    old = status(State.NORMAL)
    obs = observe(
        inst(A, active_report(), label="active"),
        inst(B, standby_report(), label="standby"),
        switchover_to=B,
    )
    d = decide(old, obs, T0)
    assert d.state == State.SWITCHOVER
    assert Stop(A) in d.actions


def _completed(source_db: DatabaseState) -> object:
    old = status(
        State.SWITCHOVER, pending=pending(PendingKind.SWITCHOVER, B, A, attempts=1, last=T0 - 1)
    )
    obs = observe(
        inst(A, agent(A, Role.ACTIVE, source_db)),
        inst(B, active_report(B, A, streaming=False, mode="async")),
        switchover_to=B,
    )
    return decide(old, obs, T0)


def test_a_cleanly_stopped_former_active_follows_instead_of_being_rebuilt() -> None:
    d = _completed(DatabaseState.STOPPED)
    assert d.status.active_instance == B
    assert Follow(A, B) in d.actions  # type: ignore[attr-defined]
    assert not any(isinstance(a, Rebuild) for a in d.actions)  # type: ignore[attr-defined]


def test_a_crashed_former_active_is_rebuilt() -> None:
    d = _completed(DatabaseState.CRASHED)
    assert any(isinstance(a, Rebuild) for a in d.actions)  # type: ignore[attr-defined]


def _pod(finished_at: float | None) -> PodInfo:
    return PodInfo(
        name=A, uid="u", ip="127.0.0.2", phase="Running", ready=False, deleting=False,
        role_label="active", finished_at=finished_at,
    )  # fmt: skip


def test_the_kubelet_proves_a_death_only_after_the_last_answering_agent_started() -> None:
    m = Memory()
    m.boots["u"], m.last_ok["u"] = 100.0, 105.0
    assert _proven_dead(_pod(101.0), m, "u")  # finished after that agent started (+1 s)
    assert not _proven_dead(_pod(100.5), m, "u")  # within the clocks' margin
    assert not _proven_dead(_pod(99.0), m, "u")  # an earlier container's end
    assert not _proven_dead(_pod(None), m, "u")
    m.promoted_at[A] = 106.0  # a promote ended after the answer: it may have reached
    assert not _proven_dead(_pod(110.0), m, "u")  # a later incarnation
    m.promoted_at[A] = 104.0
    m.inflight[A] = "start"  # a command in flight: not proven either
    assert not _proven_dead(_pod(110.0), m, "u")
    del m.inflight[A]
    assert _proven_dead(_pod(110.0), m, "u")
