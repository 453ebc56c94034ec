"""One poll: the cluster's cached pods and every agent's status, concurrently.

Also the small per-cluster memory a running operator keeps between polls (last good
answer per instance, last lease grant) and the spec -> `ha.Settings` reading.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zenith_operator import naming
from zenith_operator.api.spec import ZenithClusterSpec, parse_spec
from zenith_operator.api.status import ZenithClusterStatus
from zenith_operator.controller.agent_client import AgentClient, Unknown
from zenith_operator.ha import SWITCHOVER_ANNOTATION
from zenith_operator.ha.model import InstanceObservation, Observations, Settings
from zenith_operator.ha.states import FailoverPolicy
from zenith_operator.ha.times import parse
from zenith_operator.ha.timing import probe_kill_seconds
from zenith_operator.resources.pod import AGENT_TLS_VOLUME
from zenith_operator.resources.workload import held_replicas
from zenith_operator.wire import AgentStatus


@dataclass(frozen=True)
class PodInfo:
    name: str
    uid: str | None
    ip: str | None
    phase: str | None
    ready: bool
    deleting: bool
    role_label: str | None
    revision: str | None = None  # naming.REVISION_LABEL: the template revision it runs
    liveness_kill_seconds: float | None = None  # worst case of the agent's deployed probe
    agent_tls_secret: str | None = None  # the Secret its agent serves HTTPS with
    restarts: int = 0  # restartCount of the database container
    running: bool = False  # the database container's state is `running`
    finished_at: float | None = None  # latest termination of the database container (unix)

    def wake_key(self) -> tuple[Any, ...]:
        """What, when it changes, is worth a cycle at once (not labels, not annotations)."""
        return (self.uid, self.ip, self.phase, self.ready, self.deleting, self.restarts,
                self.running)  # fmt: skip

    @classmethod
    def of(cls, pod: Mapping[str, Any]) -> PodInfo:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        conditions = status.get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        statuses = status.get("containerStatuses") or []
        found = [c for c in statuses if c.get("name") == naming.CONTAINER_NAME]
        container: Mapping[str, Any] = found[0] if found else {}
        return cls(
            name=meta.get("name", ""),
            uid=meta.get("uid"),
            ip=status.get("podIP"),
            phase=status.get("phase"),
            ready=ready,
            deleting=bool(meta.get("deletionTimestamp")),
            role_label=(meta.get("labels") or {}).get(naming.ROLE_LABEL),
            revision=(meta.get("labels") or {}).get(naming.REVISION_LABEL),
            liveness_kill_seconds=_liveness_kill(pod),
            restarts=int(container.get("restartCount") or 0),
            running="running" in (container.get("state") or {}),
            finished_at=_finished_at(container),
            agent_tls_secret=_agent_tls_secret(pod),
        )


def _finished_at(container: Mapping[str, Any]) -> float | None:
    """When the container last terminated, by the kubelet (state or lastState)."""
    found: list[float] = []
    for key in ("state", "lastState"):
        text = ((container.get(key) or {}).get("terminated") or {}).get("finishedAt")
        at = parse(text) if isinstance(text, str) else None
        if at is not None:
            found.append(at)
    return max(found, default=None)


def _agent_tls_secret(pod: Mapping[str, Any]) -> str | None:
    """The Secret mounted as the agent's certificate: that pod's agent serves HTTPS only."""
    for v in (pod.get("spec") or {}).get("volumes") or []:
        if v.get("name") == AGENT_TLS_VOLUME:
            return (v.get("secret") or {}).get("secretName")
    return None


def _liveness_kill(pod: Mapping[str, Any]) -> float | None:
    """Worst-case kill time of the database container's liveness probe, as deployed."""
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == naming.CONTAINER_NAME:
            return probe_kill_seconds(c.get("livenessProbe"))
    return None


@dataclass(frozen=True)
class ClusterView:
    """What one cycle works from: the object, its parsed spec and pods (from caches)."""

    body: dict[str, Any]
    spec: ZenithClusterSpec
    settings: Settings
    pods: dict[str, PodInfo]
    update_revision: str | None = None  # the StatefulSet's template revision

    @property
    def agent_port(self) -> int:
        return self.spec.zenith_spec.ports.agent

    @property
    def peer_port(self) -> int:
        return self.spec.zenith_spec.ports.listen


