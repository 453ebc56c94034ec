"""The working memory of one `decide()` call: derived views, actions and the new status.

Pure: everything is computed from (status, observations, now).
"""

from __future__ import annotations

import re

from zenith_operator.api.status import InstanceStatus, PendingAction, ZenithClusterStatus
from zenith_operator.ha import persist, timing
from zenith_operator.ha.model import (
    Action,
    Decision,
    Event,
    InstanceObservation,
    LabelPod,
    Observations,
    Promote,
    RenewLease,
    Start,
)
from zenith_operator.ha.states import WARNING_STATES, Health, PendingKind, State
from zenith_operator.ha.times import fmt, parse
from zenith_operator.wire import DatabaseState, Role

FOLLOW_ATTEMPTS_BEFORE_REBUILD = 2
FAILED_AFTER_TIMEOUTS = 10  # ActiveDown/BothDown without a safe way out -> Failed
RESTART_AFTER_TIMEOUTS = 2  # an unreachable pod that still exists is deleted after this
MAX_RESTARTS = 3
# States in which the operator renews no lease: a status written in one of them holds
# the last grant (see Plan.effective_renewal).
NO_GRANT_STATES = (
    State.ACTIVE_DOWN.value,
    State.BOTH_DOWN.value,
    State.FAILOVER.value,
    State.FAILED.value,
)
DEAD_POD_GRACE_SECONDS = 1  # deleting a pod declared dead (silent past its lease)
CATCHUP_LAG_BYTES = 1 << 20  # a streaming standby this close is switched to sync


def _state_of(value: str | None) -> State | None:
    try:
        return State(value) if value else None
    except ValueError:
        return None


