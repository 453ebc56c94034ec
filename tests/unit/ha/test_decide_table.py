"""Table-driven tests of decide(): each state's entries and exits, with actions and reason."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest
from ha_factories import (
    T0,
    TIMEOUT,
    A,
    B,
    active_report,
    active_unreachable_for,
    agent,
    inst,
    observe,
    pair_normal,
    pending,
    standby_report,
    status,
)

from zenith_operator.api.status import ZenithClusterStatus
from zenith_operator.ha import timing
from zenith_operator.ha.decide import decide
from zenith_operator.ha.model import (
    Action,
    DeletePod,
    Event,
    Follow,
    LabelPod,
    Observations,
    Promote,
    Rebuild,
    RenewLease,
    SetReplication,
    Start,
    Stop,
)
from zenith_operator.ha.plan import Plan
from zenith_operator.ha.states import FailoverPolicy, State
from zenith_operator.wire import DatabaseState, Role

TTL = timing.lease_ttl(TIMEOUT, 10)
NOT_BEFORE = timing.promotion_not_before(T0 - 10, TTL) - T0  # seconds after T0


@dataclass
class Case:
    id: str
    status: ZenithClusterStatus
    obs: Observations
    state: State
    reason: str
    has: list[Action] = field(default_factory=list)
    lacks: list[type] = field(default_factory=list)
    now: float = T0


def _normal_status() -> ZenithClusterStatus:
    return pair_normal()[0]


CASES = [
    # ---------------------------------------------------------------- Initializing
    Case(
        "new pair: waits for ordinal 0's agent",
        status(None, None, renewal=None, mode=None, in_sync=False),
        observe(inst(A, None, last_ok=None, error="connection refused"), inst(B, None)),
        State.INITIALIZING,
        "waiting for c-0's agent (connection refused)",
        lacks=[Promote],
    ),
    Case(
        "new pair: ordinal 0 is initialised as the active with a lease",
        status(None, None, renewal=None, mode=None, in_sync=False),
        observe(
            inst(A, agent(A, Role.NONE, DatabaseState.STOPPED, timeline=None, position=None)),
            inst(B, None, last_ok=None),
        ),
        State.INITIALIZING,
        "initialising c-0 as the active",
        has=[Promote(A, TTL)],
    ),
    Case(
        "new pair: no lease wait for an instance that never had one",
        status(State.INITIALIZING, A, renewal=None, mode=None, in_sync=False),
        observe(
            inst(A, agent(A, Role.NONE, DatabaseState.STOPPED, timeline=None, position=None)),
            inst(B, None, last_ok=None, error="pod has no IP yet"),
            started_at=T0 - 1,
        ),
        State.INITIALIZING,
        "initialising c-0 as the active",
        has=[Promote(A, TTL)],
    ),
    Case(
        "Initializing after a promote was sent: the lease rule applies again",
        status(
            State.INITIALIZING,
            A,
            renewal=None,
            mode=None,
            in_sync=False,
            pending=pending("Initialize", A, attempts=1, last=T0 - 40),
        ),
        observe(
            inst(A, agent(A, Role.ACTIVE, DatabaseState.RUNNING, fenced=True)),
            inst(B, None, last_ok=None, error="timeout"),
            started_at=T0 - 1,
        ),
        State.INITIALIZING,
        "c-1 is unreachable and its lease may last",
        lacks=[Promote],
    ),
    Case(
        "new pair: the standby is told to follow once the active serves",
        status(State.INITIALIZING, A, in_sync=False, mode="async", degraded=True),
        observe(
            inst(A, active_report(streaming=False, mode="async")),
            inst(B, agent(B, Role.NONE, DatabaseState.STOPPED, timeline=None, position=None)),
        ),
        State.INITIALIZING,
        "telling it to follow c-0",
        has=[RenewLease(A, TTL), Follow(B, A)],
    ),
    Case(
        "new pair: a caught-up standby turns replication to sync",
        status(State.INITIALIZING, A, in_sync=False, mode="async", degraded=True),
        observe(inst(A, active_report(mode="async", sync=False, lag=0)), inst(B, standby_report())),
        State.INITIALIZING,
        "has caught up (0 bytes behind): switching to sync",
        has=[SetReplication(A, "sync", B)],
    ),
    Case(
        "Initializing -> Normal once the standby streams in sync",
        status(State.INITIALIZING, A, in_sync=False, mode="async", degraded=True),
        pair_normal()[1],
        State.NORMAL,
        "c-0 is active, c-1 streams in sync",
        has=[RenewLease(A, TTL), Event("Normal", "c-0 is active, c-1 streams in sync")],
    ),
    Case(
        "no recorded active and c-1 ahead of c-0: ask a person",
        status(None, None, renewal=None, mode=None),
        observe(
            inst(A, agent(A, Role.NONE, DatabaseState.STOPPED, position=10)),
            inst(B, agent(B, Role.NONE, DatabaseState.STOPPED, position=20)),
        ),
        State.MANUAL_INTERVENTION,
        "c-1 may hold data c-0 lacks",
        lacks=[Promote],
    ),
    Case(
        "two writable actives without a record: ask a person",
        status(None, None, renewal=None, mode=None),
        observe(inst(A, agent(A)), inst(B, agent(B))),
        State.MANUAL_INTERVENTION,
        "c-0 and c-1 all report a writable active",
        lacks=[Promote, RenewLease],
    ),
    # ---------------------------------------------------------------- Normal
    Case(
        "Normal stays Normal: lease renewed, nothing else",
        _normal_status(),
        pair_normal()[1],
        State.NORMAL,
        "c-0 is active, c-1 streams in sync",
        has=[RenewLease(A, TTL)],
        lacks=[LabelPod, SetReplication, Event, Promote, Follow],
    ),
    Case(
        "Normal: wrong pod labels are corrected",
        _normal_status(),
        observe(inst(A, active_report(), label="none"), inst(B, standby_report())),
        State.NORMAL,
        "streams in sync",
        has=[LabelPod(A, "active"), LabelPod(B, "standby")],
    ),
    Case(
        "Normal: the active silent less than unreachableTimeout keeps the state",
        _normal_status(),
        active_unreachable_for(12),
        State.NORMAL,
        "c-0 has not answered for 12s (timeout); down after 30s",
        lacks=[RenewLease, Promote],
    ),
    # ---------------------------------------------------------------- standby trouble
    Case(
        "Normal -> StandbyPartiallyDown: standby not streaming; async first, then follow",
        _normal_status(),
        observe(
            inst(A, active_report(streaming=False), label="active"),
            inst(B, standby_report(receiving=False, db=DatabaseState.CRASHED), label="standby"),
        ),
        State.STANDBY_PARTIALLY_DOWN,
        "telling it to follow c-0 (attempt 1); switching c-0 to async so it keeps serving",
        has=[SetReplication(A, "async", None), Follow(B, A), LabelPod(B, "none")],
    ),
    Case(
        "Normal -> StandbyDown: standby pod gone",
        _normal_status(),
        observe(inst(A, active_report(streaming=False), label="active"), inst(B, exists=False)),
        State.STANDBY_DOWN,
        "c-1 is down (no pod)",
        has=[SetReplication(A, "async", None), RenewLease(A, TTL)],
        lacks=[Follow],
    ),
    Case(
        "StandbyDown: an unreachable standby pod is restarted after 2 timeouts",
        status(State.STANDBY_DOWN, degraded=True, mode="async", in_sync=False),
        observe(
            inst(A, active_report(streaming=False, mode="async"), label="active"),
            inst(B, None, last_ok=T0 - 61, error="timeout"),
        ),
        State.STANDBY_DOWN,
        "c-1 is down (timeout)",
        has=[DeletePod(B, "uid-c-1", grace=1)],
    ),
    Case(
        "Normal -> StandbyDown: a silent standby the walsender still lists as streaming",
        _normal_status(),
        observe(
            inst(A, active_report(), label="active"),
            inst(B, None, last_ok=T0 - TIMEOUT, error="timeout", label="standby"),
        ),
        State.STANDBY_DOWN,
        "c-1 is down (timeout) although c-0 still lists it as streaming",
        has=[SetReplication(A, "async", None), RenewLease(A, TTL), LabelPod(B, "none")],
    ),
    Case(
        "Normal: a standby silent for less than unreachableTimeout, streaming in sync",
        _normal_status(),
        observe(
            inst(A, active_report(), label="active"),
            inst(B, None, last_ok=T0 - TIMEOUT + 1, error="timeout", label="standby"),
        ),
        State.NORMAL,
        "c-1 streams in sync",
        lacks=[SetReplication],
    ),
    Case(
        "StandbyDown: a silent standby is not switched back to sync while it streams",
        status(State.STANDBY_DOWN, degraded=True, mode="async", in_sync=False),
        observe(
            inst(A, active_report(mode="async", sync=False, lag=0), label="active"),
            inst(B, None, last_ok=T0 - TIMEOUT - 5, error="timeout"),
        ),
        State.STANDBY_DOWN,
        "c-1 is down (timeout)",
        lacks=[SetReplication],
    ),
    Case(
        "StandbyDown: a recreated standby pod gets its own start-up grace (silence per uid)",
        status(State.STANDBY_DOWN, degraded=True, mode="async", in_sync=False),
        observe(
            inst(A, active_report(streaming=False, mode="async"), label="active"),
            replace(
                inst(B, None, last_ok=None, uid="uid-new", error="connection refused"),
                seen_since=T0 - 1,
            ),
        ),
        State.STANDBY_DOWN,
        "c-1 is not streaming and has not answered for 1s",
        lacks=[DeletePod],
    ),
    Case(
        "StandbyDown -> StandbyPartiallyStarting: standby rebuilding",
        status(State.STANDBY_DOWN, degraded=True, mode="async", in_sync=False),
        observe(
            inst(A, active_report(streaming=False, mode="async"), label="active"),
            inst(B, standby_report(receiving=False, db=DatabaseState.REBUILDING)),
        ),
        State.STANDBY_PARTIALLY_STARTING,
        "c-1 is starting (rebuild)",
        lacks=[Follow, Rebuild],
    ),
    Case(
        "StandbyPartiallyStarting: streaming but far behind stays async",
        status(State.STANDBY_PARTIALLY_STARTING, degraded=True, mode="async", in_sync=False),
        observe(
            inst(A, active_report(mode="async", sync=False, lag=50_000_000), label="active"),
            inst(B, standby_report(), label="standby"),
        ),
        State.STANDBY_PARTIALLY_STARTING,
        "c-1 streams and catches up (50000000 bytes behind)",
        lacks=[SetReplication],
    ),
    Case(
        "StandbyPartiallyStarting -> sync when caught up",
        status(State.STANDBY_PARTIALLY_STARTING, degraded=True, mode="async", in_sync=False),
        observe(
            inst(A, active_report(mode="async", sync=False, lag=100), label="active"),
            inst(B, standby_report(), label="standby"),
        ),
        State.STANDBY_PARTIALLY_STARTING,
        "switching to sync",
        has=[SetReplication(A, "sync", B)],
    ),
    Case(
        "StandbyPartiallyStarting -> Normal when in sync again",
        status(State.STANDBY_PARTIALLY_STARTING, degraded=True, mode="async", in_sync=False),
        pair_normal()[1],
        State.NORMAL,
        "streams in sync",
        has=[Event("ReplicationRestored", "c-0 replicates synchronously")],
    ),
    Case(
        "StandbyPartiallyDown: follow failed twice -> rebuild",
        status(
            State.STANDBY_PARTIALLY_DOWN,
            degraded=True,
            mode="async",
            in_sync=False,
            pending=pending("Follow", B, A, attempts=2, last=T0 - 31),
        ),
        observe(
            inst(A, active_report(streaming=False, mode="async"), label="active"),
            inst(B, standby_report(receiving=False), label="none"),
        ),
        State.STANDBY_PARTIALLY_DOWN,
        "rebuilding it from c-0 (attempt 1)",
        has=[Rebuild(B, A)],
        lacks=[Follow],
    ),
    Case(
        "StandbyPartiallyDown: no new follow before unreachableTimeout",
        status(
            State.STANDBY_PARTIALLY_DOWN,
            degraded=True,
            mode="async",
            in_sync=False,
            pending=pending("Follow", B, A, attempts=1, last=T0 - 5),
        ),
        observe(
            inst(A, active_report(streaming=False, mode="async"), label="active"),
            inst(B, standby_report(receiving=False), label="none"),
        ),
        State.STANDBY_PARTIALLY_DOWN,
        "waiting after telling it to follow c-0",
        lacks=[Follow, Rebuild],
    ),
    # ---------------------------------------------------------------- ActiveDown / Failover
    Case(
        "Normal -> Failover at once: active silent past unreachableTimeout, its lease over",
        status(State.NORMAL, renewal=T0 - 31),
        active_unreachable_for(31),
        State.FAILOVER,
        "failing over to the in-sync standby c-1",
        has=[Promote(B, TTL)],
        lacks=[RenewLease],
    ),
    Case(
        "Normal -> Failover: active silent past unreachableTimeout, promotion waits for its lease",
        _normal_status(),
        active_unreachable_for(31),
        State.FAILOVER,
        "c-0 is unreachable and its lease may last 19.5s more",
        lacks=[Promote, RenewLease],
    ),
    Case(
        "ActiveDown -> Failover: intent recorded, promotion waits for the lease",
        status(State.ACTIVE_DOWN, since=T0 - 2),
        active_unreachable_for(33),
        State.FAILOVER,
        "its lease may last 19.5s more",
        lacks=[Promote],
    ),
    Case(
        "ActiveDown, standby not in sync, ZeroDataLoss: wait",
        status(State.ACTIVE_DOWN, since=T0 - 2, in_sync=False, degraded=True, mode="async"),
        active_unreachable_for(33),
        State.ACTIVE_DOWN,
        "failoverPolicy ZeroDataLoss forbids promoting it",
        lacks=[Promote],
    ),
    Case(
        "ActiveDown, standby not in sync for 10 timeouts: Failed",
        status(State.ACTIVE_DOWN, since=T0 - 301, in_sync=False, degraded=True, mode="async"),
        active_unreachable_for(333),
        State.FAILED,
        "c-1 was not in sync and failoverPolicy ZeroDataLoss forbids promoting it",
        lacks=[Promote],
    ),
    Case(
        "ActiveDown, not in sync, Availability: failover with a Warning naming the loss",
        status(
            State.ACTIVE_DOWN,
            since=T0 - 2,
            in_sync=False,
            degraded=True,
            mode="async",
            positions=(5000, 900),
        ),
        observe(
            inst(A, None, last_ok=T0 - 40),
            inst(B, standby_report(receiving=False, position=900)),
            failover_policy=FailoverPolicy.AVAILABILITY,
        ),
        State.FAILOVER,
        "failing over to c-1, not in sync: writes of c-0 after position 900 (up to 5000",
        has=[
            Event(
                "PotentialDataLoss",
                "promoting c-1, which was not in sync (failoverPolicy Availability): writes of "
                "c-0 after position 900 (up to 5000, 4100 bytes) may be lost",
                "Warning",
            )
        ],
    ),
    Case(
        "Failover waits for the old active's lease",
        status(State.FAILOVER, pending=pending("Failover", B, A), renewal=T0 - 28),
        active_unreachable_for(31),
        State.FAILOVER,
        "c-0 is unreachable and its lease may last 1.5s more",
        lacks=[Promote],
    ),
    Case(
        "Failover promotes after the lease must have expired",
        status(State.FAILOVER, pending=pending("Failover", B, A), renewal=T0 - 33),
        active_unreachable_for(33),
        State.FAILOVER,
        "failover: promoting c-1",
        has=[Promote(B, TTL)],
    ),
    Case(
        "Failover: a restarted operator without a recorded renewal assumes one at its start",
        status(State.FAILOVER, pending=pending("Failover", B, A), renewal=None),
        active_unreachable_for(100, started_at=T0 - 5),
        State.FAILOVER,
        "its lease may last 24.5s more",
        lacks=[Promote],
    ),
    Case(
        "Failover: a restarted operator trusts the renewal recorded in a no-lease state",
        status(State.FAILOVER, pending=pending("Failover", B, A), renewal=T0 - 100),
        active_unreachable_for(100, started_at=T0 - 5),
        State.FAILOVER,
        "failover: promoting c-1",
        has=[Promote(B, TTL)],
    ),
    Case(
        "Failover: old active pod replaced (uid changed) is known dead, no lease wait",
        status(State.FAILOVER, pending=pending("Failover", B, A), renewal=T0 - 1),
        observe(
            inst(A, None, uid="new-uid", last_ok=T0 - 40),
            inst(B, standby_report(receiving=False)),
        ),
        State.FAILOVER,
        "failover: promoting c-1",
        has=[Promote(B, TTL), LabelPod(A, "none")],
    ),
    Case(
        "Failover: old active still writable -> fence it, no promotion",
        status(State.FAILOVER, pending=pending("Failover", B, A, attempts=1, last=T0 - 1)),
        observe(inst(A, active_report(streaming=False)), inst(B, standby_report())),
        State.FAILOVER,
        "c-0 is still a writable active",
        has=[Stop(A)],
        lacks=[Promote],
    ),
    Case(
        "Failover cancelled: old active serves again before any promotion",
        status(State.FAILOVER, pending=pending("Failover", B, A)),
        pair_normal()[1],
        State.NORMAL,
        "streams in sync",
        has=[RenewLease(A, TTL)],
        lacks=[Promote],
    ),
    Case(
        "Failover completes: new active renewed, old active to be rebuilt, async",
        status(State.FAILOVER, pending=pending("Failover", B, A, attempts=1, last=T0 - 1)),
        observe(
            inst(A, None, last_ok=T0 - 40),
            inst(B, active_report(B, A, streaming=False, mode="async", timeline=2)),
        ),
        State.STANDBY_DOWN,
        "failover to c-1 completed; c-0 is down",
        has=[RenewLease(B, TTL), LabelPod(B, "active"), LabelPod(A, "none")],
    ),
    Case(
        "Failover waits for the promote to end: the agent names itself active as it begins",
        status(State.FAILOVER, pending=pending("Failover", B, A, attempts=1, last=T0 - 1)),
        observe(
            inst(A, None, last_ok=T0 - 40),
            inst(B, agent(B, busy="promote", timeline=1)),
        ),
        State.FAILOVER,
        "failover to c-1: waiting",
        lacks=[Promote, RenewLease],
    ),
    Case(
        "Switchover waits for the promote to end",
        status(State.SWITCHOVER, pending=pending("Switchover", B, A, attempts=1, last=T0 - 1)),
        observe(
            inst(A, agent(A, db=DatabaseState.STOPPED)),
            inst(B, agent(B, busy="promote", timeline=1)),
        ),
        State.SWITCHOVER,
        "waiting for it",
        lacks=[Promote, RenewLease],
    ),
    Case(
        "after failover the old active is rebuilt, not followed",
        status(
            State.STANDBY_DOWN,
            B,
            degraded=True,
            mode="async",
            in_sync=False,
            pending=pending("Rebuild", A, B),
        ),
        observe(
            inst(A, agent(A, Role.ACTIVE, DatabaseState.RUNNING, fenced=True)),
            inst(B, active_report(B, A, streaming=False, mode="async", timeline=2)),
        ),
        State.STANDBY_PARTIALLY_DOWN,
        "rebuilding it from c-1 (attempt 1)",
        has=[Rebuild(A, B)],
        lacks=[Follow],
    ),
    Case(
        "ActiveDown: active agent answers fenced (pod restarted) -> promoted again",
        status(State.NORMAL),
        observe(
            inst(A, agent(A, Role.ACTIVE, DatabaseState.RUNNING, fenced=True)),
            inst(B, standby_report(receiving=False)),
        ),
        State.ACTIVE_DOWN,
        "promoting it again",
        has=[Promote(A, TTL)],
    ),
    Case(
        "ActiveDown: active database crashed -> started again",
        status(State.NORMAL),
        observe(
            inst(A, agent(A, Role.ACTIVE, DatabaseState.CRASHED)),
            inst(B, standby_report(receiving=False)),
        ),
        State.ACTIVE_DOWN,
        "starting it again",
        has=[Start(A)],
    ),
    Case(
        "ActiveDown -> Normal when the active serves again",
        status(State.ACTIVE_DOWN, since=T0 - 3),
        pair_normal()[1],
        State.NORMAL,
        "streams in sync",
        has=[RenewLease(A, TTL)],
    ),
    # ---------------------------------------------------------------- BothDown
    Case(
        "Normal -> BothDown",
        _normal_status(),
        observe(inst(A, None, last_ok=T0 - 40), inst(B, None, last_ok=T0 - 40)),
        State.BOTH_DOWN,
        "c-0 is down",
        lacks=[Promote],
    ),
    Case(
        "BothDown: only the in-sync standby returns -> failover",
        status(State.BOTH_DOWN, since=T0 - 50, renewal=T0 - 90),
        observe(inst(A, None, last_ok=T0 - 90), inst(B, standby_report(receiving=False))),
        State.FAILOVER,
        "failing over to the in-sync standby c-1",
    ),
    Case(
        "BothDown: only the out-of-sync standby returns -> wait (ZeroDataLoss)",
        status(State.BOTH_DOWN, since=T0 - 50, in_sync=False, degraded=True, mode="async"),
        observe(inst(A, None, last_ok=T0 - 90), inst(B, standby_report(receiving=False))),
        State.ACTIVE_DOWN,
        "forbids promoting it",
        lacks=[Promote],
    ),
    Case(
        "BothDown: the last active returns -> promoted (it is ahead)",
        status(
            State.BOTH_DOWN,
            since=T0 - 50,
            in_sync=False,
            degraded=True,
            mode="async",
            renewal=T0 - 90,
        ),
        observe(
            inst(A, agent(A, Role.ACTIVE, DatabaseState.RUNNING, fenced=True)),
            inst(B, None, last_ok=T0 - 90),
        ),
        State.BOTH_DOWN,
        "promoting it again",
        has=[Promote(A, TTL)],
    ),
    Case(
        "BothDown: the standby reports a newer timeline -> ManualIntervention",
        status(State.BOTH_DOWN, since=T0 - 50),
        observe(
            inst(A, agent(A, Role.ACTIVE, DatabaseState.STOPPED, fenced=True, timeline=1)),
            inst(B, agent(B, Role.STANDBY, DatabaseState.STOPPED, timeline=3)),
        ),
        State.MANUAL_INTERVENTION,
        "cannot tell which holds the acknowledged writes",
        lacks=[Promote, Start],
    ),
    # ---------------------------------------------------------------- ManualIntervention
    Case(
        "ManualIntervention waits for the resume annotation",
        status(State.MANUAL_INTERVENTION, message="why"),
        pair_normal()[1],
        State.MANUAL_INTERVENTION,
        "why",
        lacks=[RenewLease, Promote],
    ),
    Case(
        "ManualIntervention resumed with an instance name makes it the active",
        status(State.MANUAL_INTERVENTION, message="why"),
        observe(
            inst(A, agent(A, Role.ACTIVE, DatabaseState.STOPPED, fenced=True)),
            inst(B, agent(B, Role.STANDBY, DatabaseState.STOPPED, timeline=3)),
            resume_token=B,
        ),
        State.INITIALIZING,
        "resumed by the user, who chose c-1 as the active: initialising c-1",
        has=[Promote(B, TTL)],
    ),
    # ---------------------------------------------------------------- Stopped
    Case(
        "stop: the standby is stopped first",
        _normal_status(),
        observe(inst(A, active_report()), inst(B, standby_report()), stopped=True),
        State.STOPPED,
        "stopping c-1",
        has=[Stop(B)],
        lacks=[Promote, RenewLease],
    ),
    Case(
        "Stopped with pods gone",
        status(State.STOPPED),
        observe(inst(A, exists=False), inst(B, exists=False), stopped=True),
        State.STOPPED,
        "storage and names kept",
    ),
    Case(
        "Stopped -> Initializing: the last active (c-1) is promoted, not ordinal 0",
        status(State.STOPPED, B, renewal=T0 - 500),
        observe(
            inst(A, standby_report(A, receiving=False, db=DatabaseState.STOPPED)),
            inst(B, agent(B, Role.ACTIVE, DatabaseState.STOPPED, fenced=True)),
        ),
        State.INITIALIZING,
        "initialising c-1 as the active",
        has=[Promote(B, TTL)],
    ),
    # ---------------------------------------------------------------- Switchover
    Case(
        "Normal -> Switchover on the annotation",
        _normal_status(),
        observe(
            inst(A, active_report(), label="active"),
            inst(B, standby_report(), label="standby"),
            switchover_to=B,
        ),
        State.SWITCHOVER,
        "switchover requested: c-1 will replace c-0",
    ),
    Case(
        "Switchover stops the active first",
        status(State.SWITCHOVER, pending=pending("Switchover", B, A)),
        observe(
            inst(A, active_report(), label="active"),
            inst(B, standby_report(), label="standby"),
            switchover_to=B,
        ),
        State.SWITCHOVER,
        "stopping c-0",
        has=[Stop(A), LabelPod(A, "none")],
        lacks=[Promote],
    ),
    Case(
        "Switchover promotes once the old active is stopped and the target caught up",
        status(State.SWITCHOVER, pending=pending("Switchover", B, A)),
        observe(
            inst(A, agent(A, Role.ACTIVE, DatabaseState.STOPPED, position=1000)),
            inst(B, standby_report(receiving=False, position=1000)),
            switchover_to=B,
        ),
        State.SWITCHOVER,
        "switchover: promoting c-1",
        has=[Promote(B, TTL)],
    ),
    # ---------------------------------------------------------------- more exits
    Case(
        "Switchover completes: the target serves, the cleanly stopped old active follows it",
        status(State.SWITCHOVER, pending=pending("Switchover", B, A, attempts=1, last=T0 - 1)),
        observe(
            inst(A, agent(A, Role.ACTIVE, DatabaseState.STOPPED)),
            inst(B, active_report(B, A, streaming=False, mode="async", timeline=2)),
            switchover_to=B,
        ),
        State.STANDBY_PARTIALLY_DOWN,
        "switchover to c-1 completed; c-0 is not streaming from c-1",
        has=[RenewLease(B, TTL), Follow(A, B), LabelPod(A, "none")],
    ),
    Case(
        "Failed -> Normal when the active serves again",
        status(State.FAILED, in_sync=False, degraded=True, mode="async"),
        observe(
            inst(A, active_report(mode="async", sync=False, lag=0), label="active"),
            inst(B, standby_report(), label="standby"),
        ),
        State.STANDBY_PARTIALLY_STARTING,
        "switching to sync",
        has=[RenewLease(A, TTL), SetReplication(A, "sync", B)],
    ),
    Case(
        "ManualIntervention resumed by a spec change re-evaluates from Initializing",
        status(State.MANUAL_INTERVENTION, message="why").model_copy(
            update={"intervention_generation": 3}
        ),
        observe(inst(A, active_report()), inst(B, standby_report()), generation=4),
        State.NORMAL,
        "resumed by the user: c-0 is active, c-1 streams in sync",
        has=[RenewLease(A, TTL)],
    ),
    # ---------------------------------------------------------------- single instance
    Case(
        "single: Initializing promotes ordinal 0",
        status(None, None, renewal=None, mode=None, pair=False),
        observe(inst(A, agent(A, Role.NONE, DatabaseState.STOPPED, timeline=None))),
        State.INITIALIZING,
        "initialising c-0 as the active",
        has=[Promote(A, TTL)],
    ),
    Case(
        "single: Initializing -> Normal",
        status(State.INITIALIZING, pair=False, mode=None),
        observe(inst(A, agent(A), label="active")),
        State.NORMAL,
        "c-0 is the active and serves",
        has=[RenewLease(A, TTL)],
    ),
    Case(
        "single: Normal -> ActiveDown when unreachable past the timeout",
        status(State.NORMAL, pair=False, mode=None),
        observe(inst(A, None, last_ok=T0 - 31)),
        State.ACTIVE_DOWN,
        "c-0 is down",
        lacks=[DeletePod],
    ),
    Case(
        "single: ActiveDown restarts a silent pod after 2 timeouts",
        status(State.ACTIVE_DOWN, pair=False, mode=None, since=T0 - 40),
        observe(inst(A, None, last_ok=T0 - 61)),
        State.ACTIVE_DOWN,
        "c-0 is down",
        has=[DeletePod(A, "uid-c-0", grace=1)],
    ),
    Case(
        "single: Failed after 3 pod restarts",
        status(
            State.ACTIVE_DOWN,
            pair=False,
            mode=None,
            since=T0 - 500,
            pending=pending("Restart", A, attempts=3, last=T0 - 61),
        ),
        observe(inst(A, None, last_ok=T0 - 500)),
        State.FAILED,
        "still down after 3 pod restarts",
        lacks=[DeletePod],
    ),
    Case(
        "single: ActiveDown -> Normal when back",
        status(State.ACTIVE_DOWN, pair=False, mode=None),
        observe(inst(A, agent(A), label="active")),
        State.NORMAL,
        "c-0 is the active and serves",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_decide(case: Case) -> None:
    d = decide(case.status, case.obs, case.now)
    assert d.state == case.state, d.reason
    assert case.reason in d.reason
    for action in case.has:
        assert action in d.actions, (action, d.actions)
    for kind in case.lacks:
        assert not [a for a in d.actions if isinstance(a, kind)], d.actions
    assert d.status.state == case.state.value
    promoted = {a.pod for a in d.actions if isinstance(a, Promote)}
    renewed = {a.pod for a in d.actions if isinstance(a, RenewLease)}
    assert len(promoted | renewed) <= 1, "two instances told to be active"


def test_restarted_operator_counts_a_recorded_promote_attempt_as_a_grant() -> None:
    """A promote sent by the previous operator process grants a lease on receipt."""
    st = status(
        State.ACTIVE_DOWN,
        pending=pending("Initialize", A, attempts=1, last=T0 - 3),
        renewal=T0 - 100,
    )
    plan = Plan(st, active_unreachable_for(100, started_at=T0 - 1), T0)
    assert plan.effective_renewal(A) == T0 - 3 + timing.GRANT_DELAY_SECONDS
    assert plan.effective_renewal(B) == T0 - 100  # trusted: ActiveDown grants no lease
    restarted = active_unreachable_for(100, started_at=T0 - 1)
    normal = Plan(status(State.NORMAL, renewal=T0 - 100), restarted, T0)
    assert normal.effective_renewal(A) == T0 - 1  # Normal renews without writing: unknown


def test_a_re_promoted_active_makes_the_standby_out_of_sync_first() -> None:
    """The active restarts async: commits it acknowledges are not on the standby. The
    standby must be recorded out of sync before the command, or a second failure of the
    active would promote it and lose those commits (seen in the freeze-twice scenario)."""
    fenced = agent(A, Role.ACTIVE, DatabaseState.RUNNING, fenced=True)
    old = status(State.ACTIVE_DOWN, since=T0 - 3, renewal=T0 - 60)
    d = decide(old, observe(inst(A, fenced), inst(B, standby_report(receiving=False))), T0)
    assert Promote(A, TTL) in d.actions
    record = d.status.instance(B)
    assert record is not None and not record.in_sync and d.status.replication_degraded
    # the re-promoted active dies before the operator saw it serve: no failover
    later = decide(d.status, active_unreachable_for(TIMEOUT + 1), T0 + TIMEOUT + 5)
    assert not [a for a in later.actions if isinstance(a, Promote)]
    assert later.status.pending_action is None or later.status.pending_action.kind != "Failover"