@dataclass
class Memory:
    """What this operator process remembers about one cluster between polls."""

    started_at: float = field(default_factory=time.time)
    last_ok: dict[str, float] = field(default_factory=dict)  # pod uid -> last good answer
    seen: dict[str, float] = field(default_factory=dict)  # pod uid -> first seen
    silent_since: dict[str, float] = field(default_factory=dict)  # pod uid -> first unanswered poll
    lease_renewed_at: float | None = None
    status: ZenithClusterStatus | None = None  # latest decided status
    written: ZenithClusterStatus | None = None  # what the API holds, as far as we know
    inflight: dict[str, str] = field(default_factory=dict)
    boots: dict[str, float] = field(default_factory=dict)  # pod uid -> agent started_at
    # pod uid -> status poll of an agent counted down, running in the background
    polls: dict[str, tuple[float, asyncio.Future[AgentStatus | Unknown]]] = field(
        default_factory=dict
    )
    promoted_at: dict[str, float] = field(default_factory=dict)  # pod name -> promote ended
    # attempt times in the written status whose commands were never sent (the write
    # landed after its budget), retried from `unsent_after` on (executor.py)
    unsent: set[str] = field(default_factory=set)
    unsent_after: float = 0.0
    late_writes: int = 0  # status writes in a row that landed after their budget

    def forget_pods_except(self, uids: set[str]) -> None:
        """Drop the bookkeeping of pod incarnations that no longer exist."""
        for table in (self.last_ok, self.seen, self.boots, self.polls):
            for key in [k for k in table if k not in uids]:
                del table[key]


def settings_of(body: Mapping[str, Any], spec: ZenithClusterSpec) -> Settings:
    z = spec.zenith_spec
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    name = str(meta.get("name", ""))
    active = (body.get("status") or {}).get("activeInstance")
    replicas = held_replicas(name, z.replicas, active)
    return Settings(
        replicas=replicas,
        desired_replicas=z.replicas if z.replicas < replicas else None,
        polling_interval=float(z.polling_interval),
        unreachable_timeout=z.unreachable_timeout,
        failover_policy=FailoverPolicy(z.failover_policy.value),
        stopped=z.stopped,
        generation=meta.get("generation"),
        resume_token=annotations.get(naming.RESUME_ANNOTATION),
        switchover_to=annotations.get(SWITCHOVER_ANNOTATION),
    )


def view_of(
    body: dict[str, Any],
    pods: Iterable[PodInfo],
    update_revision: str | None,
    spec: ZenithClusterSpec | None = None,
) -> ClusterView:
    """The cycle's view from cached state (no API call). Raises SpecError.

    `spec`: the already parsed spec of this body, if the caller has it."""
    spec = spec or parse_spec(body.get("spec"))
    return ClusterView(
        body=body,
        spec=spec,
        settings=settings_of(body, spec),
        pods={p.name: p for p in pods},
        update_revision=update_revision,
    )


def update_revision(sts: Mapping[str, Any] | None) -> str | None:
    """The revision the StatefulSet gives new pods: `status.updateRevision` once the
    StatefulSet controller has observed the current generation (None: unknown yet).

    With `updateStrategy: OnDelete` an existing pod keeps the revision it was created
    from (its naming.REVISION_LABEL): a difference is what the HA loop's rollout acts on.
    """
    if not sts:
        return None
    meta = sts.get("metadata") or {}
    status = sts.get("status") or {}
    value = status.get("updateRevision")
    generation = meta.get("generation")
    observed = status.get("observedGeneration")
    if not value or generation is None or observed is None or observed < generation:
        return None
    return str(value)


# Both times come from the node's clock (the kubelet's finishedAt, whole seconds, and
# the agent's start); the margin covers a container runtime whose guest clock drifts
# from the node's (VM-sandboxed pods).
PROOF_MARGIN = 1.0


