"""State factories for the pure HA tests: literal clusters, no mocks."""

from __future__ import annotations

from typing import Any

from zenith_operator.api.status import InstanceStatus, PendingAction, ZenithClusterStatus
from zenith_operator.ha.model import InstanceObservation, Observations, Settings
from zenith_operator.ha.states import State
from zenith_operator.ha.times import fmt
from zenith_operator.wire import (
    AgentStatus,
    DatabaseState,
    PeerReplication,
    ReplicationStatus,
    Role,
)

T0 = 1_800_000_000.0  # "now" in every table test
A, B = "c-0", "c-1"
TIMEOUT = 30


def settings(**kw: object) -> Settings:
    base: dict[str, object] = {
        "replicas": 2,
        "polling_interval": 10,
        "unreachable_timeout": TIMEOUT,
    }
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


def agent(
    name: str,
    role: Role = Role.ACTIVE,
    db: DatabaseState = DatabaseState.RUNNING,
    *,
    timeline: int | None = 1,
    position: int | None = 1000,
    fenced: bool = False,
    busy: str | None = None,
    replication: ReplicationStatus | None = None,
) -> AgentStatus:
    return AgentStatus(
        pod=name,
        role=role,
        database=db,
        fenced=fenced,
        timeline=timeline,
        position=position,
        busy=busy,
        replication=replication or ReplicationStatus(),
        agent_version="test",
        engine="fake",
    )


def active_report(
    name: str = A,
    standby: str = B,
    *,
    streaming: bool = True,
    sync: bool = True,
    mode: str = "sync",
    lag: int = 0,
    timeline: int = 1,
    position: int = 1000,
) -> AgentStatus:
    peers = [PeerReplication(name=standby, streaming=streaming, sync=sync, lag_bytes=lag)]
    repl = ReplicationStatus(
        mode=mode,
        sync_standby=standby if mode == "sync" else None,
        peers=peers if streaming else [],
    )
    return agent(name, timeline=timeline, position=position, replication=repl)


def standby_report(
    name: str = B,
    *,
    receiving: bool = True,
    db: DatabaseState = DatabaseState.RUNNING,
    timeline: int = 1,
    position: int = 1000,
    busy: str | None = None,
) -> AgentStatus:
    repl = ReplicationStatus(upstream_host="10.0.0.1", upstream_port=5432, receiving=receiving)
    return agent(
        name, Role.STANDBY, db, timeline=timeline, position=position, busy=busy, replication=repl
    )


def inst(
    name: str,
    report: AgentStatus | None = None,
    *,
    last_ok: float | None = T0,
    uid: str | None = None,
    exists: bool = True,
    error: str | None = None,
    label: str | None = None,
    inflight: str | None = None,
) -> InstanceObservation:
    return InstanceObservation(
        name=name,
        ordinal=int(name.rsplit("-", 1)[1]),
        pod_exists=exists,
        pod_uid=uid or f"uid-{name}",
        pod_ip="127.0.0.2",
        role_label=label,
        agent=report if exists else None,
        error=error if report is None else None,
        last_ok=last_ok,
        inflight=inflight,
    )


def observe(
    *instances: InstanceObservation,
    started_at: float = T0 - 1000,
    renewed: float | None = None,
    **kw: object,
) -> Observations:
    replicas = len(instances)
    return Observations(
        settings=settings(replicas=replicas, **kw),
        instances=tuple(instances),
        started_at=started_at,
        lease_renewed_at=renewed,
    )


def status(
    state: State | None,
    active: str | None = A,
    *,
    in_sync: bool = True,
    degraded: bool = False,
    mode: str | None = "sync",
    since: float = T0 - 100,
    pending: PendingAction | None = None,
    renewal: float | None = T0 - 10,
    pair: bool = True,
    positions: tuple[int, int] = (1000, 1000),
    message: str = "",
) -> ZenithClusterStatus:
    names = [A, B] if pair else [A]
    instances = [
        InstanceStatus(
            name=n,
            role="active" if n == active else "standby",
            health="Healthy",
            timeline=1,
            position=positions[i],
            in_sync=in_sync and n != active,
            pod_uid=f"uid-{n}",
        )
        for i, n in enumerate(names)
    ]
    return ZenithClusterStatus(
        state=state.value if state else None,
        since=fmt(since),
        message=message,
        active_instance=active,
        standby_instance=(B if active == A else A) if pair and active else None,
        instances=instances if state else [],
        replication_mode=mode if pair else None,
        replication_degraded=degraded,
        last_lease_renewal=fmt(renewal) if renewal else None,
        pending_action=pending,
    )


def pending(
    kind: str,
    target: str,
    source: str | None = None,
    *,
    since: float = T0 - 5,
    attempts: int = 0,
    last: float | None = None,
    reason: str = "",
) -> PendingAction:
    return PendingAction(
        kind=kind,
        target=target,
        source=source,
        since=fmt(since),
        attempts=attempts,
        last_attempt=fmt(last) if last else None,
        reason=reason,
    )


# --- whole scenes ------------------------------------------------------------------


def pair_normal() -> tuple[ZenithClusterStatus, Observations]:
    return status(State.NORMAL), observe(
        inst(A, active_report(), label="active"), inst(B, standby_report(), label="standby")
    )


def active_unreachable_for(seconds: float, **kw: Any) -> Observations:
    return observe(
        inst(A, None, last_ok=T0 - seconds, error="timeout"),
        inst(B, standby_report(receiving=False), label="standby"),
        **kw,
    )
