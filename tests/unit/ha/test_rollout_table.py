"""Pod template rollout in decide(): standby first, switchover to the updated in-sync
standby, former active last; only from Normal; failures first; single instance; paused
by pods that do not start, healed by a new template; Initializing replaces at once."""

from __future__ import annotations

import dataclasses

from ha_factories import (
    T0,
    TIMEOUT,
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

from zenith_operator.api.status import RolloutStatus, ZenithClusterStatus
from zenith_operator.ha.decide import decide
from zenith_operator.ha.model import (
    Decision,
    DeletePod,
    Event,
    Follow,
    InstanceObservation,
    Observations,
    Promote,
    Rebuild,
    RenewLease,
    SetReplication,
    Stop,
)
from zenith_operator.ha.rollout import MAX_ROLLOUT_RESTARTS, PAUSE_AFTER_TIMEOUTS, ROLLOUT_REASON
from zenith_operator.ha.states import PendingKind, RolloutStep, State
from zenith_operator.ha.times import fmt
from zenith_operator.wire import DatabaseState, Role

OLD, NEW = "c-5d8f7b6c9a", "c-7b9c4d2e1f"  # StatefulSet revisions (NAME-HASH)


def h(o: InstanceObservation, revision: str | None) -> InstanceObservation:
    return dataclasses.replace(o, revision=revision)


def want(obs: Observations, desired: str | None = NEW) -> Observations:
    return dataclasses.replace(obs, update_revision=desired)


def with_rollout(
    st: ZenithClusterStatus, step: RolloutStep, instance: str, **kw: object
) -> ZenithClusterStatus:
    r = RolloutStatus(
        from_revision=OLD, to_revision=NEW, step=step, instance=instance, started=fmt(T0 - 50), **kw
    )
    return st.model_copy(update={"rollout": r})


def events(d: Decision) -> list[str]:
    return [a.reason for a in d.actions if isinstance(a, Event)]


def deletes(d: Decision) -> list[DeletePod]:
    return [a for a in d.actions if isinstance(a, DeletePod)]


def normal_pair(a_hash: str, b_hash: str, active: str = A) -> Observations:
    standby = B if active == A else A
    hashes = {A: a_hash, B: b_hash}
    return want(
        observe(
            h(inst(active, active_report(active, standby), label="active"), hashes[active]),
            h(inst(standby, standby_report(standby), label="standby"), hashes[standby]),
        )
    )


# ------------------------------------------------------------------ start / standby first


def async_pair(a_hash: str, b_hash: str, active: str = A) -> Observations:
    """The active runs async (as the rollout asked), the standby still streams."""
    standby = B if active == A else A
    hashes = {A: a_hash, B: b_hash}
    report = active_report(active, standby, mode="async", sync=False)
    return want(
        observe(
            h(inst(active, report, label="active"), hashes[active]),
            h(inst(standby, standby_report(standby), label="standby"), hashes[standby]),
        )
    )


def test_rollout_starts_from_normal_with_the_standby() -> None:
    # phase 1: the standby is taken out of sync (recorded first), nothing deleted yet
    d = decide(status(State.NORMAL), normal_pair(OLD, OLD), T0)
    assert d.state == State.STANDBY_PARTIALLY_STARTING
    assert "switching c-0 to async before restarting c-1 with the new template" in d.reason
    assert SetReplication(A, "async", None) in d.actions and not deletes(d)
    assert not [a for a in d.actions if isinstance(a, Stop | Promote)]
    b = d.status.instance(B)
    assert b is not None and not b.in_sync and d.status.replication_degraded
    r = d.status.rollout
    assert (
        r is not None
        and r.to_revision == NEW
        and r.from_revision == OLD
        and r.step == RolloutStep.RESTART_STANDBY
    )
    assert r.instance == B and r.restarts == 0
    assert "RolloutStarted" in events(d)
    # phase 2: the active runs async: the standby's pod is deleted (not switched to sync)
    d = decide(d.status, async_pair(OLD, OLD), T0 + 1)
    assert d.state == State.STANDBY_PARTIALLY_STARTING
    assert "rollout: restarting the standby c-1 with revision 7b9c4d2e1f" in d.reason
    assert deletes(d) == [DeletePod(B, "uid-c-1")]
    assert not [a for a in d.actions if isinstance(a, SetReplication)]
    r = d.status.rollout
    assert r is not None and r.deleted_uid == "uid-c-1" and r.restarts == 1
    assert events(d) == ["RolloutRestartStandby"]


def test_no_rollout_without_a_difference_or_a_known_update_revision() -> None:
    same = decide(status(State.NORMAL), normal_pair(NEW, NEW), T0)
    unknown = decide(status(State.NORMAL), want(normal_pair(OLD, OLD), None), T0)
    for d in (same, unknown):
        assert d.state == State.NORMAL and not deletes(d) and d.status.rollout is None
        assert d.reason == "c-0 is active, c-1 streams in sync"


def test_rollout_does_not_start_outside_normal() -> None:
    # the standby just came back in sync: one more Normal poll first
    d = decide(status(State.STANDBY_PARTIALLY_STARTING), normal_pair(OLD, OLD), T0)
    assert d.state == State.NORMAL and not deletes(d)
    assert "the rollout waits one more poll" in d.reason
    # the active is down: the failure is handled, no pod of the rollout is deleted
    obs = want(
        observe(
            h(inst(A, None, last_ok=T0 - 31, error="timeout"), OLD),
            h(inst(B, standby_report(receiving=False), label="standby"), OLD),
        )
    )
    d = decide(status(State.NORMAL), obs, T0)
    assert d.state == State.FAILOVER and not deletes(d) and d.status.rollout is None


def test_standby_pod_deleted_once_per_incarnation() -> None:
    st = with_rollout(
        status(State.NORMAL),
        RolloutStep.RESTART_STANDBY,
        B,
        deleted_uid="uid-c-1",
        last_attempt=fmt(T0 - 2),
        restarts=1,
    )
    d = decide(st, async_pair(OLD, OLD), T0)
    assert not deletes(d) and "waiting for c-1's pod to go" in d.reason
    assert not [a for a in d.actions if isinstance(a, SetReplication)]
    terminating = async_pair(OLD, OLD)
    b = dataclasses.replace(terminating.instances[1], pod_deleting=True, pod_uid="uid-x")
    d = decide(st, dataclasses.replace(terminating, instances=(terminating.instances[0], b)), T0)
    assert not deletes(d) and "waiting for c-1's pod to be recreated" in d.reason


# ------------------------------------------------------------------ switchover


def test_no_switchover_until_the_updated_standby_is_in_sync() -> None:
    st = with_rollout(
        status(State.STANDBY_PARTIALLY_STARTING, in_sync=False, degraded=True, mode="async"),
        RolloutStep.RESTART_STANDBY,
        B,
    )
    obs = want(
        observe(
            h(inst(A, active_report(mode="async", sync=False, lag=5 << 20), label="active"), OLD),
            h(inst(B, standby_report(), label="standby"), NEW),
        )
    )
    d = decide(st, obs, T0)
    assert d.state == State.STANDBY_PARTIALLY_STARTING
    assert d.status.pending_action is None and not deletes(d)
    assert not [a for a in d.actions if isinstance(a, Stop)]


def test_switchover_to_the_updated_in_sync_standby() -> None:
    st = with_rollout(status(State.NORMAL), RolloutStep.RESTART_STANDBY, B, restarts=1)
    d = decide(st, normal_pair(OLD, NEW), T0)
    assert d.state == State.SWITCHOVER
    assert ROLLOUT_REASON in d.reason and "c-1 will replace c-0" in d.reason
    p = d.status.pending_action
    assert p is not None and p.kind == PendingKind.SWITCHOVER and p.target == B
    assert p.reason.startswith(ROLLOUT_REASON)
    assert d.status.rollout is not None and d.status.rollout.step == RolloutStep.SWITCHOVER
    assert "RolloutSwitchover" in events(d) and "SwitchoverStarted" in events(d)
    assert not deletes(d)


def test_rollout_switchover_needs_no_annotation() -> None:
    st = with_rollout(
        status(State.SWITCHOVER, pending=pending("Switchover", B, A, reason=ROLLOUT_REASON)),
        RolloutStep.SWITCHOVER,
        B,
    )
    d = decide(st, normal_pair(OLD, NEW), T0)
    assert d.state == State.SWITCHOVER
    assert "stopping c-0" in d.reason
    assert Stop(A) in d.actions and not deletes(d)


def test_switchover_completed_restarts_the_former_active_instead_of_rebuilding() -> None:
    st = with_rollout(
        status(
            State.SWITCHOVER,
            pending=pending("Switchover", B, A, attempts=1, last=T0 - 1, reason=ROLLOUT_REASON),
        ),
        RolloutStep.SWITCHOVER,
        B,
    )
    obs = want(
        observe(
            h(inst(A, agent(A, Role.ACTIVE, DatabaseState.STOPPED)), OLD),
            h(inst(B, active_report(B, A, streaming=False, mode="async", timeline=2)), NEW),
        )
    )
    d = decide(st, obs, T0)
    assert d.state == State.STANDBY_PARTIALLY_DOWN
    assert "switchover to c-1 completed" in d.reason
    assert "restarting the former active c-0" in d.reason
    assert deletes(d) == [DeletePod(A, "uid-c-0")]
    assert not [a for a in d.actions if isinstance(a, Rebuild)]
    assert [a for a in d.actions if isinstance(a, RenewLease) and a.pod == B]
    assert d.status.active_instance == B
    r = d.status.rollout
    assert r is not None and r.step == RolloutStep.RESTART_FORMER_ACTIVE and r.instance == A
    assert "SwitchoverCompleted" in events(d) and "RolloutRestartFormerActive" in events(d)


def test_former_active_rebuilt_in_normal_is_restarted_last() -> None:
    st = with_rollout(status(State.NORMAL, B), RolloutStep.SWITCHOVER, B)
    d = decide(st, normal_pair(OLD, NEW, active=B), T0)
    assert SetReplication(B, "async", None) in d.actions and not deletes(d)
    assert d.status.rollout is not None
    assert d.status.rollout.step == RolloutStep.RESTART_FORMER_ACTIVE
    d = decide(d.status, async_pair(OLD, NEW, active=B), T0 + 1)
    assert "restarting the former active c-0" in d.reason
    assert deletes(d) == [DeletePod(A, "uid-c-0")]


def test_rollout_completes_when_every_pod_runs_the_new_revision() -> None:
    st = with_rollout(status(State.NORMAL, B), RolloutStep.RESTART_FORMER_ACTIVE, A)
    d = decide(st, normal_pair(NEW, NEW, active=B), T0)
    assert d.state == State.NORMAL and d.status.rollout is None and not deletes(d)
    assert "rollout of revision 7b9c4d2e1f completed" in d.reason
    assert "RolloutCompleted" in events(d)


# ------------------------------------------------------------------ failures first


def test_failure_mid_rollout_takes_priority_and_the_rollout_resumes() -> None:
    # the standby's pod was deleted by the rollout, then the active goes down
    st = with_rollout(
        status(State.STANDBY_DOWN, in_sync=False, degraded=True, mode="async"),
        RolloutStep.RESTART_STANDBY,
        B,
        restarts=1,
    )
    obs = want(
        observe(
            h(inst(A, None, last_ok=T0 - 31, error="timeout"), OLD),
            h(inst(B, standby_report(receiving=False)), NEW),
        )
    )
    d = decide(st, obs, T0)
    assert d.state == State.ACTIVE_DOWN
    assert not deletes(d) and d.status.pending_action is None  # ZeroDataLoss: no failover
    assert d.status.rollout == st.rollout  # kept for later
    # the active is back, the updated standby in sync again: the rollout resumes
    back = d.status.model_copy(update={"state": State.NORMAL.value, "replication_degraded": False})
    d = decide(back, normal_pair(OLD, NEW), T0 + 60)
    assert d.state == State.SWITCHOVER and ROLLOUT_REASON in d.reason


def test_switchover_cancelled_keeps_the_rollout_for_the_next_normal() -> None:
    st = with_rollout(
        status(State.SWITCHOVER, pending=pending("Switchover", B, A, reason=ROLLOUT_REASON)),
        RolloutStep.SWITCHOVER,
        B,
    )
    obs = want(
        observe(
            h(inst(A, active_report(streaming=False), label="active"), OLD),
            h(inst(B, None, error="timeout"), NEW),
        )
    )
    d = decide(st, obs, T0)
    assert d.status.pending_action is None or d.status.pending_action.kind != "Switchover"
    assert "SwitchoverCancelled" in events(d)
    assert d.status.rollout is not None


def test_rollout_stalls_after_too_many_restarts() -> None:
    st = with_rollout(
        status(State.NORMAL),
        RolloutStep.RESTART_STANDBY,
        B,
        deleted_uid="uid-old",
        last_attempt=fmt(T0 - 100),
        restarts=MAX_ROLLOUT_RESTARTS,
    )
    d = decide(st, normal_pair(OLD, OLD), T0)
    assert not deletes(d) and "RolloutStalled" in events(d)
    assert d.status.rollout is not None and d.status.rollout.step == RolloutStep.STALLED
    again = decide(d.status, normal_pair(OLD, OLD), T0 + 10)
    assert not deletes(again) and "RolloutStalled" not in events(again)
    assert "stalled" in again.reason


# ------------------------------------------------------------------ single instance


def single(revision: str, **kw: object) -> Observations:
    return want(observe(h(inst(A, agent(A), label="active", **kw), revision)))  # type: ignore[arg-type]


def test_single_instance_restarts_in_place() -> None:
    st = status(State.NORMAL, pair=False, mode=None)
    d = decide(st, single(OLD), T0)
    assert d.state == State.NORMAL
    assert "restarting the single instance c-0 in place" in d.reason
    assert deletes(d) == [DeletePod(A, "uid-c-0")]
    r = d.status.rollout
    assert r is not None and r.step == RolloutStep.RESTART_INSTANCE
    assert events(d) == ["RolloutStarted", "RolloutRestartInstance"]
    # back on the new revision: done
    d = decide(d.status, single(NEW, uid="uid-new"), T0 + TIMEOUT)
    assert d.status.rollout is None and "completed" in d.reason and not deletes(d)


def test_a_stale_standby_that_cannot_start_is_restarted_after_a_new_edit() -> None:
    # a bad value (e.g. max_connections below the primary's) keeps the restarted standby
    # from starting; the user reverts the spec: the standby is restarted again
    # instead of being rebuilt forever with the bad configuration
    st = with_rollout(
        status(State.STANDBY_PARTIALLY_DOWN, in_sync=False, degraded=True, mode="async"),
        RolloutStep.RESTART_STANDBY,
        B,
        restarts=1,
        deleted_uid="uid-old",
    )
    st = st.model_copy(update={"rollout": st.rollout.model_copy(update={"to_revision": "c-bad"})})  # type: ignore[union-attr]
    crashed = agent(B, Role.STANDBY, DatabaseState.CRASHED)
    obs = want(
        observe(
            h(inst(A, active_report(streaming=False, mode="async"), label="active"), OLD),
            h(inst(B, crashed, label="none"), "c-bad"),
        ),
        OLD,
    )
    d = decide(st, obs, T0)
    assert d.state == State.STANDBY_PARTIALLY_DOWN
    assert deletes(d) == [DeletePod(B, "uid-c-1")]
    assert not [a for a in d.actions if isinstance(a, Rebuild)]
    assert "RolloutRetargeted" in events(d)
    assert d.status.rollout is not None and d.status.rollout.to_revision == OLD


# ------------------------------------------------------------------ pause and heal


def _bad_standby(seen: float, revision: str = NEW) -> Observations:
    """The active serves async; the standby's pod on `revision` answers, database crashed."""
    crashed = agent(B, Role.STANDBY, DatabaseState.CRASHED).model_copy(
        update={"last_error": "postgres exited with code 1 on start"}
    )
    b = dataclasses.replace(inst(B, crashed, label="none", uid="uid-new"), seen_since=seen)
    return want(
        observe(
            h(inst(A, active_report(streaming=False, mode="async"), label="active"), OLD),
            h(b, revision),
        )
    )


def test_new_standby_that_does_not_start_pauses_the_rollout_once() -> None:
    st = with_rollout(
        status(State.STANDBY_PARTIALLY_DOWN, in_sync=False, degraded=True, mode="async"),
        RolloutStep.RESTART_STANDBY,
        B,
        restarts=1,
        deleted_uid="uid-c-1",
        last_attempt=fmt(T0 - 200),
    )
    # not yet: the new pod gets PAUSE_AFTER_TIMEOUTS x unreachableTimeout to come up
    d = decide(st, _bad_standby(seen=T0 - 10), T0)
    assert d.status.rollout is not None and d.status.rollout.step == RolloutStep.RESTART_STANDBY
    assert "RolloutPaused" not in events(d)
    seen = T0 - PAUSE_AFTER_TIMEOUTS * TIMEOUT
    d = decide(st, _bad_standby(seen=seen), T0)
    r = d.status.rollout
    assert r is not None and r.step == RolloutStep.PAUSED and r.instance == B
    assert events(d).count("RolloutPaused") == 1
    assert "rollout paused: c-1 runs revision 7b9c4d2e1f but does not start" in d.reason
    assert "postgres exited with code 1 on start" in d.reason
    assert not deletes(d), "a paused rollout deletes nothing"
    # later polls: still paused, no new Event, no pod deleted (never loops)
    for t in (T0 + 1, T0 + 60, T0 + 600):
        again = decide(d.status, _bad_standby(seen=seen), t)
        assert again.status.rollout is not None
        assert again.status.rollout.step == RolloutStep.PAUSED
        assert "RolloutPaused" not in events(again) and not deletes(again)
        assert again.status.active_instance == A and not [
            x for x in again.actions if isinstance(x, Stop | Promote)
        ]


def test_reverting_the_spec_heals_a_paused_rollout() -> None:
    st = with_rollout(
        status(State.STANDBY_PARTIALLY_DOWN, in_sync=False, degraded=True, mode="async"),
        RolloutStep.PAUSED,
        B,
        restarts=1,
        deleted_uid="uid-c-1",
        last_attempt=fmt(T0 - 200),
    )
    # the revert: the template's revision is OLD again, the failing pod runs NEW
    reverted = want(_bad_standby(seen=T0 - 200), OLD)
    d = decide(st, reverted, T0)
    assert deletes(d) == [DeletePod(B, "uid-new")]
    assert "RolloutRetargeted" in events(d)
    r = d.status.rollout
    assert r is not None and r.to_revision == OLD and r.step == RolloutStep.RESTART_STANDBY
    # the standby is back on OLD and in sync: nothing is stale, the rollout is over
    st2 = d.status.model_copy(update={"state": State.NORMAL.value, "replication_degraded": False})
    done = decide(st2, want(normal_pair(OLD, OLD), OLD), T0 + 30)
    assert done.state == State.NORMAL and done.status.rollout is None
    assert "RolloutCompleted" in events(done) and not deletes(done)


def _single_crashed(revision: str, seen: float, uid: str = "uid-new") -> Observations:
    crashed = agent(A, Role.ACTIVE, DatabaseState.CRASHED).model_copy(
        update={"last_error": "postgres exited with code 1 on start"}
    )
    o = dataclasses.replace(inst(A, crashed, label="active", uid=uid), seen_since=seen)
    return want(observe(h(o, revision)))


def test_single_instance_on_a_failing_revision_pauses_and_a_revert_replaces_it() -> None:
    st = status(State.ACTIVE_DOWN, pair=False, mode=None).model_copy(
        update={
            "rollout": RolloutStatus(
                from_revision=OLD,
                to_revision=NEW,
                step=RolloutStep.RESTART_INSTANCE,
                instance=A,
                started=fmt(T0 - 300),
                deleted_uid="uid-c-0",
                last_attempt=fmt(T0 - 300),
                restarts=1,
            )
        }
    )
    d = decide(st, _single_crashed(NEW, seen=T0 - 200), T0)
    assert d.state == State.ACTIVE_DOWN and not deletes(d)
    assert d.status.rollout is not None and d.status.rollout.step == RolloutStep.PAUSED
    assert "RolloutPaused" in events(d) and "rollout paused" in d.reason
    d = decide(d.status, want(_single_crashed(NEW, seen=T0 - 200), OLD), T0 + 1)
    assert deletes(d) == [DeletePod(A, "uid-new")]
    assert "restarting the single instance c-0" in d.reason
    assert d.status.rollout is not None and d.status.rollout.to_revision == OLD


# ------------------------------------------------------------------ Initializing


def _never_started(revision_a: str, revision_b: str) -> Observations:
    def crashed(name: str, role: Role) -> InstanceObservation:
        report = agent(name, role, DatabaseState.CRASHED, position=None).model_copy(
            update={"last_error": "postgres exited with code 1 on start"}
        )
        return inst(name, report)

    return want(
        observe(h(crashed(A, Role.ACTIVE), revision_a), h(crashed(B, Role.STANDBY), revision_b))
    )


def test_initializing_shows_the_agents_start_error_and_follows_it() -> None:
    st = status(State.INITIALIZING, in_sync=False, renewal=None)
    d = decide(st, _never_started(NEW, NEW), T0)
    assert d.state == State.INITIALIZING
    assert "postgres exited with code 1 on start" in d.reason
    assert "postgres exited with code 1 on start" in d.status.message
    assert "DatabaseStartFailed" in events(d)
    ready = next(c for c in d.status.conditions if c.type == "Ready")
    assert "postgres exited with code 1 on start" in ready.message
    # the same error again: no new Event; a different error: the message follows
    again = decide(d.status, _never_started(NEW, NEW), T0 + 1)
    assert "DatabaseStartFailed" not in events(again)
    other = _never_started(NEW, NEW)
    a = other.instances[0]
    assert a.agent is not None
    report = a.agent.model_copy(update={"last_error": 'invalid value for parameter "x"'})
    other = dataclasses.replace(
        other, instances=(dataclasses.replace(a, agent=report), *other.instances[1:])
    )
    changed = decide(again.status, other, T0 + 2)
    assert changed.state == State.INITIALIZING
    assert 'invalid value for parameter "x"' in changed.status.message
    assert "DatabaseStartFailed" in events(changed)


def test_initializing_replaces_pods_that_never_started_when_the_template_changes() -> None:
    st = status(State.INITIALIZING, in_sync=False, renewal=None)
    d = decide(st, _never_started(OLD, OLD), T0)
    assert d.state == State.INITIALIZING
    assert deletes(d) == [DeletePod(B, "uid-c-1")], "the non-active candidate first"
    r = d.status.rollout
    assert r is not None and r.step == RolloutStep.REPLACE_UNINITIALIZED
    assert "RolloutStarted" in events(d) and "RolloutReplaceUninitialized" in events(d)
    assert not [a for a in d.actions if isinstance(a, Promote)]
    # next poll (c-1's pod not yet gone in the cache): c-0 is replaced, c-1 not again
    d = decide(d.status, _never_started(OLD, OLD), T0 + 1)
    assert deletes(d) == [DeletePod(A, "uid-c-0")]
    # both recreated on the new revision: back to initialising, nothing deleted
    d = decide(d.status, _never_started(NEW, NEW), T0 + 5)
    assert not deletes(d) and "initialising c-0 as the active" in d.reason


def test_initializing_never_replaces_a_serving_or_busy_pod() -> None:
    st = status(State.INITIALIZING, in_sync=False, renewal=None)
    busy = want(
        observe(
            h(inst(A, agent(A, Role.ACTIVE, DatabaseState.CRASHED), inflight="promote"), OLD),
            h(inst(B, standby_report(busy="rebuild")), OLD),
        )
    )
    d = decide(st, busy, T0)
    assert not deletes(d)
    # the active serves (Initializing until the standby streams): only the broken standby
    serving = want(
        observe(
            h(inst(A, active_report(streaming=False, mode="async"), label="active"), OLD),
            h(inst(B, agent(B, Role.STANDBY, DatabaseState.CRASHED)), OLD),
        )
    )
    d = decide(st, serving, T0)
    assert deletes(d) == [DeletePod(B, "uid-c-1")]


# ------------------------------------------------------------------ recreated by a failure


def _crashed(name: str, role: Role) -> InstanceObservation:
    report = agent(name, role, DatabaseState.CRASHED).model_copy(
        update={"last_error": "postgres exited with code 1 on start"}
    )
    return inst(name, report, uid=f"uid-new-{name}")


def test_a_failure_recreated_standby_on_a_reverted_template_is_replaced() -> None:
    # no rollout ever started: a crash recreated c-1 from the bad template, then reverted
    st = status(State.STANDBY_PARTIALLY_DOWN, in_sync=False, degraded=True, mode="async")
    obs = want(
        observe(
            h(inst(A, active_report(streaming=False, mode="async"), label="active"), OLD),
            h(_crashed(B, Role.STANDBY), NEW),
        ),
        OLD,
    )
    d = decide(st, obs, T0)
    assert deletes(d) == [DeletePod(B, "uid-new-c-1")]
    assert not [a for a in d.actions if isinstance(a, Rebuild | Follow)]
    r = d.status.rollout
    assert r is not None and r.step == RolloutStep.RESTART_STANDBY and r.to_revision == OLD


def test_a_failover_target_that_cannot_start_on_a_stale_template_is_replaced() -> None:
    st = status(
        State.FAILOVER, pending=pending("Failover", B, A, attempts=3, last=T0 - 5), renewal=T0 - 100
    )
    obs = want(
        observe(
            h(inst(A, None, last_ok=T0 - 60, error="timeout"), OLD),
            h(_crashed(B, Role.ACTIVE), NEW),
        ),
        OLD,
    )
    d = decide(st, obs, T0)
    assert d.state == State.FAILOVER and deletes(d) == [DeletePod(B, "uid-new-c-1")]
    assert not [a for a in d.actions if isinstance(a, Promote)]
    # the same pod again (cache lag): not deleted twice
    again = decide(d.status, obs, T0 + 1)
    assert not deletes(again)


def test_a_pair_active_that_cannot_start_on_a_stale_template_is_replaced() -> None:
    # c-1 is not in sync: no failover; the active's pod runs a template since reverted
    st = status(State.ACTIVE_DOWN, in_sync=False, degraded=True, mode="async")
    obs = want(
        observe(h(_crashed(A, Role.ACTIVE), NEW), h(inst(B, standby_report(receiving=False)), OLD)),
        OLD,
    )
    d = decide(st, obs, T0)
    assert deletes(d) == [DeletePod(A, "uid-new-c-0")]
    assert "restarting the active c-0, which does not serve" in d.reason
    # with an in-sync standby the failover comes first: the active's pod is kept
    synced = status(State.ACTIVE_DOWN)
    d = decide(synced, obs, T0)
    assert not deletes(d)
