"""A simulated pair (or single instance) driven by decide()'s actions.

The model is simple but keeps the physics that matter for data safety:
- each instance holds a list of committed writes (unique ints) and a timeline;
- commands take time: a command is in flight on its agent (reported as `busy`, one at a
  time) and completes later, never (the agent dies), or after the lease ran out;
- the lease runs on the agent's clock: an agent that runs fences itself when it ends,
  and kills a start or promote in flight that would otherwise open writes; for a hung
  agent (`freeze_agent`) its watchdog process kills the database when the lease ends
  (`watchdog=False`: no watchdog, only the liveness probe its pod was created with);
- the user edits the timers (and the agent port) between any two polls; running pods
  keep the probe and port they were created with;
- a client writes every poll to every writable active; in sync mode a write is
  acknowledged only when the sync standby streams (and then both hold it);
- a standby streams only while its data is a prefix of its upstream's data.

Safety is checked at every event, not only at writes: at no instant may two instances
be writable, counting a start or promote in flight that will open writes when it ends.
`legacy_agent=True` gives the agent of the first round (start mode chosen when the
command begins, `fenced` reported before the fence is applied), which the model must
be able to catch (tests/unit/ha/test_model_power.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from zenith_operator.api.status import ZenithClusterStatus
from zenith_operator.ha import persist, timing
from zenith_operator.ha.decide import decide
from zenith_operator.ha.model import (
    LONG_ACTIONS,
    Decision,
    DeletePod,
    Follow,
    InstanceObservation,
    Observations,
    Promote,
    Rebuild,
    RenewLease,
    SetReplication,
    Settings,
    Start,
    Stop,
)
from zenith_operator.ha.states import FailoverPolicy, State
from zenith_operator.wire import (
    AgentStatus,
    DatabaseState,
    PeerReplication,
    ReplicationStatus,
    Role,
)

# (pollingInterval, unreachableTimeout) pairs a user may switch to at any moment
TIMERS = [(1.0, 4), (1.0, 30), (2.0, 8), (1.0, 6)]
CRASH_RECOVERY = 0.3  # seconds an agent takes to restart its crashed database


@dataclass
class Inflight:
    kind: str  # promote | start | follow | rebuild | stop
    done_at: float
    action: object
    opens_writes: bool = False  # legacy agent: decided when the command began
    was_active: bool = False


@dataclass
class Node:
    name: str
    ordinal: int
    uid: int = 1
    pod: bool = True
    alive: bool = True  # agent + database processes
    reachable: bool = True  # operator -> agent network
    frozen: bool = False  # the agent process hangs; the database runs on
    frozen_since: float | None = None
    role: Role = Role.NONE
    running: bool = False
    fenced: bool = False  # the fence latch: no writes until a promote lifts it
    lease_until: float | None = None  # agent clock (== simulation clock)
    timeline: int = 0
    data: list[int] = field(default_factory=list)
    upstream: str | None = None
    mode: str = "async"
    sync_standby: str | None = None
    initialised: bool = False
    revision: int = 0  # the StatefulSet revision its pod was created from
    port: int = 0  # the agent port its pod was created with
    probe_kill: float = 0.0  # worst-case liveness kill of the probe it was created with
    inflight: Inflight | None = None
    latency: float = 0.0  # the next command on this agent takes this long

    def lease_valid(self, now: float) -> bool:
        return self.lease_until is not None and now < self.lease_until

    @property
    def writable(self) -> bool:
        return (
            self.pod
            and self.alive
            and self.role == Role.ACTIVE
            and self.running
            and not self.fenced
            and self.lease_until is not None
        )


class SafetyViolation(AssertionError):
    pass


class Sim:
    def __init__(
        self,
        replicas: int = 2,
        policy: FailoverPolicy = FailoverPolicy.ZERO_DATA_LOSS,
        interval: float = 1.0,
        timeout: int = 4,
        legacy_agent: bool = False,
        watchdog: bool = True,
    ) -> None:
        self.settings = Settings(
            replicas=replicas,
            polling_interval=interval,
            unreachable_timeout=timeout,
            failover_policy=policy,
        )
        self.legacy_agent = legacy_agent
        self.watchdog = watchdog  # the lease watchdog process (PostgreSQL engine)
        self.port = 0  # spec.zenithSpec.ports.agent, as an edit counter
        self.nodes = [Node(f"c-{i}", i) for i in range(replicas)]
        for n in self.nodes:
            n.probe_kill = self._probe_kill()
        self.now = 1_000_000.0
        self.status = ZenithClusterStatus()
        self.persisted = ZenithClusterStatus()
        self.started_at = self.now
        self.last_ok: dict[str, float] = {}
        self.silent_since: dict[str, float] = {}
        self.renewed: float | None = None
        self.acked: list[int] = []
        self.next_write = 1
        self.log: list[str] = []
        self.decision: Decision | None = None
        self.revision = 0  # the StatefulSet template's revision (its updateRevision)
        self.bad: set[int] = set()  # revisions whose database never starts (a bad template)
        self.good_revision = 0  # the revision before the last bad edit (what a revert restores)
        self.late = 0  # status writes still to land after their budget (a busy API server)
        self.unsent: set[str] = set()  # attempt times written late, never acted on

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def _probe_kill(self) -> float:
        s = self.settings
        probe = timing.liveness_timing(int(s.polling_interval), s.unreachable_timeout)
        return float(probe.worst_case_kill_seconds)

    # ------------------------------------------------------------------ faults
    def crash(self, i: int) -> None:
        n = self.nodes[i]
        n.alive, n.running, n.lease_until, n.inflight = False, False, None, None
        n.frozen, n.frozen_since = False, None

    def crash_db(self, i: int) -> None:
        """The database process dies; the agent lives on (and keeps its lease) and
        restarts it at once, as a `start` taking CRASH_RECOVERY seconds (or the time
        `slow` set for its next command)."""
        n = self.nodes[i]
        if n.alive and not n.frozen:
            was_running, n.running = n.running, False
            restart = was_running and n.inflight is None and n.initialised
            if restart and n.role in (Role.ACTIVE, Role.STANDBY):
                took = n.latency or CRASH_RECOVERY
                n.latency = 0.0
                opens = n.role == Role.ACTIVE and not n.fenced and n.lease_valid(self.now)
                n.inflight = Inflight("start", self.now + took, Start(n.name), opens, True)

    def restart(self, i: int) -> None:
        n = self.nodes[i]
        if n.alive or not n.pod:
            return
        n.alive = True
        if n.role == Role.ACTIVE:
            n.fenced = True  # an active boots fenced: no lease survives a restart
        n.running = n.initialised and n.revision not in self.bad

    def freeze_agent(self, i: int) -> None:
        n = self.nodes[i]
        if n.alive and n.pod and not n.frozen:
            n.frozen, n.frozen_since = True, self.now

    def slow(self, i: int, seconds: float) -> None:
        """The next command on agent i takes `seconds` (crash recovery, a long copy)."""
        self.nodes[i].latency = seconds

    def delete_pod(self, i: int) -> None:
        self.crash(i)
        self.nodes[i].pod = False

    def recreate(self, i: int) -> None:
        n = self.nodes[i]
        if not n.pod:
            n.pod, n.uid, n.revision, n.port = True, n.uid + 1, self.revision, self.port
            n.probe_kill = self._probe_kill()
            self.restart(i)

    def change_config(self, i: int = 0) -> None:
        """A template edit (ConfigMap content, image, env, ...): a new revision, existing
        pods keep theirs."""
        self.revision += 1

    def break_template(self) -> None:
        """A template edit whose pods' database never starts (a bad image or setting)."""
        self.good_revision = self.revision
        self.revision += 1
        self.bad.add(self.revision)

    def revert_template(self) -> None:
        """The user reverts the bad edit: the template is the old revision again."""
        self.revision = self.good_revision

    def set_timers(self, k: int) -> None:
        """A live edit of pollingInterval / unreachableTimeout: the probes change, so the
        template gets a new revision (running pods keep their probes until replaced)."""
        interval, timeout = TIMERS[k % len(TIMERS)]
        if (interval, timeout) != (
            self.settings.polling_interval,
            self.settings.unreachable_timeout,
        ):
            self.revision += 1
        self.settings = replace(
            self.settings, polling_interval=interval, unreachable_timeout=timeout
        )

    def change_agent_port(self) -> None:
        """A live edit of ports.agent: pods created before it listen on the old port."""
        self.port += 1

    def partition(self, i: int) -> None:
        self.nodes[i].reachable = False

    def heal(self, i: int) -> None:
        self.nodes[i].reachable = True

    def late_write(self, i: int) -> None:
        """The next status writes (1 to 4) land after the write budget: their cycles send
        lease renewals but no command (controller/executor.py)."""
        self.late = 1 + i % 4

    def restart_operator(self) -> None:
        self.unsent = set()
        self.status = self.persisted.model_copy(deep=True)
        self.started_at = self.now
        self.last_ok = {}
        self.silent_since = {}
        self.renewed = None

    def heal_all(self) -> None:
        for i, n in enumerate(self.nodes):
            self.heal(i)
            if n.frozen:
                self._liveness_kill(n)
            if n.port != self.port and n.pod:
                self.delete_pod(i)  # a rollout would replace it; the model just does
            self.recreate(i)
            self.restart(i)
            n.latency = 0.0

    # ------------------------------------------------------------------ physics
    def _streaming(self, s: Node) -> Node | None:
        if not (s.pod and s.alive and s.running and s.role == Role.STANDBY and s.upstream):
            return None
        up = self.node(s.upstream)
        if not (up.pod and up.alive and up.running and up.role == Role.ACTIVE):
            return None
        if up.data[: len(s.data)] != s.data:
            return None
        return up

    def _replicate(self) -> None:
        for s in self.nodes:
            up = self._streaming(s)
            if up is not None:
                s.data = list(up.data)
                s.timeline = up.timeline

    def _agent_runs(self, n: Node) -> bool:
        return n.pod and n.alive and not n.frozen

    def _opens_writes(self, n: Node) -> bool:
        """A start or promote in flight that will make n writable when it completes."""
        f = n.inflight
        if f is None or not self._agent_runs(n) or f.kind not in ("start", "promote"):
            return False
        if self.legacy_agent:
            return f.opens_writes
        return not n.fenced and n.lease_valid(self.now) and n.role == Role.ACTIVE

    def _check(self, what: str) -> None:
        writers = [n.name for n in self.nodes if n.writable or self._opens_writes(n)]
        if len(writers) > 1:
            raise SafetyViolation(f"two writable ({what}): {writers}")

    def _lease_ends(self, n: Node) -> None:
        """The agent's watcher at the end of its lease."""
        if self.legacy_agent and n.inflight is not None:
            n.fenced = True  # reported at once; the real fence waits for the command
            return
        if n.inflight is not None and n.inflight.kind in ("start", "promote"):
            n.inflight, n.running = None, False  # killed: it must not open writes
        n.fenced = True

    def _liveness_kill(self, n: Node) -> None:
        """The kubelet kills the hung container and starts it again (same pod)."""
        self.crash(n.ordinal)
        self.restart(n.ordinal)

    def _next_event(self, until: float) -> tuple[float, str, Node] | None:
        events: list[tuple[float, str, Node]] = []
        for n in self.nodes:
            if not (n.pod and n.alive):
                continue
            if n.frozen and n.frozen_since is not None:
                events.append((n.frozen_since + n.probe_kill, "kill", n))
                if self.watchdog and n.role == Role.ACTIVE and n.running and n.lease_until:
                    events.append((n.lease_until, "watchdog", n))  # kills the database
                continue
            if n.inflight is not None:
                events.append((n.inflight.done_at, "done", n))
            if n.role == Role.ACTIVE and n.lease_until is not None and not n.fenced:
                events.append((n.lease_until, "lease", n))
        due = [e for e in events if e[0] <= until]
        return min(due, key=lambda e: (e[0], e[1])) if due else None

    def _advance(self, until: float) -> None:
        while (event := self._next_event(until)) is not None:
            at, kind, n = event
            self.now = max(self.now, at)
            if kind == "kill":
                self._liveness_kill(n)
            elif kind == "watchdog":
                n.running = False
            elif kind == "lease":
                self._lease_ends(n)
            else:
                self._complete(n)
            self._replicate()
            self._check(f"{kind} of {n.name} at {at:.1f}")
        self.now = until

    def _write(self) -> None:
        writers = [n for n in self.nodes if n.writable]
        if len(writers) > 1:
            raise SafetyViolation(f"two writable actives: {[w.name for w in writers]}")
        for w in writers:
            value = self.next_write
            self.next_write += 1
            w.data.append(value)
            if w.mode == "sync":
                s = self.node(w.sync_standby) if w.sync_standby else None
                if s is not None and self._streaming(s) is w:
                    s.data.append(value)
                    self.acked.append(value)
                # else: committed locally, the client still waits: not acknowledged
            else:
                self.acked.append(value)
                self._replicate()

    # ------------------------------------------------------------------ observation
    def _report(self, n: Node) -> AgentStatus:
        peers = []
        if n.role == Role.ACTIVE:
            for s in self.nodes:
                if s is not n and self._streaming(s) is n:
                    sync = n.mode == "sync" and n.sync_standby == s.name
                    peers.append(
                        PeerReplication(name=s.name, streaming=True, sync=sync, lag_bytes=0)
                    )
        repl = ReplicationStatus(
            mode=n.mode if n.role == Role.ACTIVE else None,
            sync_standby=n.sync_standby if n.role == Role.ACTIVE else None,
            peers=peers,
            receiving=self._streaming(n) is not None,
        )
        busy = n.inflight.kind if n.inflight is not None else None
        error = None
        if n.running:
            database = DatabaseState.RUNNING
        elif busy in ("start", "promote"):
            database = DatabaseState.STARTING
        elif n.revision in self.bad and n.initialised:
            database, error = DatabaseState.CRASHED, "postgres exited with code 1 on start"
        else:
            database = DatabaseState.STOPPED
        return AgentStatus(
            pod=n.name,
            role=n.role,
            database=database,
            fenced=n.fenced,
            timeline=n.timeline if n.initialised else None,
            position=len(n.data) if n.initialised else None,
            replication=repl,
            lease_remaining=None,
            busy=busy,
            last_error=error,
            agent_version="sim",
            engine="sim",
        )

    def _answers(self, n: Node) -> bool:
        return self._agent_runs(n) and n.reachable and n.port == self.port

    def observe(self) -> Observations:
        out = []
        for n in self.nodes:
            ok = self._answers(n)
            if ok:
                self.last_ok[n.name] = self.now
                self.silent_since.pop(n.name, None)
            elif n.pod:
                self.silent_since.setdefault(n.name, self.now)
            out.append(
                InstanceObservation(
                    name=n.name,
                    ordinal=n.ordinal,
                    pod_exists=n.pod,
                    pod_uid=f"{n.name}-{n.uid}" if n.pod else None,
                    agent=self._report(n) if ok else None,
                    error=None if ok else "unreachable",
                    last_ok=self.last_ok.get(n.name),
                    revision=f"c-{n.revision}" if n.pod else None,
                    silent_since=self.silent_since.get(n.name),
                    liveness_kill_seconds=n.probe_kill if n.pod else None,
                    # the kubelet reports the dead container of an agent that answered
                    proven_dead=n.pod and not n.alive and n.name in self.last_ok,
                )
            )
        return Observations(
            settings=self.settings,
            instances=tuple(out),
            started_at=self.started_at,
            lease_renewed_at=self.renewed,
            update_revision=f"c-{self.revision}",
            unsent=frozenset(self.unsent),
        )

    # ------------------------------------------------------------------ actions
    def _check_promotion(self, target: Node) -> None:
        others = [
            n for n in self.nodes if n is not target and (n.writable or self._opens_writes(n))
        ]
        if others:
            raise SafetyViolation(f"promoting {target.name} while {others[0].name} is writable")
        if self.settings.failover_policy == FailoverPolicy.ZERO_DATA_LOSS:
            missing = [w for w in self.acked if w not in target.data]
            if missing:
                raise SafetyViolation(
                    f"promoting {target.name} which lacks acknowledged writes {missing[:5]}"
                )

    def apply(self, d: Decision) -> None:
        for a in d.actions:
            if isinstance(a, RenewLease | Promote):
                self.renewed = self.now  # the attempt may have been received
            target = self.node(a.pod) if hasattr(a, "pod") else None
            if target is None:
                continue
            if isinstance(a, DeletePod):
                if target.pod and a.uid == f"{target.name}-{target.uid}":
                    self.delete_pod(target.ordinal)
                continue
            if not self._answers(target):
                continue
            if isinstance(a, RenewLease | SetReplication):
                self._command(a, target)  # never takes the command lock
            elif isinstance(a, LONG_ACTIONS) and target.inflight is None:
                self._begin(a, target)  # (a busy agent refuses: 503)

    def _begin(self, a: object, t: Node) -> None:
        kind = type(a).__name__.lower()
        if isinstance(a, Promote):
            t.lease_until = self.now + a.lease_ttl  # granted first, as the agent does
            if t.writable:
                return
        if isinstance(a, Follow | Rebuild) and t.writable:
            return  # the agent refuses (409)
        opens = isinstance(a, Promote) or (
            isinstance(a, Start) and t.role == Role.ACTIVE and not t.fenced
            and t.lease_valid(self.now)
        )  # fmt: skip
        was_active = t.role == Role.ACTIVE
        if isinstance(a, Promote):
            t.role, t.fenced = Role.ACTIVE, False  # the latch is lifted as the promote begins
        t.inflight = Inflight(kind, self.now + t.latency, a, opens, was_active)
        t.latency = 0.0
        self._check(f"{kind} sent to {t.name}")
        if t.inflight.done_at <= self.now:
            self._complete(t)

    def _complete(self, t: Node) -> None:
        f = t.inflight
        assert f is not None
        t.inflight = None
        self._command(f.action, t, opens=f.opens_writes, was_active=f.was_active)

    def _command(self, a: object, t: Node, opens: bool = False, was_active: bool = False) -> None:
        self._run_command(a, t, opens, was_active)
        if t.revision in self.bad:
            t.running = False  # its database exits at once, whatever the command

    def _run_command(self, a: object, t: Node, opens: bool, was_active: bool) -> None:
        if isinstance(a, RenewLease):
            if t.role == Role.ACTIVE:
                t.lease_until = self.now + a.ttl
        elif isinstance(a, Promote):
            if not self.legacy_agent and not t.lease_valid(self.now):
                t.fenced = True
                return
            self._check_promotion(t)
            if not t.initialised:
                t.initialised, t.timeline = True, 1
            elif not was_active:
                t.timeline = max(n.timeline for n in self.nodes) + 1
            t.role, t.fenced, t.running, t.upstream = Role.ACTIVE, False, True, None
            t.mode, t.sync_standby = "async", None
        elif isinstance(a, Follow | Rebuild):
            if t.writable:
                return  # the agent refuses (409)
            up = self.node(a.peer)
            if isinstance(a, Rebuild) or not t.initialised:
                if not (up.alive and up.running and up.role == Role.ACTIVE):
                    return
                t.data, t.timeline, t.initialised = list(up.data), up.timeline, True
            t.role, t.upstream, t.fenced, t.running, t.lease_until = (
                Role.STANDBY,
                a.peer,
                False,
                True,
                None,
            )
            t.mode, t.sync_standby = "async", None
        elif isinstance(a, SetReplication):
            if t.role == Role.ACTIVE:
                t.mode, t.sync_standby = a.mode, a.standby
        elif isinstance(a, Stop):
            t.running = False
        elif isinstance(a, Start):
            t.running = t.initialised
            writable_start = opens if self.legacy_agent else self._opens_now(t)
            if t.role == Role.ACTIVE and t.running and not writable_start:
                t.fenced = True  # started read-only
            if writable_start and t.running:
                self._check(f"{t.name} completes a writable start")

    def _opens_now(self, t: Node) -> bool:
        return t.role == Role.ACTIVE and not t.fenced and t.lease_valid(self.now)

    # ------------------------------------------------------------------ the loop
    def step(self) -> Decision:
        self._advance(self.now + self.settings.polling_interval)
        for n in self.nodes:  # the StatefulSet controller recreates deleted pods
            if not n.pod:
                self.recreate(n.ordinal)
        self._replicate()
        d = decide(self.status, self.observe(), self.now)
        late = self.late > 0 and persist.changed(self.persisted, d.status)
        if late:  # it lands later: no command this cycle, its attempts are due again
            self.late -= 1
            self.unsent |= persist.attempt_stamps(d.status) - persist.attempt_stamps(self.persisted)
        if persist.changed(self.persisted, d.status):
            self.persisted = d.status.model_copy(deep=True)  # written BEFORE acting
        if not late:
            self.unsent &= persist.attempt_stamps(d.status)
        self.status = d.status
        self.apply(replace(d, actions=tuple(a for a in d.actions if isinstance(a, RenewLease)))
                   if late else d)  # fmt: skip
        self._replicate()
        self._check("after the decision")
        self._write()
        self.decision = d
        self.log.append(f"{self.now:.1f} {d.state.value}: {d.reason}")
        return d

    def run_until_normal(self, limit: int) -> bool:
        return any(self.step().state == State.NORMAL for _ in range(limit))

    def rolled_out(self) -> bool:
        return (
            self.status.state == State.NORMAL.value
            and self.status.rollout is None
            and all(n.revision == self.revision for n in self.nodes)
        )

    def run_until_rolled_out(self, limit: int) -> bool:
        for _ in range(limit):
            self.step()
            if self.rolled_out():
                return True
        return False

    def active_data(self) -> list[int]:
        name = self.status.active_instance
        return self.node(name).data if name else []
