"""Inputs and outputs of `decide()`: observations in, a decision (state, actions, status) out.

All plain frozen data. Times are wall-clock seconds (`time.time()` of the operator);
`decide()` never reads a clock: `now` is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zenith_operator.api.status import ZenithClusterStatus
from zenith_operator.ha.states import FailoverPolicy, State
from zenith_operator.wire import AgentStatus, DatabaseState, ReplicationMode, Role

PersistedStatus = ZenithClusterStatus


@dataclass(frozen=True)
class Settings:
    """The part of the spec (and metadata) the state machine reads, fresh each cycle."""

    replicas: int = 2  # instances run now (held above the spec while the active is beyond it)
    desired_replicas: int | None = None  # spec.zenithSpec.replicas when lower than replicas
    polling_interval: float = 10.0
    unreachable_timeout: int = 30
    failover_policy: FailoverPolicy = FailoverPolicy.ZERO_DATA_LOSS
    stopped: bool = False
    generation: int | None = None
    resume_token: str | None = None  # value of naming.RESUME_ANNOTATION
    switchover_to: str | None = None  # value of ha.SWITCHOVER_ANNOTATION


@dataclass(frozen=True)
class InstanceObservation:
    """One instance (pod NAME-ORDINAL) as seen in this cycle."""

    name: str
    ordinal: int
    pod_exists: bool = True
    pod_uid: str | None = None
    pod_phase: str | None = None
    pod_ready: bool = False
    pod_deleting: bool = False
    pod_ip: str | None = None
    role_label: str | None = None
    agent: AgentStatus | None = None  # None: unknown this cycle (see error)
    error: str | None = None
    last_ok: float | None = None  # last good answer from this pod uid (this operator process)
    # when this operator first saw this pod uid: silence of a new incarnation counts from
    # here, never from its predecessor's last answer (its start-up grace)
    seen_since: float | None = None
    inflight: str | None = None  # long command the executor is running on this pod
    revision: str | None = None  # the pod's controller-revision-hash label (its template)
    silent_since: float | None = None  # first poll it did not answer since the last good one
    liveness_kill_seconds: float | None = None  # worst case of the pod's deployed probe
    # the kubelet reports the container of the agent that last answered as finished (and
    # no promote has been sent since that answer): nothing of that incarnation runs, and
    # a later one boots fenced
    proven_dead: bool = False

    @property
    def answering(self) -> bool:
        return self.pod_exists and self.agent is not None

    @property
    def serving_active(self) -> bool:
        """Writable active: role active, database running, not fenced."""
        a = self.agent
        return (
            self.pod_exists
            and a is not None
            and a.role == Role.ACTIVE
            and a.database == DatabaseState.RUNNING
            and not a.fenced
        )

    @property
    def promoted(self) -> bool:
        """A writable active whose promote, if one was running, has ended: the agent
        reports the new role as the promote begins, before the engine accepts writes."""
        return self.serving_active and self.busy != "promote"

    @property
    def busy(self) -> str | None:
        if self.inflight:
            return self.inflight
        a = self.agent
        if a is None:
            return None
        if a.busy:
            return a.busy
        if a.database == DatabaseState.REBUILDING:
            return "rebuild"
        return None


@dataclass(frozen=True)
class Observations:
    settings: Settings
    instances: tuple[InstanceObservation, ...]  # the expected instances, by ordinal
    started_at: float = 0.0  # when this operator process started (wall clock)
    lease_renewed_at: float | None = None  # end of the last lease grant attempt (memory)
    # the StatefulSet's status.updateRevision, once it has observed the current template
    # (None: unknown); a pod on another revision runs an older template
    update_revision: str | None = None
    # times of attempts (pendingAction / rollout `lastAttempt`) that this process wrote
    # to the status but never acted on (the write landed after its budget): due again
    unsent: frozenset[str] = frozenset()

    def get(self, name: str | None) -> InstanceObservation | None:
        return next((i for i in self.instances if i.name == name), None)

    def silence_counted_from(self, o: InstanceObservation) -> float:
        """Where the silence of a pod incarnation (uid) is counted from: the latest of its
        last good answer, this operator's start, and the moment this operator first saw
        the incarnation (a recreated pod gets its own start-up grace instead of
        inheriting its predecessor's silence)."""
        known = [v for v in (o.last_ok, o.seen_since) if v is not None]
        return max([self.started_at, *known])


# --- actions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Promote:
    pod: str
    lease_ttl: float


@dataclass(frozen=True)
class Follow:
    pod: str
    peer: str


@dataclass(frozen=True)
class Rebuild:
    pod: str
    peer: str


@dataclass(frozen=True)
class SetReplication:
    pod: str
    mode: ReplicationMode
    standby: str | None = None


@dataclass(frozen=True)
class RenewLease:
    pod: str
    ttl: float


@dataclass(frozen=True)
class Stop:
    """Stop (and so fence) the database of pod."""

    pod: str


@dataclass(frozen=True)
class Start:
    pod: str


@dataclass(frozen=True)
class LabelPod:
    pod: str
    role: str  # active | standby | none


@dataclass(frozen=True)
class DeletePod:
    pod: str
    uid: str | None = None  # precondition: delete only this incarnation
    grace: int | None = None  # gracePeriodSeconds (None: the pod's own, 30 s by default)


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    type: str = "Normal"  # Normal | Warning


Action = (
    Promote
    | Follow
    | Rebuild
    | SetReplication
    | RenewLease
    | Stop
    | Start
    | LabelPod
    | DeletePod
    | Event
)

LONG_ACTIONS = (Promote, Follow, Rebuild, Stop, Start)


@dataclass(frozen=True)
class Decision:
    state: State
    actions: tuple[Action, ...]
    status: PersistedStatus
    reason: str
    notes: tuple[str, ...] = field(default=())
