"""`decide(status, observations, now) -> Decision`: the whole HA state machine, pure.

One function per situation (as Patroni's ha.py); each returns through `Plan.finish`
with a reason sentence that is logged, shown as an Event/condition and asserted in
tests. The rules that keep the data safe are in docs/states.md.

Length: the whole state machine in one place, one function per state, so each transition
reads against docs/states.md; its helpers already live in plan, ranking and timing.
"""

from __future__ import annotations

from zenith_operator.api.status import ZenithClusterStatus
from zenith_operator.ha import rollout
from zenith_operator.ha.model import (
    Decision,
    DeletePod,
    Event,
    Follow,
    InstanceObservation,
    LabelPod,
    Observations,
    Promote,
    Rebuild,
    SetReplication,
    Start,
    Stop,
)
from zenith_operator.ha.plan import (
    CATCHUP_LAG_BYTES,
    DEAD_POD_GRACE_SECONDS,
    FAILED_AFTER_TIMEOUTS,
    FOLLOW_ATTEMPTS_BEFORE_REBUILD,
    MAX_RESTARTS,
    RESTART_AFTER_TIMEOUTS,
    Plan,
)
from zenith_operator.ha.ranking import ahead, candidate
from zenith_operator.ha.rollout import ROLLOUT_REASON
from zenith_operator.ha.states import FailoverPolicy, Health, PendingKind, RolloutStep, State
from zenith_operator.wire import DatabaseState, Role

DOWN_STATES = (State.ACTIVE_DOWN, State.BOTH_DOWN, State.FAILED)
SCALE_DOWN_REASON = "scale down"
STANDBY_TROUBLE = (
    State.STANDBY_DOWN,
    State.STANDBY_PARTIALLY_DOWN,
    State.STANDBY_PARTIALLY_STARTING,
)


def decide(status: ZenithClusterStatus, observations: Observations, now: float) -> Decision:
    p = Plan(status, observations, now)
    if p.s.stopped:
        return _stopped(p)
    if p.state == State.MANUAL_INTERVENTION:
        if not _resumed(p):
            return p.finish(State.MANUAL_INTERVENTION, p.old.message or "manual intervention")
        return _resume(p)
    if p.state == State.STOPPED:
        p.st.pending_action = None
        return _initialize(p, "the database was started again (spec.zenithSpec.stopped false)")
    pending = p.st.pending_action
    if pending is not None and pending.kind == PendingKind.FAILOVER:
        return _failover(p)
    if pending is not None and pending.kind == PendingKind.SWITCHOVER:
        return _switchover(p)
    active = p.st.active_instance
    if active is None or p.state in (None, State.INITIALIZING):
        return _initialize(p, "")
    if active not in p.names:
        return _manual(p, f"the active {active} is not among the instances {p.names}")
    return _run(p, active)


# --------------------------------------------------------------------------- stop


def _stopped(p: Plan) -> Decision:
    p.st.pending_action = None
    active = p.st.active_instance
    running = [
        o.name
        for o in p.obs.instances
        if o.answering
        and o.agent is not None
        and o.agent.database in (DatabaseState.RUNNING, DatabaseState.STARTING)
    ]
    # the standby first, so the active (the one restarted first later) stays ahead
    standbys = [n for n in running if n != active]
    targets = standbys or running
    for name in targets:
        if not p.inst(name).busy:
            p.act(Stop(name))
    if running:
        return p.finish(State.STOPPED, f"stopping {', '.join(targets)} (spec.zenithSpec.stopped)")
    return p.finish(State.STOPPED, "stopped by spec.zenithSpec.stopped; storage and names kept")


# --------------------------------------------------------------------------- manual


def _manual(p: Plan, reason: str) -> Decision:
    p.st.resume_token = p.s.resume_token
    p.st.intervention_generation = p.s.generation
    return p.finish(
        State.MANUAL_INTERVENTION,
        f"{reason}; refusing to guess: change the annotation zenith.huawei.cloudb.com/resume "
        "(to an instance name to make it the active) or the spec to resume",
    )


def _resumed(p: Plan) -> bool:
    if p.s.resume_token != p.st.resume_token:
        return True
    return (
        p.s.generation is not None
        and p.st.intervention_generation is not None
        and p.s.generation != p.st.intervention_generation
    )


