"""A simulated pair (or single instance) driven by decide()'s actions.

The model is deliberately simple but keeps the physics that matter for data safety:
- each instance holds a list of committed writes (unique ints) and a timeline;
- the active fences itself when its lease runs out (same clock as the operator);
- a client writes every step to every writable active; in sync mode a write is
  acknowledged only when the sync standby streams (and then both hold it);
- a standby streams only while its data is a prefix of its upstream's data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zenith_operator.api.status import ZenithClusterStatus
from zenith_operator.ha import persist
from zenith_operator.ha.decide import decide
from zenith_operator.ha.model import (
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


@dataclass
class Node:
    name: str
    ordinal: int
    uid: int = 1
    pod: bool = True
    alive: bool = True  # agent + database processes
    reachable: bool = True  # operator -> agent network
    role: Role = Role.NONE
    running: bool = False
    fenced: bool = False
    lease_until: float | None = None
    timeline: int = 0
    data: list[int] = field(default_factory=list)
    upstream: str | None = None
    mode: str = "async"
    sync_standby: str | None = None
    initialised: bool = False
    config: int = 0  # the config hash its pod was created with

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
    ) -> None:
        self.nodes = [Node(f"c-{i}", i) for i in range(replicas)]
        self.settings = Settings(
            replicas=replicas,
            polling_interval=interval,
            unreachable_timeout=timeout,
            failover_policy=policy,
        )
        self.now = 1_000_000.0
        self.status = ZenithClusterStatus()
        self.persisted = ZenithClusterStatus()
        self.started_at = self.now
        self.last_ok: dict[str, float] = {}
        self.renewed: float | None = None
        self.acked: list[int] = []
        self.next_write = 1
        self.log: list[str] = []
        self.decision: Decision | None = None
        self.config = 0  # the StatefulSet template's config hash

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    # ------------------------------------------------------------------ faults
    def crash(self, i: int) -> None:
        n = self.nodes[i]
        n.alive, n.running, n.lease_until = False, False, None

    def restart(self, i: int) -> None:
        n = self.nodes[i]
        if n.alive or not n.pod:
            return
        n.alive = True
        if n.role == Role.ACTIVE:
            n.fenced = True  # an active boots fenced: no lease survives a restart
        n.running = n.initialised

    def delete_pod(self, i: int) -> None:
        self.crash(i)
        self.nodes[i].pod = False

    def recreate(self, i: int) -> None:
        n = self.nodes[i]
        if not n.pod:
            n.pod, n.uid, n.config = True, n.uid + 1, self.config
            self.restart(i)

    def change_config(self, i: int = 0) -> None:
        """A ConfigMap edit: the template's hash changes, existing pods keep theirs."""
        self.config += 1

    def partition(self, i: int) -> None:
        self.nodes[i].reachable = False

    def heal(self, i: int) -> None:
        self.nodes[i].reachable = True

    def restart_operator(self) -> None:
        self.status = self.persisted.model_copy(deep=True)
        self.started_at = self.now
        self.last_ok = {}
        self.renewed = None

    def heal_all(self) -> None:
        for i in range(len(self.nodes)):
            self.heal(i)
            self.recreate(i)
            self.restart(i)

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

    def _expire_leases(self) -> None:
        for n in self.nodes:
            if n.role == Role.ACTIVE and n.lease_until is not None and self.now > n.lease_until:
                n.fenced = True

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
        return AgentStatus(
            pod=n.name,
            role=n.role,
            database=DatabaseState.RUNNING if n.running else DatabaseState.STOPPED,
            fenced=n.fenced,
            timeline=n.timeline if n.initialised else None,
            position=len(n.data) if n.initialised else None,
            replication=repl,
            lease_remaining=None,
            agent_version="sim",
            engine="sim",
        )

    def observe(self) -> Observations:
        out = []
        for n in self.nodes:
            ok = n.pod and n.alive and n.reachable
            if ok:
                self.last_ok[n.name] = self.now
            out.append(
                InstanceObservation(
                    name=n.name,
                    ordinal=n.ordinal,
                    pod_exists=n.pod,
                    pod_uid=f"{n.name}-{n.uid}" if n.pod else None,
                    agent=self._report(n) if ok else None,
                    error=None if ok else "unreachable",
                    last_ok=self.last_ok.get(n.name),
                    config_hash=f"h{n.config}" if n.pod else None,
                )
            )
        return Observations(
            settings=self.settings,
            instances=tuple(out),
            started_at=self.started_at,
            lease_renewed_at=self.renewed,
            desired_config_hash=f"h{self.config}",
        )

    # ------------------------------------------------------------------ actions
    def _check_promotion(self, target: Node) -> None:
        others = [n for n in self.nodes if n is not target and n.writable]
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
            if not (target.pod and target.alive and target.reachable):
                continue
            self._command(a, target)

    def _command(self, a: object, t: Node) -> None:
        if isinstance(a, RenewLease):
            if t.role == Role.ACTIVE:
                t.lease_until = self.now + a.ttl
        elif isinstance(a, Promote):
            if t.writable:
                t.lease_until = self.now + a.lease_ttl
                return
            self._check_promotion(t)
            if not t.initialised:
                t.initialised, t.timeline = True, 1
            elif t.role != Role.ACTIVE:
                t.timeline = max(n.timeline for n in self.nodes) + 1
            t.role, t.fenced, t.running, t.upstream = Role.ACTIVE, False, True, None
            t.lease_until = self.now + a.lease_ttl
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

    # ------------------------------------------------------------------ the loop
    def step(self) -> Decision:
        self.now += self.settings.polling_interval
        for n in self.nodes:  # the StatefulSet controller recreates deleted pods
            if not n.pod:
                self.recreate(n.ordinal)
        self._expire_leases()
        self._replicate()
        d = decide(self.status, self.observe(), self.now)
        if persist.changed(self.persisted, d.status):
            self.persisted = d.status.model_copy(deep=True)  # written BEFORE acting
        self.status = d.status
        self.apply(d)
        self._replicate()
        self._write()
        self.decision = d
        self.log.append(f"{self.now:.0f} {d.state.value}: {d.reason}")
        return d

    def run_until_normal(self, limit: int) -> bool:
        return any(self.step().state == State.NORMAL for _ in range(limit))

    def rolled_out(self) -> bool:
        return (
            self.status.state == State.NORMAL.value
            and self.status.rollout is None
            and all(n.config == self.config for n in self.nodes)
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
