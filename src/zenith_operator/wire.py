"""The agent wire schema: the one module shared by the in-pod agent and the operator.

Every request and response body of the agent's HTTP API is a model here. Positions
are WAL/log positions as plain integers (bytes for PostgreSQL), so the operator can
compare instances without knowing the engine.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION = "v1"
API_PREFIX = f"/{PROTOCOL_VERSION}"
MAX_TTL = 3600.0  # seconds; the CRD bounds unreachableTimeout (the lease) to the same
MAX_NAME = 253


class WireModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class RequestModel(WireModel):
    """Bodies the agent receives: strict types (no "1" for 1), finite bounded numbers."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, strict=True)


class Role(StrEnum):
    ACTIVE = "active"
    STANDBY = "standby"
    NONE = "none"


class DatabaseState(StrEnum):
    RUNNING = "running"
    STARTING = "starting"
    STOPPED = "stopped"
    CRASHED = "crashed"
    REBUILDING = "rebuilding"
    UNKNOWN = "unknown"


ReplicationMode = Literal["sync", "async"]


class PeerReplication(WireModel):
    """One standby as seen from the active (pg_stat_replication for PostgreSQL)."""

    name: str = Field(description="the standby's instance (pod) name")
    streaming: bool
    sync: bool = Field(description="true when commits on the active wait for this standby")
    flush_position: int | None = None
    replay_position: int | None = None
    lag_bytes: int | None = None
    lag_seconds: float | None = Field(
        default=None, description="replay delay of the standby; null when caught up or unknown"
    )


class ReplicationStatus(WireModel):
    # On an active: the configured mode and the standbys it sees.
    mode: ReplicationMode | None = None
    sync_standby: str | None = Field(
        default=None, description="name the active is configured to wait for (sync mode)"
    )
    peers: list[PeerReplication] = Field(default_factory=list)
    # On a standby: where it follows from and whether WAL is streaming.
    upstream_host: str | None = None
    upstream_port: int | None = None
    receiving: bool = False
    received_position: int | None = None


class AgentStatus(WireModel):
    """GET /v1/status."""

    protocol: str = PROTOCOL_VERSION
    pod: str
    role: Role
    database: DatabaseState
    fenced: bool = False
    timeline: int | None = None
    position: int | None = Field(
        default=None,
        description="active: current WAL write position; standby: last replayed position",
    )
    replication: ReplicationStatus = Field(default_factory=ReplicationStatus)
    config_hash: str | None = None
    lease_remaining: float | None = Field(
        default=None, description="seconds before an active fences itself; null without a lease"
    )
    busy: str | None = Field(default=None, description="long command in progress, if any")
    last_error: str | None = None
    agent_version: str
    engine: str
    engine_version: str | None = None
    boot_id: str | None = Field(default=None, description="random per agent process start")
    started_at: float | None = Field(
        default=None,
        description=(
            "when this agent process started (unix seconds, the node's clock): a container "
            "the kubelet reports finished at or after it is this agent's or a later one"
        ),
    )


class HealthStatus(WireModel):
    """GET /health (no auth): liveness and readiness in one body."""

    alive: bool
    ready: bool
    role: Role
    reason: str = ""


class LeaseRequest(RequestModel):
    ttl: float = Field(
        gt=0,
        le=MAX_TTL,
        allow_inf_nan=False,
        description="seconds the lease lasts from receipt, agent clock",
    )
    holder: str = Field(default="zenith-operator", min_length=1, max_length=MAX_NAME)


class LeaseResponse(WireModel):
    remaining: float
    fenced: bool


class PromoteRequest(RequestModel):
    lease_ttl: float = Field(
        gt=0, le=MAX_TTL, allow_inf_nan=False, description="lease granted to the new active"
    )


class PeerAddress(RequestModel):
    host: str = Field(min_length=1, max_length=MAX_NAME)
    port: int = Field(ge=1, le=65535)
    name: str | None = Field(
        default=None, max_length=MAX_NAME, description="peer instance name, for logs"
    )


class FollowRequest(PeerAddress):
    """POST /v1/follow: become (or stay) a standby of host:port."""


class RebuildRequest(PeerAddress):
    """POST /v1/rebuild: rewind from the peer, falling back to a fresh clone."""


class ReplicationModeRequest(RequestModel):
    mode: ReplicationMode
    standby_name: str | None = Field(
        default=None,
        max_length=MAX_NAME,
        description="the standby to wait for; required when mode is sync",
    )


class CommandResult(WireModel):
    """Body of every successful POST command."""

    ok: bool = True
    changed: bool = Field(description="false when the command was already satisfied")
    message: str = ""
    status: AgentStatus | None = None


class ErrorBody(WireModel):
    reason: str = Field(description="machine-readable CamelCase reason, e.g. Unauthorized")
    message: str