def _resume(p: Plan) -> Decision:
    token = p.s.resume_token
    p.st.resume_token = None
    p.st.intervention_generation = None
    p.st.pending_action = None
    if token in p.names:
        p.st.active_instance = token
        for name in p.names:
            if name != token:
                p.set_in_sync(name, False)
        return _initialize(p, f"resumed by the user, who chose {token} as the active")
    return _initialize(p, "resumed by the user")


# --------------------------------------------------------------------------- initialize


def _initialize(p: Plan, why: str) -> Decision:
    prefix = f"{why}: " if why else ""
    active = p.st.active_instance
    if active is None or active not in p.names:
        writable = [o.name for o in p.obs.instances if o.serving_active]
        if len(writable) > 1:
            return _manual(p, f"{' and '.join(writable)} all report a writable active")
        if writable:
            active = writable[0]
        else:
            active = p.names[0]
            behind = _ahead_of(p, active)
            if behind:
                return _manual(p, behind)
        p.st.active_instance = active
    o = p.inst(active)
    if not o.serving_active and (replacing := _replace_uninitialized(p)):
        return p.finish(State.INITIALIZING, f"{prefix}{replacing}")
    if o.serving_active:
        p.clear_pending(PendingKind.INITIALIZE)
        p.renew(active)
        if not p.pair:
            return p.finish(State.NORMAL, f"{prefix}{active} is the active and serves")
        return _assess_standby(p, active, prefix)
    if not o.answering:
        return p.finish(State.INITIALIZING, f"{prefix}waiting for {active}'s agent ({_why(o)})")
    if o.busy:
        return p.finish(State.INITIALIZING, f"{prefix}{active} is busy with {o.busy}")
    block = p.promote_block(active)
    if block:
        for name in p.names:
            if name != active and p.inst(name).serving_active:
                p.act(Stop(name))
        return p.finish(State.INITIALIZING, f"{prefix}not promoting {active} yet: {block}")
    intent = p.pending(PendingKind.INITIALIZE, active)
    if p.attempt(intent):
        p.make_writable(Promote(active, p.ttl))
    return p.finish(
        State.INITIALIZING, f"{prefix}initialising {active} as the active{_start_error(p, o)}"
    )


def _replace_uninitialized(p: Plan) -> str | None:
    """Initializing: one stale pod that serves nothing is replaced with the current
    template (a fixed configuration heals without waiting for Normal)."""
    r = p.st.rollout
    for name in sorted(p.names, key=lambda n: n == p.st.active_instance):
        o = p.inst(name)
        if not rollout.replaceable(p, name) or (r is not None and r.deleted_uid == o.pod_uid):
            continue
        return rollout.restart(p, name, RolloutStep.REPLACE_UNINITIALIZED)
    return None


def _start_error(p: Plan, o: InstanceObservation) -> str:
    """' (the agent's start error)' while its database is not running, with a Warning
    Event when the error is new; '' otherwise."""
    a = o.agent
    if a is None or not a.last_error or a.database == DatabaseState.RUNNING:
        return ""
    if a.last_error not in (p.old.message or ""):
        p.event("DatabaseStartFailed", f"{o.name}: {a.last_error}", warning=True)
    return f" ({_db(o)})"


def _ahead_of(p: Plan, active: str) -> str | None:
    """Without a recorded active: refuse ordinal 0 if another instance is known ahead."""
    a = p.inst(active)
    if a.agent is None:
        return None
    for o in p.obs.instances:
        if o.name == active or o.agent is None or o.agent.position is None:
            continue
        if ahead(candidate(a, False), candidate(o, False)) is not True:
            return f"no active is recorded and {o.name} may hold data {active} lacks"
    return None


# --------------------------------------------------------------------------- running


def _run(p: Plan, active: str) -> Decision:
    a = p.inst(active)
    standby = p.other(active)
    if standby is not None and p.inst(standby).serving_active:
        return _manual(p, f"{standby} reports a writable active while the status names {active}")
    if a.serving_active:
        p.clear_pending(PendingKind.INITIALIZE, PendingKind.RESTART, target=active)
        p.renew(active)
        if not p.pair:
            return _single_normal(p, active)
        return _assess_standby(p, active, "")
    return _active_not_serving(p, active, standby)