class Plan:
    def __init__(self, status: ZenithClusterStatus, obs: Observations, now: float) -> None:
        self.old = status
        self.st = status.model_copy(deep=True)
        self.obs = obs
        self.s = obs.settings
        self.now = now
        self.timeout = obs.settings.unreachable_timeout
        self.ttl = timing.lease_ttl(self.timeout, obs.settings.polling_interval)
        self.state = _state_of(status.state)
        self.actions: list[Action] = []
        self.health_hint: dict[str, Health] = {}
        self.ttl_in_force = self._ttl_in_force()

    def _ttl_in_force(self) -> float:
        """The largest TTL a live lease may hold; recorded so a restart knows it too.

        A larger TTL takes effect at once (the status is written before the grant); a
        smaller one only once every lease granted with the larger one has ended.
        """
        recorded = self.old.lease_ttl
        if recorded is None or recorded <= self.ttl:
            self.st.lease_ttl, self.st.lease_ttl_until = self.ttl, None
            return self.ttl
        until = parse(self.old.lease_ttl_until)
        if until is None:
            until = self.now + recorded + timing.GRANT_DELAY_SECONDS
            self.st.lease_ttl_until = fmt(until)
        if self.now >= until:
            self.st.lease_ttl, self.st.lease_ttl_until = self.ttl, None
            return self.ttl
        return recorded

    # ------------------------------------------------------------------ views
    @property
    def names(self) -> list[str]:
        return [o.name for o in self.obs.instances]

    @property
    def pair(self) -> bool:
        return self.s.replicas >= 2 and len(self.obs.instances) >= 2

    def inst(self, name: str | None) -> InstanceObservation:
        found = self.obs.get(name)
        if found is not None:
            return found
        return InstanceObservation(name=name or "?", ordinal=99, pod_exists=False)

    def other(self, name: str | None) -> str | None:
        return next((n for n in self.names if n != name), None) if self.pair else None

    def recorded(self, name: str) -> InstanceStatus:
        return self.old.instance(name) or InstanceStatus(name=name)

    def silent_for(self, o: InstanceObservation) -> float:
        """Seconds without a good answer from this pod incarnation (uid), counted from
        `Observations.silence_counted_from`."""
        if o.answering:
            return 0.0
        return self.now - self.obs.silence_counted_from(o)

    def down(self, o: InstanceObservation) -> bool:
        """Counted down: no pod, its container reported dead by the kubelet, or the agent
        silent for unreachableTimeout."""
        if not o.pod_exists or (o.agent is None and o.proven_dead):
            return True
        return o.agent is None and self.silent_for(o) >= self.timeout

    def state_age(self) -> float:
        since = parse(self.old.since)
        return self.now - since if since is not None else 0.0

    def effective_renewal(self, name: str) -> float:
        """Latest time instance `name` may have received a lease.

        A restarted operator does not know what its predecessor granted after the status
        was last written, and assumes a grant at its own start, unless the status was
        written in a state that grants no lease (then `lastLeaseRenewal` is the last
        grant) and no promote since (each is recorded in the pending action first).
        """
        values = [parse(self.old.last_lease_renewal), self.obs.lease_renewed_at]
        if self.obs.lease_renewed_at is None:  # nothing granted by this process yet
            if not self._grants_recorded():
                values.append(self.obs.started_at)
            p = self.old.pending_action
            last_attempt = parse(p.last_attempt) if p is not None and p.target == name else None
            if last_attempt is not None:  # a promote sent then grants on receipt
                values.append(last_attempt + timing.GRANT_DELAY_SECONDS)
        return max([v for v in values if v is not None] or [self.obs.started_at])

    def _grants_recorded(self) -> bool:
        return self.old.state in NO_GRANT_STATES and self.old.last_lease_renewal is not None

    def never_leased(self) -> bool:
        """A brand-new cluster: no lease was ever granted, no promote ever sent."""
        p = self.old.pending_action
        no_promote = p is None or (p.kind == PendingKind.INITIALIZE and p.attempts == 0)
        return (
            self.old.state in (None, State.INITIALIZING.value)
            and self.old.last_lease_renewal is None
            and self.obs.lease_renewed_at is None
            and no_promote
        )

    def quiet(self, name: str) -> str | None:
        """None when `name` cannot be writing; otherwise why we must wait."""
        o = self.inst(name)
        if not o.pod_exists:
            return None
        sent = next(
            (a for a in self.actions if isinstance(a, Promote | Start) and a.pod == name), None
        )
        if sent is not None:  # decided in this very cycle: it may open writes
            return f"{name} was just sent a {type(sent).__name__.lower()}"
        a = o.agent
        if a is None:
            recorded_uid = self.recorded(name).pod_uid
            if recorded_uid and o.pod_uid and o.pod_uid != recorded_uid:
                return None  # the pod we last saw was terminated and replaced
            if self.never_leased():
                return None
            if o.inflight == "promote":
                return f"a promote to {name} is in flight"
            if o.proven_dead:
                return None  # the kubelet saw its container end; a new one boots fenced
            not_before, what = self.released_at(o)
            if self.now >= not_before:
                return None
            return f"{name} is unreachable and {what} may last {not_before - self.now:.1f}s more"
        if (
            a.role == Role.ACTIVE
            and not a.fenced
            and a.database in (DatabaseState.RUNNING, DatabaseState.STARTING)
        ):
            return f"{name} is still a writable active"
        busy = o.busy  # the agent's command, or one the executor has sent it
        if busy == "promote" or (busy == "start" and a.role == Role.ACTIVE and not a.fenced):
            return f"{name} runs a {busy} that could make it writable"
        return None

    def released_at(self, o: InstanceObservation) -> tuple[float, str]:
        """When an unreachable instance certainly accepts no more writes (and which bound
        that is): its lease has ended, and a hung agent's container has been killed by
        the liveness probe the pod was created with."""
        lease = timing.promotion_not_before(self.effective_renewal(o.name), self.ttl_in_force)
        if o.liveness_kill_seconds is not None:
            since = o.silent_since if o.silent_since is not None else self.obs.started_at
            killed = timing.killed_by(since, o.liveness_kill_seconds)
            if killed > lease:
                return killed, "a hung agent's time until its liveness kill"
        return lease, "its lease"

    def promote_block(self, target: str) -> str | None:
        for name in self.names:
            if name != target:
                why = self.quiet(name)
                if why:
                    return why
        return None

    # ------------------------------------------------------------------ actions
    def act(self, *actions: Action) -> None:
        for a in actions:
            if a not in self.actions:
                self.actions.append(a)

    def label(self, name: str, role: str) -> None:
        o = self.inst(name)
        if o.pod_exists and o.role_label != role:
            self.act(LabelPod(name, role))

    def make_writable(self, action: Promote) -> None:
        """Send a promote (which starts async): first record that no other instance is
        known to hold its writes any more."""
        for name in self.names:
            if name != action.pod:
                self.set_in_sync(name, False)
        if self.pair:
            self.st.replication_degraded = True
        self.act(action)

    def renew(self, name: str) -> None:
        self.act(RenewLease(name, self.ttl))
        self.label(name, "active")

    def event(self, reason: str, message: str, warning: bool = False) -> None:
        self.act(Event(reason, message, "Warning" if warning else "Normal"))

    def pending(self, kind: PendingKind, target: str, source: str | None = None) -> PendingAction:
        p = self.st.pending_action
        if p is None or p.kind != kind or p.target != target:
            p = PendingAction(kind=kind, target=target, source=source, since=fmt(self.now))
            self.st.pending_action = p
        return p

    def pending_for(self, kind: PendingKind, target: str) -> PendingAction | None:
        p = self.st.pending_action
        return p if p is not None and p.kind == kind and p.target == target else None

    def clear_pending(self, *kinds: PendingKind, target: str | None = None) -> None:
        p = self.st.pending_action
        if p is not None and p.kind in kinds and (target is None or p.target == target):
            self.st.pending_action = None

    def due(self, p: PendingAction, every: float | None = None) -> bool:
        """No attempt yet, the last one `every` seconds ago, or the last one never sent."""
        if self.unsent(p.last_attempt):
            return True
        last = parse(p.last_attempt)
        return last is None or self.now - last >= (every if every is not None else self.timeout)

    def unsent(self, stamp: str | None) -> bool:
        """The attempt recorded at `stamp` was written late and never acted on."""
        return stamp is not None and stamp in self.obs.unsent

    def sent_attempts(self, p: PendingAction) -> int:
        """Attempts at intent p whose commands were sent (an unsent last one is not)."""
        return p.attempts - int(self.unsent(p.last_attempt) and p.attempts > 0)

    def attempt(self, p: PendingAction, every: float | None = None) -> bool:
        """True (and recorded) when a command for intent p is due now. An attempt that
        was never sent is replaced, not counted."""
        if not self.due(p, every):
            return False
        if not self.unsent(p.last_attempt):
            p.attempts += 1
        p.last_attempt = fmt(self.now)
        return True

    def set_in_sync(self, name: str, value: bool, lag: int | None = None) -> None:
        i = self._inst_status(name)
        i.in_sync = value
        i.lag_bytes = lag

    def _inst_status(self, name: str) -> InstanceStatus:
        i = self.st.instance(name)
        if i is None:
            i = InstanceStatus(name=name)
            self.st.instances.append(i)
        return i

    # ------------------------------------------------------------------ result
    def health(self, o: InstanceObservation) -> Health:
        if not o.pod_exists:
            return Health.MISSING
        if o.agent is None:
            return Health.UNREACHABLE
        if o.name in self.health_hint:
            return self.health_hint[o.name]
        if o.busy or o.agent.database in (DatabaseState.STARTING, DatabaseState.REBUILDING):
            return Health.STARTING
        if o.agent.database != DatabaseState.RUNNING:
            return Health.DEGRADED
        return Health.HEALTHY

    def _update_instances(self) -> None:
        for o in self.obs.instances:
            i = self._inst_status(o.name)
            i.health = self.health(o)
            if o.name == self.st.active_instance:
                i.role = "active"
            else:
                i.role = "standby" if self.pair else "none"
            if o.agent is not None:
                i.timeline = o.agent.timeline if o.agent.timeline is not None else i.timeline
                i.position = o.agent.position if o.agent.position is not None else i.position
                i.last_seen = fmt(self.now)
                i.pod_uid = o.pod_uid or i.pod_uid
        keep = set(self.names)
        self.st.instances = sorted(
            (i for i in self.st.instances if i.name in keep), key=lambda i: self.names.index(i.name)
        )

    def finish(self, state: State, reason: str) -> Decision:
        st = self.st
        st.standby_instance = self.other(st.active_instance)
        if not self.pair:
            st.replication_mode = None
            st.replication_degraded = False
        if state != self.state:
            st.state = state
            st.since = fmt(self.now)
            st.message = reason
            self.actions.insert(0, Event(state.value, reason, _event_type(state)))
        elif state == State.MANUAL_INTERVENTION:
            pass  # keep the message that sent us there
        elif _shape(reason) != _shape(st.message or ""):
            # the same state for another reason (a new error, a new step): say so; a mere
            # counter ("not answered for 3s" -> "4s") is no reason to write the status
            st.message = reason
        if st.replication_degraded and not self.old.replication_degraded and self.pair:
            self.event("ReplicationDegraded", f"{st.active_instance} replicates asynchronously")
        if self.old.replication_degraded and not st.replication_degraded and self.pair:
            self.event("ReplicationRestored", f"{st.active_instance} replicates synchronously")
        if self.obs.lease_renewed_at is not None:
            st.last_lease_renewal = fmt(self.obs.lease_renewed_at)
        st.observed_generation = self.s.generation
        self._update_instances()
        st.conditions = persist.conditions(self.old, st, state, self.pair, fmt(self.now))
        return Decision(state=state, actions=tuple(self.actions), status=st, reason=reason)


def _shape(text: str) -> str:
    return re.sub(r"\d+(\.\d+)?", "#", text)


def _event_type(state: State) -> str:
    return "Warning" if state in WARNING_STATES else "Normal"
