"""ZenithCluster status model (owned by the HA layer; the CRD schema is generated from it).

Field names are camelCase on the wire. The status is the operator's memory: a
restarted operator resumes from it (see docs/states.md). Times are RFC 3339 strings
in UTC with microseconds (`2026-11-21T22:36:27.123456Z`).

Only transitions are written: `lastSeen`, `position`, `lagBytes` and
`lastLeaseRenewal` are refreshed whenever the status is written for another reason,
never on their own, so a cluster at steady state causes no API writes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class StatusModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Condition(StatusModel):
    type: str = Field(description="Ready, Available, ReplicationHealthy, ManualIntervention")
    status: str = Field(description="True, False or Unknown")
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


class InstanceStatus(StatusModel):
    """What the operator last knew about one instance (pod NAME-ORDINAL)."""

    name: str
    role: str = Field(default="none", description="active, standby or none")
    health: str = Field(
        default="Unknown",
        description=(
            "Healthy (answering, database running), Starting (database starting, "
            "catching up or rebuilding), Degraded (answering, database or replication "
            "broken), Unreachable (agent not answering), Missing (no pod), Unknown"
        ),
    )
    timeline: int | None = None
    position: int | None = Field(default=None, description="last known WAL/log position")
    lag_bytes: int | None = None
    in_sync: bool = Field(
        default=False,
        description="the active reported this standby streaming as its sync peer in sync mode",
    )
    last_seen: str | None = Field(default=None, description="last good agent answer (coarse)")
    pod_uid: str | None = Field(default=None, description="uid of the pod last observed")


class PendingAction(StatusModel):
    """Intent recorded before acting, so a restarted operator knows what it was doing."""

    kind: str = Field(description="Initialize, Failover, Switchover, Rebuild")
    target: str | None = Field(default=None, description="instance the action acts on")
    source: str | None = Field(default=None, description="peer / former active, if any")
    since: str | None = None
    reason: str = ""
    attempts: int = Field(default=0, description="commands sent for this intent so far")
    last_attempt: str | None = Field(default=None, description="when the last command was sent")


class RolloutStatus(StatusModel):
    """A rollout of the StatefulSet's pod template in progress (recorded before any pod is
    deleted): any template change (image, resources, env, sidecars, probes, config hash)."""

    from_revision: str | None = Field(
        default=None, description="StatefulSet revision the pods ran when the rollout started"
    )
    to_revision: str = Field(
        default="", description="StatefulSet revision being rolled out (its updateRevision)"
    )
    step: str = Field(
        description=(
            "RestartStandby, Switchover, RestartFormerActive (pair), RestartInstance "
            "(single instance), ReplaceUninitialized (pods that never started), Paused "
            "(a pod on the new revision does not start) or Stalled"
        )
    )
    instance: str | None = Field(default=None, description="the instance this step acts on")
    started: str | None = Field(default=None, description="when the rollout started")
    deleted_uid: str | None = Field(
        default=None, description="uid of the pod last deleted for this rollout"
    )
    last_attempt: str | None = Field(default=None, description="when that pod was deleted")
    restarts: int = Field(default=0, description="pods deleted by this rollout so far")


class ZenithClusterStatus(StatusModel):
    state: str | None = Field(default=None, description="cluster state, see docs/states.md")
    since: str | None = Field(default=None, description="when the cluster entered its state")
    message: str = Field(default="", description="why the cluster is in its state")
    active_instance: str | None = Field(
        default=None, description="the instance holding (or last holding) the active role"
    )
    standby_instance: str | None = None
    instances: list[InstanceStatus] = Field(default_factory=list)
    replication_mode: str | None = Field(default=None, description="sync or async")
    replication_degraded: bool = Field(
        default=False, description="true while the active runs async because no standby is in sync"
    )
    last_lease_renewal: str | None = Field(
        default=None, description="last successful lease renewal of the active (coarse)"
    )
    lease_ttl: float | None = Field(
        default=None,
        description="largest lease TTL (seconds) a lease granted to the active may still hold",
    )
    lease_ttl_until: str | None = Field(
        default=None,
        description="after a TTL decrease: when the last lease granted with lease_ttl has ended",
    )
    pending_action: PendingAction | None = None
    rollout: RolloutStatus | None = Field(
        default=None,
        description="pod template rollout in progress (see docs/states.md, Rollouts)",
    )
    resume_token: str | None = Field(
        default=None,
        description="value of the resume annotation when ManualIntervention was entered",
    )
    intervention_generation: int | None = Field(
        default=None, description="spec generation when ManualIntervention was entered"
    )
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = None

    def instance(self, name: str) -> InstanceStatus | None:
        return next((i for i in self.instances if i.name == name), None)