def _active_not_serving(p: Plan, active: str, standby: str | None) -> Decision:
    a = p.inst(active)
    s = p.inst(standby) if standby else None
    pause = ""
    if replacing := _replace_stale_active(p, active, standby):
        down = State.BOTH_DOWN if s is not None and p.down(s) else State.ACTIVE_DOWN
        return p.finish(_keep(p, p.state if p.state in DOWN_STATES else down), replacing)
    if standby is None and a.pod_exists and (paused := rollout.paused(p, active, _why(a))):
        pause = f"; {paused}"
    both = s is not None and p.down(s)
    down_state = State.BOTH_DOWN if both else State.ACTIVE_DOWN
    if a.pod_deleting and standby is not None and _in_sync_standby(p, standby):
        # deleted (a drain, an eviction, a user): it is stopping for good and its last WAL
        # reaches the in-sync standby, which takes over once the database has stopped
        what = _db(a) if a.answering else _why(a)
        return _consider_failover(
            p, active, standby, down_state, f"{active}'s pod is being deleted ({what})"
        )
    if a.answering and a.agent is not None:
        if s is not None and s.agent is not None:
            newer = (s.agent.timeline or 0) > (a.agent.timeline or 0)
            if newer and a.agent.timeline is not None:
                return _manual(
                    p,
                    f"{standby} reports timeline {s.agent.timeline}, newer than the last active "
                    f"{active}'s {a.agent.timeline}: cannot tell which holds the acknowledged "
                    "writes",
                )
        why = f"{active} answers but does not serve ({_db(a)}){pause}"
        if a.busy:
            why = f"{active} is busy with {a.busy}"
        elif block := p.promote_block(active):
            why += f": not restarting it yet, {block}"
        else:
            restart = a.agent.role == Role.ACTIVE and a.agent.database in (
                DatabaseState.STOPPED,
                DatabaseState.CRASHED,
            )
            intent = p.pending(PendingKind.INITIALIZE, active)
            if p.attempt(intent, every=p.s.polling_interval):
                # a restart keeps the replication mode; a promote starts async
                p.act(Start(active)) if restart else p.make_writable(Promote(active, p.ttl))
            why += f": {'starting' if restart else 'promoting'} it again"
        if p.state not in DOWN_STATES or p.state_age() < p.timeout:
            return p.finish(_keep(p, down_state), why)
        return _consider_failover(p, active, standby, down_state, why)
    if not p.down(a):
        silent = p.silent_for(a)
        state = p.state or State.INITIALIZING
        return p.finish(
            state,
            f"{active} has not answered for {silent:.0f}s ({_why(a)}); down after {p.timeout}s",
        )
    why = f"{active} is down ({_why(a)}){pause}"
    if p.state not in DOWN_STATES and not _in_sync_standby(p, standby):
        return p.finish(down_state, why)
    # an in-sync standby takes over in this very cycle (the intent is written first)
    return _consider_failover(p, active, standby, down_state, why)


def _in_sync_standby(p: Plan, standby: str | None) -> bool:
    """In sync as recorded, including what this cycle already recorded (a promote sent
    to the active takes the standby out of sync before anything else)."""
    if standby is None:
        return False
    old, new = p.recorded(standby), p.st.instance(standby)
    now_in_sync = new.in_sync if new is not None else old.in_sync
    return (
        bool(old.in_sync and now_in_sync)
        and not p.old.replication_degraded
        and not p.st.replication_degraded
    )


def _keep(p: Plan, wanted: State) -> State:
    return State.FAILED if p.state == State.FAILED else wanted


def _consider_failover(
    p: Plan, active: str, standby: str | None, down_state: State, why: str
) -> Decision:
    if standby is None:
        return _single_down(p, active, why)
    s = p.inst(standby)
    in_sync = _in_sync_standby(p, standby)
    if s.agent is None or s.agent.role == Role.ACTIVE or s.busy:
        return _wait_or_fail(p, active, down_state, f"{why}; standby {standby} cannot take over")
    if in_sync:
        p.pending(PendingKind.FAILOVER, standby, active).reason = "in-sync standby"
        p.event("FailoverStarted", f"{why}: promoting the in-sync standby {standby}", warning=True)
        return _failover(p, f"{why}; failing over to the in-sync standby {standby}")
    if p.s.failover_policy == FailoverPolicy.AVAILABILITY:
        lost = _loss(p, active, standby)
        p.pending(PendingKind.FAILOVER, standby, active).reason = "failoverPolicy Availability"
        p.event(
            "PotentialDataLoss",
            f"promoting {standby}, which was not in sync (failoverPolicy Availability): {lost}",
            warning=True,
        )
        return p.finish(State.FAILOVER, f"{why}; failing over to {standby}, not in sync: {lost}")
    return _wait_or_fail(
        p,
        active,
        down_state,
        f"{why}; {standby} was not in sync and failoverPolicy ZeroDataLoss forbids promoting it: "
        f"waiting for {active} to return",
    )