def _poll_behind(
    memory: Memory, uid: str, call: Coroutine[Any, Any, AgentStatus | Unknown], now: float
) -> tuple[AgentStatus | Unknown, float]:
    """An agent counted down already is polled in the background: the cycle goes on
    without waiting for its timeout (a failover's steps are not slowed by it), and takes
    the answer of the previous cycle's poll, if that one has ended, with the time that
    poll began."""
    previous = memory.polls.get(uid)
    if previous is not None and not previous[1].done():
        call.close()
        return Unknown("still waiting for the previous poll"), now
    memory.polls[uid] = (now, asyncio.ensure_future(call))
    if previous is None or previous[1].cancelled():
        return Unknown("polled in the background"), now
    return previous[1].result(), previous[0]


def _proven_dead(pod: PodInfo, memory: Memory, uid: str) -> bool:
    """The kubelet reports a termination of the pod's container at or after the start of
    the agent that last answered (the node's clock for both): that agent and its database
    are gone. Not while a command is in flight to the pod, nor when a promote ended after
    that answer (it might have reached a later incarnation)."""
    started, answered = memory.boots.get(uid), memory.last_ok.get(uid)
    if pod.finished_at is None or started is None or answered is None:
        return False
    if pod.name in memory.inflight:
        return False
    promoted = memory.promoted_at.get(pod.name)
    if promoted is not None and promoted >= answered:
        return False
    return pod.finished_at >= started + PROOF_MARGIN


async def poll(view: ClusterView, client: AgentClient, memory: Memory, now: float) -> Observations:
    name = view.body["metadata"]["name"]
    names = [naming.pod_name(name, i) for i in range(view.settings.replicas)]

    async def one(ordinal: int, pod_name: str) -> InstanceObservation:
        pod = view.pods.get(pod_name)
        if pod is None:
            return InstanceObservation(name=pod_name, ordinal=ordinal, pod_exists=False)
        uid = pod.uid or pod_name
        answered_at = now
        if not pod.ip:
            answer: Any = Unknown("pod has no IP yet")
        else:
            silent = memory.silent_since.get(uid)
            gone = silent is not None and now - silent >= view.settings.unreachable_timeout
            if gone:
                call = client.status(pod.ip, view.agent_port)
                answer, answered_at = _poll_behind(memory, uid, call, now)
            else:
                memory.polls.pop(uid, None)
                answer = await client.status(pod.ip, view.agent_port)
        ok = not isinstance(answer, Unknown)
        memory.seen.setdefault(uid, now)  # a new incarnation's silence starts here
        if ok:
            memory.last_ok[uid] = max(answered_at, memory.last_ok.get(uid, answered_at))
            memory.silent_since.pop(uid, None)
            if answer.started_at is not None:
                memory.boots[uid] = answer.started_at
        else:
            memory.silent_since.setdefault(uid, now)
        return InstanceObservation(
            name=pod_name,
            ordinal=ordinal,
            pod_exists=True,
            pod_uid=pod.uid,
            pod_phase=pod.phase,
            pod_ready=pod.ready,
            pod_deleting=pod.deleting,
            pod_ip=pod.ip,
            role_label=pod.role_label,
            agent=answer if ok else None,
            error=answer.error if isinstance(answer, Unknown) else None,
            last_ok=memory.last_ok.get(uid),
            seen_since=memory.seen.get(uid),
            inflight=memory.inflight.get(pod_name),
            revision=pod.revision,
            silent_since=memory.silent_since.get(uid),
            liveness_kill_seconds=pod.liveness_kill_seconds,
            proven_dead=not ok and _proven_dead(pod, memory, uid),
        )

    instances = await asyncio.gather(*(one(i, n) for i, n in enumerate(names)))
    memory.forget_pods_except({p.uid or p.name for p in view.pods.values()})
    return Observations(
        settings=view.settings,
        instances=tuple(instances),
        started_at=memory.started_at,
        lease_renewed_at=memory.lease_renewed_at,
        update_revision=view.update_revision,
        unsent=frozenset(memory.unsent) if now >= memory.unsent_after else frozenset(),
    )