def _loss(p: Plan, active: str, standby: str) -> str:
    a_pos = p.recorded(active).position
    s = p.inst(standby)
    s_pos = s.agent.position if s.agent is not None else None
    if a_pos is not None and s_pos is not None:
        gap = a_pos - s_pos
        return f"writes of {active} after position {s_pos} (up to {a_pos}, {gap} bytes) may be lost"
    return f"writes acknowledged by {active} but not replicated to {standby} may be lost"


def _wait_or_fail(p: Plan, active: str, down_state: State, why: str) -> Decision:
    _maybe_restart(p, active)
    if p.state == State.FAILED or p.state_age() >= FAILED_AFTER_TIMEOUTS * p.timeout:
        return p.finish(State.FAILED, why)
    return p.finish(down_state, why)


def _maybe_restart(p: Plan, name: str) -> None:
    """Delete a pod whose agent stays silent (the StatefulSet recreates it)."""
    o = p.inst(name)
    if not o.pod_exists or o.pod_deleting or o.agent is not None:
        return
    if p.silent_for(o) < RESTART_AFTER_TIMEOUTS * p.timeout:
        return
    intent = p.pending_for(PendingKind.RESTART, name) or p.pending(PendingKind.RESTART, name)
    if p.sent_attempts(intent) < MAX_RESTARTS and p.attempt(
        intent, every=RESTART_AFTER_TIMEOUTS * p.timeout
    ):
        # silent for 2 x unreachableTimeout: past any lease it held, so it cannot be
        # writing; a frozen process cannot honour a 30 s graceful stop anyway
        p.act(DeletePod(name, o.pod_uid, grace=DEAD_POD_GRACE_SECONDS))


def _replace_stale_active(p: Plan, active: str, standby: str | None) -> str | None:
    """An active that does not serve on a stale pod (the template was fixed or reverted
    while it could not start) is replaced with the current template: it writes nothing
    now, and a restart with the same template would fail the same way. In a pair only
    when its agent answers and no in-sync standby can take over (a failover comes first)."""
    a = p.inst(active)
    r = p.st.rollout
    if standby is not None and (a.agent is None or _in_sync_standby(p, standby)):
        return None
    quiet = a.agent is not None or p.down(a)  # never for a mere missed poll
    if quiet and rollout.replaceable(p, active) and (r is None or r.deleted_uid != a.pod_uid):
        restarting = rollout.restart(p, active, RolloutStep.RESTART_INSTANCE)
        return f"{active} does not serve ({_why(a)}); {restarting}"
    return None


def _single_down(p: Plan, active: str, why: str) -> Decision:
    _maybe_restart(p, active)
    intent = p.pending_for(PendingKind.RESTART, active)
    if intent is not None and p.sent_attempts(intent) >= MAX_RESTARTS:
        age = p.state_age()
        if (
            p.state == State.FAILED
            or age >= (MAX_RESTARTS + 1) * RESTART_AFTER_TIMEOUTS * p.timeout
        ):
            return p.finish(State.FAILED, f"{why}; still down after {MAX_RESTARTS} pod restarts")
    return p.finish(_keep(p, State.ACTIVE_DOWN), why)


# --------------------------------------------------------------------------- standby


def _assess_standby(p: Plan, active: str, prefix: str) -> Decision:
    standby = p.other(active)
    assert standby is not None
    a = p.inst(active).agent
    assert a is not None
    repl = a.replication
    peer = next((x for x in repl.peers if x.name == standby), None)
    s = p.inst(standby)
    # The walsender lists a hung or cut-off standby as streaming until wal_sender_timeout:
    # a standby whose own agent is down is not trusted as a sync peer, whatever it says.
    standby_down = not s.pod_exists or p.down(s)
    streaming = peer is not None and peer.streaming and not standby_down
    lag = peer.lag_bytes if peer is not None else None
    sync_ok = (
        peer is not None
        and streaming
        and peer.sync
        and repl.mode == "sync"
        and repl.sync_standby in (standby, None)
    )
    p.set_in_sync(standby, sync_ok, lag)
    p.label(standby, "standby" if streaming else "none")
    if sync_ok:
        p.clear_pending(PendingKind.FOLLOW, PendingKind.REBUILD, PendingKind.RESTART)
        p.st.replication_mode = "sync"
        p.st.replication_degraded = False
        if scaling := _scale_down_switchover(p, active, standby):
            return scaling
        wanted = p.s.switchover_to
        if wanted == standby:
            return _start_switchover(p, active, standby)
        normal = f"{prefix}{active} is active, {standby} streams in sync"
        if wanted:
            normal += f"; {_switchover_rejected(p, active, wanted)}"
        return _rollout_in_normal(p, active, standby, normal)
    notes: list[str] = []
    p.st.replication_degraded = True
    if repl.mode == "sync" and not (streaming and peer is not None and peer.sync):
        # the status (written first) says the standby is out of sync before we go async
        p.act(SetReplication(active, "async", None))
        p.st.replication_mode = "async"
        notes.append(f"switching {active} to async so it keeps serving")
    else:
        p.st.replication_mode = repl.mode or "async"
    if streaming:
        p.clear_pending(PendingKind.FOLLOW, PendingKind.REBUILD, PendingKind.RESTART)
        if restarting := _restart_streaming_standby(p, standby):
            why = f"{standby} streams asynchronously; {restarting}"
        elif lag is not None and lag <= CATCHUP_LAG_BYTES:
            p.act(SetReplication(active, "sync", standby))
            why = f"{standby} streams and has caught up ({lag} bytes behind): switching to sync"
        else:
            why = (
                f"{standby} streams and catches up ({lag if lag is not None else '?'} bytes behind)"
            )
        p.health_hint[standby] = Health.STARTING
        state = State.STANDBY_PARTIALLY_STARTING
    elif standby_down:
        why = f"{standby} is down ({_why(s)})"
        if peer is not None and peer.streaming:
            why += f" although {active} still lists it as streaming"
        if restarting := _restart_stale_standby(p, standby):
            why += f"; {restarting}"
        else:
            _maybe_restart(p, standby)
        state = State.STANDBY_DOWN
    elif s.agent is None:
        why = f"{standby} is not streaming and has not answered for {p.silent_for(s):.0f}s"
        state = p.state if p.state in STANDBY_TROUBLE else State.STANDBY_PARTIALLY_DOWN
    elif s.busy or s.agent.database in (DatabaseState.STARTING, DatabaseState.REBUILDING):
        why = f"{standby} is starting ({s.busy or s.agent.database.value})"
        state = State.STANDBY_PARTIALLY_STARTING
    else:
        p.health_hint[standby] = Health.DEGRADED
        if restarting := _restart_stale_standby(p, standby):
            why = f"{standby} is not streaming from {active} ({_db(s)}); {restarting}"
        else:
            why = _recover_standby(p, active, standby)
        state = State.STANDBY_PARTIALLY_DOWN
    if not streaming and (pause := rollout.paused(p, standby, _why(s))):
        why += f"; {pause}"
    if p.state == State.INITIALIZING:
        state = State.INITIALIZING
    reason = prefix + why + (f"; {', '.join(notes)}" if notes else "")
    return p.finish(state, reason)


def _recover_standby(p: Plan, active: str, standby: str) -> str:
    s = p.inst(standby)
    assert s.agent is not None
    rebuild = p.pending_for(PendingKind.REBUILD, standby)
    follow = p.pending_for(PendingKind.FOLLOW, standby)
    # a former active is rebuilt (rewound), unless it stopped cleanly in a switchover
    # (`_complete` recorded a follow for it): then its WAL ends where the new one's began
    if rebuild is None and follow is None and (s.agent.role == Role.ACTIVE or s.agent.fenced):
        rebuild = p.pending(PendingKind.REBUILD, standby, active)
    tried = follow is not None and p.sent_attempts(follow) >= FOLLOW_ATTEMPTS_BEFORE_REBUILD
    if rebuild is None and follow is not None and tried and p.due(follow):
        rebuild = p.pending(PendingKind.REBUILD, standby, active)
    what = f"{standby} is not streaming from {active} ({_db(s)})"
    if rebuild is not None:
        if p.attempt(rebuild):
            p.act(Rebuild(standby, active))
            return f"{what}: rebuilding it from {active} (attempt {rebuild.attempts})"
        return f"{what}: waiting for the rebuild from {active}"
    follow = follow or p.pending(PendingKind.FOLLOW, standby, active)
    if p.attempt(follow):
        p.act(Follow(standby, active))
        return f"{what}: telling it to follow {active} (attempt {follow.attempts})"
    return f"{what}: waiting after telling it to follow {active}"


# --------------------------------------------------------------------------- failover


def _failover(p: Plan, started: str = "") -> Decision:
    intent = p.st.pending_action
    assert intent is not None and intent.target is not None
    target, source = intent.target, intent.source or p.st.active_instance or "?"
    t, o = p.inst(target), p.inst(source)
    if t.promoted:
        return _complete(p, target, source, "failover")
    if o.serving_active and intent.attempts == 0:
        p.st.pending_action = None
        p.event("FailoverCancelled", f"{source} serves again before {target} was promoted")
        return _run(p, source)
    if intent.attempts == 0 and o.answering and not t.answering:
        p.st.pending_action = None
        p.event("FailoverCancelled", f"{source} answers again and {target} does not")
        return _run(p, source)
    block = p.promote_block(target)
    if block:
        if o.serving_active:
            p.act(Stop(source))
        return p.finish(State.FAILOVER, f"failover to {target}: waiting, {block}")
    if not t.answering:
        return p.finish(State.FAILOVER, f"failover to {target}: waiting for its agent ({_why(t)})")
    if t.busy:
        return p.finish(State.FAILOVER, f"failover to {target}: {target} is busy with {t.busy}")
    if t.agent is not None and rollout.replaceable(p, target):
        # its database cannot start on a template since changed (a fix, a revert): the
        # promote would fail forever; a new pod with the current template can take over
        r = p.st.rollout
        if r is None or r.deleted_uid != t.pod_uid:
            text = rollout.restart(p, target, RolloutStep.RESTART_STANDBY)
            return p.finish(State.FAILOVER, f"failover to {target}: {text}")
    p.label(source, "none")
    if p.attempt(intent):
        p.make_writable(Promote(target, p.ttl))
        p.label(target, "active")  # clients move now; writes open when the promote ends
    return p.finish(State.FAILOVER, started or f"failover: promoting {target} ({intent.reason})")


def _complete(p: Plan, target: str, source: str, what: str) -> Decision:
    """The target serves: it is the active. A former active that was stopped cleanly
    (a switchover: its last WAL reached the target before it stopped) just follows the
    new one; any other is rebuilt (rewound) first."""
    p.st.active_instance = target
    p.set_in_sync(source, False)
    p.st.replication_degraded = True
    p.st.pending_action = None
    o = p.inst(source)
    clean = (
        what == "switchover" and o.agent is not None and o.agent.database == DatabaseState.STOPPED
    )
    p.pending(PendingKind.FOLLOW if clean else PendingKind.REBUILD, source, target)
    p.label(source, "none")
    p.renew(target)
    then = "follows it" if clean else "will be rebuilt"
    p.event(f"{what.capitalize()}Completed", f"{target} is the active; {source} {then}")
    return _assess_standby(p, target, f"{what} to {target} completed; ")


# --------------------------------------------------------------------------- switchover


def _start_switchover(p: Plan, active: str, standby: str, why: str = "") -> Decision:
    """Record the intent and take the first step (stop the active) in the same cycle:
    the status carrying the intent is written before any command is sent."""
    reason = why or "requested by annotation"
    if not p.inst(standby).answering:
        return p.finish(
            State.NORMAL,
            f"{active} is active, {standby} streams in sync; a switchover to {standby} "
            f"({reason}) waits for its agent to answer",
        )
    p.pending(PendingKind.SWITCHOVER, standby, active).reason = reason
    p.event("SwitchoverStarted", f"planned switchover from {active} to {standby} ({reason})")
    if why:
        return _switchover(p, f"{why}: switchover, {standby} will replace {active}; ")
    return _switchover(p, f"switchover requested: {standby} will replace {active}; ")


def _scale_down_switchover(p: Plan, active: str, standby: str) -> Decision | None:
    """replicas lowered below the active's ordinal: switch over to the in-sync standby
    that stays (after a second Normal poll), then the StatefulSet is scaled down."""
    want = p.s.desired_replicas
    if want is None or p.inst(active).ordinal < want or p.inst(standby).ordinal >= want:
        return None
    if p.state != State.NORMAL:
        return None
    why = f"{SCALE_DOWN_REASON} to {want} replica(s) ({active} would be removed)"
    return _start_switchover(p, active, standby, why)


def _switchover_rejected(p: Plan, active: str, wanted: str) -> str:
    """The switchover annotation names no standby: report it (a Warning Event once)."""
    if wanted == active:
        why = f"{wanted} is already the active"
    else:
        why = f"{wanted} is not an instance of this cluster ({', '.join(p.names)})"
    note = f"switchover-to {wanted} ignored: {why}; remove the annotation"
    if note not in (p.old.message or ""):
        p.event("SwitchoverRejected", note, warning=True)
    return note


def _switchover(p: Plan, prefix: str = "") -> Decision:
    intent = p.st.pending_action
    assert intent is not None and intent.target is not None
    target, source = intent.target, intent.source or p.st.active_instance or "?"
    t, o = p.inst(target), p.inst(source)
    if t.promoted:
        return _complete(p, target, source, "switchover")
    requested = p.s.switchover_to == target or intent.reason.startswith(
        (ROLLOUT_REASON, SCALE_DOWN_REASON)
    )
    abort = not requested or not t.answering
    if intent.attempts == 0 and abort:
        p.st.pending_action = None
        p.event("SwitchoverCancelled", f"switchover to {target} cancelled")
        return _run(p, source)
    if o.agent is not None and o.agent.database in (DatabaseState.RUNNING, DatabaseState.STARTING):
        p.label(source, "none")
        if not o.busy:
            p.act(Stop(source))
        return p.finish(
            State.SWITCHOVER, f"{prefix}switchover: stopping {source} so {target} gets every write"
        )
    block = p.promote_block(target)
    if block:
        return p.finish(State.SWITCHOVER, f"{prefix}switchover to {target}: waiting, {block}")
    if t.agent is None or t.busy:
        return p.finish(
            State.SWITCHOVER, f"{prefix}switchover to {target}: waiting for it ({_why(t)})"
        )
    a_pos = o.agent.position if o.agent is not None else p.recorded(source).position
    if a_pos is not None and (t.agent.position or 0) < a_pos:
        if p.state_age() >= p.timeout and intent.attempts == 0:
            p.st.pending_action = None
            p.event("SwitchoverCancelled", f"{target} did not catch up with {source}", warning=True)
            return _run(p, source)
        return p.finish(
            State.SWITCHOVER, f"{prefix}switchover: {target} replays up to {source}'s end"
        )
    if p.attempt(intent):
        p.make_writable(Promote(target, p.ttl))
        p.label(target, "active")  # clients move now; writes open when the promote ends
    return p.finish(State.SWITCHOVER, f"{prefix}switchover: promoting {target}")


# --------------------------------------------------------------------------- rollout


def _rollout_in_normal(p: Plan, active: str, standby: str, normal: str) -> Decision:
    """Normal, standby in sync: the next step of a pod template rollout, if any.

    Standby first; a switchover only to an updated, in-sync standby; the former active
    last. Acts only when the previous poll was Normal too (never during a failure).
    """
    if p.state == State.NORMAL:
        if rollout.stale(p, standby):
            r = p.st.rollout
            former = r is not None and r.step in (
                RolloutStep.SWITCHOVER,
                RolloutStep.RESTART_FORMER_ACTIVE,
            )
            step = RolloutStep.RESTART_FORMER_ACTIVE if former else RolloutStep.RESTART_STANDBY
            r = rollout.record(p, step, standby)
            if r.step == RolloutStep.STALLED or r.restarts >= rollout.MAX_ROLLOUT_RESTARTS:
                return p.finish(State.NORMAL, f"{normal}; {rollout.restart(p, standby, step)}")
            # Take the standby out of sync first (recorded before the command), so no
            # commit waits for a standby that is being deleted; it is deleted next poll.
            p.set_in_sync(standby, False)
            p.st.replication_degraded = True
            p.st.replication_mode = "async"
            p.act(SetReplication(active, "async", None))
            return p.finish(
                State.STANDBY_PARTIALLY_STARTING,
                f"{normal}; {ROLLOUT_REASON}: switching {active} to async before restarting "
                f"{standby} with the new template",
            )
        if rollout.stale(p, active):
            r = rollout.record(p, RolloutStep.SWITCHOVER, standby)
            if r.step != RolloutStep.STALLED:
                p.event(
                    "RolloutSwitchover",
                    f"{standby} runs the new pod template and is in sync: switching over "
                    f"from {active}",
                )
                why = f"{ROLLOUT_REASON} ({standby} runs the new template, in sync)"
                return _start_switchover(p, active, standby, why)
    elif rollout.any_stale(p):
        return p.finish(State.NORMAL, f"{normal}; the rollout waits one more poll")
    done = rollout.complete(p)
    return p.finish(State.NORMAL, f"{normal}; {done}" if done else normal)


def _restart_streaming_standby(p: Plan, standby: str) -> str | None:
    """A rollout took this stale standby out of sync (from Normal): delete its pod now,
    instead of switching back to sync."""
    r = p.st.rollout
    if r is None or r.step not in (RolloutStep.RESTART_STANDBY, RolloutStep.RESTART_FORMER_ACTIVE):
        return None
    if not rollout.stale(p, standby):
        return None
    return rollout.restart(p, standby, RolloutStep(r.step))


def _restart_stale_standby(p: Plan, standby: str) -> str | None:
    """A stale standby that does not stream is restarted with the template instead of
    being rebuilt with its old one: the former active right after a rollout's
    switchover, a standby whose template was changed (again: a fix, a revert) while it
    could not start, or one a failure recreated from a template since reverted. Only
    when no command runs on it."""
    r = p.st.rollout
    s = p.inst(standby)
    if not rollout.stale(p, standby) or s.busy:
        return None
    if r is not None and r.step == RolloutStep.STALLED and r.to_revision == p.obs.update_revision:
        return None
    commanded = any(
        getattr(a, "pod", None) == standby and not isinstance(a, LabelPod | Event)
        for a in p.actions
    )
    if commanded:
        return None
    if r is None and p.state in (None, State.INITIALIZING):
        return rollout.restart(p, standby, RolloutStep.REPLACE_UNINITIALIZED)
    if r is None:
        return rollout.restart(p, standby, RolloutStep.RESTART_STANDBY)
    former = r.step in (RolloutStep.SWITCHOVER, RolloutStep.RESTART_FORMER_ACTIVE)
    step = RolloutStep.RESTART_FORMER_ACTIVE if former else RolloutStep.RESTART_STANDBY
    return rollout.restart(p, standby, step)


def _single_normal(p: Plan, active: str) -> Decision:
    """Single instance: a rollout restarts the only pod (downtime)."""
    normal = f"{active} is the active and serves"
    pending = p.st.pending_action
    if pending is not None and pending.target not in p.names:
        p.st.pending_action = None  # e.g. the rebuild of a standby scaled away
    a = p.inst(active).agent
    if a is not None and a.replication.mode == "sync":
        # scaled down to one instance: no standby will ever confirm a commit again
        p.act(SetReplication(active, "async", None))
        normal += "; switching it to async replication (no standby any more)"
    if p.state == State.NORMAL and rollout.stale(p, active):
        restarting = rollout.restart(p, active, RolloutStep.RESTART_INSTANCE)
        return p.finish(State.NORMAL, f"{normal}; {restarting}")
    if p.state == State.NORMAL:
        done = rollout.complete(p)
        if done:
            return p.finish(State.NORMAL, f"{normal}; {done}")
    return p.finish(State.NORMAL, normal)


# --------------------------------------------------------------------------- helpers


def _why(o: InstanceObservation) -> str:
    if not o.pod_exists:
        return "no pod"
    if o.agent is None:
        return o.error or "no answer"
    return _db(o)


def _db(o: InstanceObservation) -> str:
    if o.agent is None:
        return o.error or "no answer"
    a = o.agent
    text = f"role {a.role.value}, database {a.database.value}"
    if a.fenced:
        text += ", fenced"
    if a.last_error:
        text += f", last error: {a.last_error}"
    return text
