"""ZenithCluster spec model: the one typed view of `.spec` (the CRD schema is generated from it).

Parse a raw spec once with `parse_spec()`; every error names the field path
(`spec.zenithSpec.unreachableTimeout`), so the controller can put it in a condition.
Field names are camelCase on the wire (`populate_by_name` lets Python use snake_case).
CEL rules (`x-kubernetes-validations`) are attached here so the API server enforces the
same cross-field and immutability rules the model checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from zenith_operator import naming

DEFAULT_IMAGE = "zenith-operator:0.1.0"
DEFAULT_STORAGE_SIZE = "1Gi"
DEFAULT_LOCAL_STORAGE_CLASS = "zenith-local"
MAX_REPLICAS = 2

# Kubernetes resource.Quantity, e.g. 5G, 5Gi, 512Mi, 1e3, 100m.
QUANTITY_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_QUANTITY_RE = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m|[eE][0-9]+)?$")


def _cel(rule: str, message: str, field_path: str | None = None) -> JsonDict:
    out: JsonDict = {"rule": rule, "message": message}
    if field_path:
        out["fieldPath"] = field_path
    return out


class SpecModel(BaseModel):
    """Base: camelCase aliases; unknown fields are ignored (the API server prunes them)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class PackageType(StrEnum):
    TAR = "tar"


class FailoverPolicy(StrEnum):
    ZERO_DATA_LOSS = "ZeroDataLoss"
    AVAILABILITY = "Availability"


class Engine(StrEnum):
    POSTGRES = "postgres"
    COMMAND = "command"


class ReclaimPolicy(StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"


class Ports(SpecModel):
    """Container ports of the database pod."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "self.listen != self.replication && self.listen != self.agent"
                    " && self.replication != self.agent",
                    "ports.listen, ports.replication and ports.agent must differ",
                ),
                _cel(
                    "self == oldSelf",
                    "ports are immutable: running pods keep the ports they started with, so a "
                    "live change cuts the operator off every agent (agent) or the clients and "
                    "rebuilds off the database (listen, replication); create a new cluster "
                    "to change them",
                ),
            ]
        }
    )

    listen: int = Field(
        default=naming.DEFAULT_LISTEN_PORT, ge=1, le=65535, description="database client port"
    )
    replication: int = Field(
        default=naming.DEFAULT_REPLICATION_PORT,
        ge=1,
        le=65535,
        description="replication port (engines that need one)",
    )
    agent: int = Field(
        default=naming.DEFAULT_AGENT_PORT,
        ge=1,
        le=65535,
        description="HTTP port of the in-pod agent (probes and operator commands)",
    )

    @model_validator(mode="after")
    def _distinct(self) -> Ports:
        if len({self.listen, self.replication, self.agent}) != 3:
            raise ValueError("listen: ports.listen, ports.replication and ports.agent must differ")
        return self


class LocalNode(SpecModel):
    """Where the local PersistentVolume of one instance lives."""

    node: str = Field(
        min_length=1,
        max_length=253,
        description="node name (label kubernetes.io/hostname) holding the disk",
    )
    path: str = Field(
        min_length=2,
        max_length=4096,
        pattern=r"^/",
        description="absolute directory on that node, prepared by the administrator",
    )


class LocalStorage(SpecModel):
    """Operator-managed local PersistentVolumes, one per instance ordinal.

    The operator creates the StorageClass (`kubernetes.io/no-provisioner`,
    `WaitForFirstConsumer`) named by `zenithSpec.storageClassName` (default
    `zenith-local`) and a PV per entry of `nodes`, pre-bound to the claim
    `data-NAME-ORDINAL`.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "size(oldSelf.nodes) <= size(self.nodes)"
                    " && (size(oldSelf.nodes) < 1 || self.nodes[0] == oldSelf.nodes[0])"
                    " && (size(oldSelf.nodes) < 2 || self.nodes[1] == oldSelf.nodes[1])",
                    "localStorage.nodes entries are immutable; entries may only be appended",
                    ".nodes",
                )
            ]
        }
    )

    nodes: list[LocalNode] = Field(
        min_length=1,
        max_length=MAX_REPLICAS,
        description="entry i holds the volume of instance NAME-i; "
        "at least zenithSpec.replicas entries",
    )
    reclaim_policy: ReclaimPolicy = Field(
        default=ReclaimPolicy.RETAIN,
        description="on cluster deletion with retentionPolicy.pvcs=Delete: Delete removes "
        "the PersistentVolume objects (the files on the node stay), Retain keeps them",
    )


class ZenithSpec(SpecModel):
    """The database: topology, software, storage, configuration and HA timing."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "self.unreachableTimeout > self.pollingInterval",
                    "unreachableTimeout must be greater than pollingInterval",
                    ".unreachableTimeout",
                ),
                _cel(
                    "has(self.storageClassName) == has(oldSelf.storageClassName)"
                    " && (!has(self.storageClassName)"
                    " || self.storageClassName == oldSelf.storageClassName)",
                    "storageClassName is immutable",
                    ".storageClassName",
                ),
                _cel(
                    "has(self.localStorage) == has(oldSelf.localStorage)",
                    "localStorage cannot be added or removed after creation",
                    ".localStorage",
                ),
            ]
        }
    )

    replicas: Literal[1, 2] = Field(
        default=2, description="2: active + standby (master-standby); 1: single instance"
    )
    version: str | None = Field(default=None, description="database software version")
    package_name: str | None = Field(default=None, description="database software package")
    package_type: PackageType = Field(
        default=PackageType.TAR, description="package format of packageName"
    )
    storage_class_name: str | None = Field(
        default=None,
        description="StorageClass of the data volumes; immutable. Unset: the cluster "
        "default, or `zenith-local` with localStorage",
    )
    storage_size: int | str = Field(
        default=DEFAULT_STORAGE_SIZE,
        description="size of each instance's data volume (quantity, e.g. 5G, 10Gi); immutable",
        json_schema_extra={
            "x-kubernetes-int-or-string": True,
            "x-kubernetes-validations": [_cel("self == oldSelf", "storageSize is immutable")],
        },
    )
    replication_ssl_mandatory: bool = Field(
        default=False,
        alias="replicationSSLMandatory",
        description="require TLS on replication connections",
    )
    polling_interval: int = Field(
        default=10, ge=1, description="seconds between two polls of each instance's agent"
    )
    unreachable_timeout: int = Field(
        default=30,
        ge=4,
        description="seconds an agent may stay unreachable before its instance counts as "
        "down; also the active's lease. Must exceed pollingInterval",
    )
    instance_config_map: list[str] = Field(
        default_factory=list,
        description="ConfigMaps projected at /etc/zenith/instance/ (every key)",
    )
    db_config_map: list[str] = Field(
        default_factory=list,
        description="ConfigMaps of database settings, projected at /etc/zenith/db/",
    )
    db_secrets: list[str] = Field(
        default_factory=list,
        description=(
            "Secrets (passwords, TLS material) projected at /etc/zenith/secrets/; keys "
            "admin-user, admin-password, replication-password, app-user, app-password. "
            "When empty the operator generates the Secret NAME-credentials"
        ),
    )
    db_specs: dict[str, Any] = Field(
        default_factory=dict,
        description="free-form engine parameters, handed to the agent in the pod "
        "annotation zenith.huawei.cloudb.com/db-specs (JSON, /etc/zenith/podinfo/annotations)",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    failover_policy: FailoverPolicy = Field(
        default=FailoverPolicy.ZERO_DATA_LOSS,
        description="ZeroDataLoss: promote only a standby known to be in sync, else wait "
        "(Failed with a reason); Availability: promote the most advanced standby",
    )
    ports: Ports = Field(default_factory=Ports, description="container ports")
    engine: Engine = Field(
        default=Engine.POSTGRES,
        description="agent engine: postgres (reference) or command (shell commands "
        "from agentConfig); immutable",
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel("self == oldSelf", "engine is immutable: the data directory is the engine's")
            ]
        },
    )
    image: str = Field(
        default=DEFAULT_IMAGE,
        min_length=1,
        description="image of the database container; it runs `zenith-operator agent`",
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None, description="pull policy of the database container image"
    )
    stopped: bool = Field(
        default=False,
        description="true stops the database: the StatefulSet is scaled to 0, storage "
        "(PVCs) and network identity (names, Services) stay",
    )
    local_storage: LocalStorage | None = Field(
        default=None,
        description="operator-created local PersistentVolumes; cannot be added or removed "
        "after creation",
    )

    @field_validator("storage_size")
    @classmethod
    def _quantity(cls, value: int | str) -> int | str:
        if isinstance(value, bool):
            raise ValueError("must be a quantity such as 5G or 10Gi")
        if isinstance(value, int):
            if value <= 0:
                raise ValueError("must be positive")
            return value
        if not _QUANTITY_RE.match(value) or parse_quantity(value) <= 0:
            raise ValueError(f"{value!r} is not a positive quantity such as 5G or 10Gi")
        return value

    @model_validator(mode="after")
    def _timing(self) -> ZenithSpec:
        if self.unreachable_timeout <= self.polling_interval:
            raise ValueError("unreachableTimeout: must be greater than pollingInterval")
        return self

    @property
    def storage_quantity(self) -> str:
        return str(self.storage_size)


class AgentSpec(SpecModel):
    """The database agent's software and configuration."""

    version: str | None = Field(default=None, description="agent version")
    package_name: str | None = Field(default=None, description="agent package")
    package_type: PackageType = Field(default=PackageType.TAR, description="package format")
    agent_config: list[str] = Field(
        default_factory=list,
        description="ConfigMaps projected at /etc/zenith/agent/ (e.g. agent.yaml)",
    )


_FREE: JsonDict = {"x-kubernetes-preserve-unknown-fields": True}


class TemplateMetadata(SpecModel):
    labels: dict[str, str] = Field(
        default_factory=dict, description="added to the pods' labels (ours win on a clash)"
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="added to the pods' annotations (ours win)"
    )


class ContainerOverride(SpecModel):
    """A container: `zenith-ha` merges onto the operator's container, others are added."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_FREE)

    name: str = Field(min_length=1, description="container name")

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class TemplateSpec(SpecModel):
    """Pod spec overrides; merge rules in docs/spec.md."""

    affinity: dict[str, Any] | None = Field(
        default=None,
        description="replaces the operator's affinity (preferred anti-affinity by hostname)",
        json_schema_extra=_FREE,
    )
    node_selector: dict[str, str] = Field(default_factory=dict, description="pod nodeSelector")
    tolerations: list[dict[str, Any]] = Field(
        default_factory=list,
        description="pod tolerations",
        json_schema_extra={"items": {"type": "object", **_FREE}},
    )
    init_containers: list[ContainerOverride] = Field(
        default_factory=list, description="init containers, run before zenith-ha"
    )
    containers: list[ContainerOverride] = Field(
        default_factory=list,
        description="`zenith-ha`: resources/env/volumeMounts/ports/... merged onto the "
        "operator's container; other names: sidecars appended",
    )
    volumes: list[dict[str, Any]] = Field(
        default_factory=list,
        description="extra pod volumes (names `config` and `data` are reserved)",
        json_schema_extra={"items": {"type": "object", **_FREE}},
    )
    image_pull_secrets: list[dict[str, str]] = Field(
        default_factory=list, description="pod imagePullSecrets"
    )
    priority_class_name: str | None = Field(default=None, description="pod priorityClassName")
    service_account_name: str | None = Field(
        default=None, description="pod serviceAccountName (the agent needs no API access)"
    )
    security_context: dict[str, Any] | None = Field(
        default=None,
        description="replaces the pod securityContext (default: non-root, fsGroup)",
        json_schema_extra=_FREE,
    )
    topology_spread_constraints: list[dict[str, Any]] = Field(
        default_factory=list,
        description="pod topologySpreadConstraints",
        json_schema_extra={"items": {"type": "object", **_FREE}},
    )


class PodTemplateOverride(SpecModel):
    """Overrides of the database pods' template (the seed's `template`)."""

    metadata: TemplateMetadata = Field(
        default_factory=TemplateMetadata, description="labels and annotations added to the pods"
    )
    spec: TemplateSpec = Field(default_factory=TemplateSpec, description="pod spec overrides")


class RetentionPolicy(SpecModel):
    """What survives the deletion of the ZenithCluster."""

    pvcs: ReclaimPolicy = Field(
        default=ReclaimPolicy.RETAIN,
        description="Retain keeps the data PVCs (and local PVs); Delete removes them",
    )


class ZenithClusterSpec(SpecModel):
    """Desired state of a zenith active/standby database cluster."""

    zenith_spec: ZenithSpec = Field(default_factory=ZenithSpec, description="the database")
    agent_spec: AgentSpec = Field(default_factory=AgentSpec, description="the in-pod agent")
    template: PodTemplateOverride = Field(
        default_factory=PodTemplateOverride, description="pod template overrides"
    )
    volume_claim_templates: list[dict[str, Any]] = Field(
        default_factory=list,
        description="PVC templates: one named `data` replaces the operator's data claim "
        "(immutable, like the StatefulSet's); others are added",
        json_schema_extra={"items": {"type": "object", **_FREE}},
    )
    retention_policy: RetentionPolicy = Field(
        default_factory=RetentionPolicy, description="what deletion keeps"
    )


# --- parsing -------------------------------------------------------------------------


class SpecError(ValueError):
    """An invalid spec; `path` names the field (e.g. spec.zenithSpec.replicas)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _loc_to_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_spec(raw: Mapping[str, Any] | None, prefix: str = "spec") -> ZenithClusterSpec:
    """Validate a raw `.spec`; raise SpecError naming the first bad field."""
    try:
        return ZenithClusterSpec.model_validate(dict(raw or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function")))
        msg = err["msg"].removeprefix("Value error, ")
        # Cross-field validators name their field as "field: message".
        named = re.match(r"^([a-zA-Z]+): (.*)$", msg)
        if named:
            loc, msg = (*loc, named.group(1)), named.group(2)
        raise SpecError(_loc_to_path(prefix, loc), msg) from exc


_SUFFIX: dict[str, float] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "m": 10**-3,
}  # fmt: skip


def parse_quantity(value: int | str) -> float:
    """Bytes of a Kubernetes quantity (enough for storage sizes)."""
    if isinstance(value, int):
        return float(value)
    match = re.match(r"^([0-9]+(?:\.[0-9]+)?)(.*)$", value)
    if not match:
        raise ValueError(f"{value!r} is not a quantity")
    number, suffix = float(match.group(1)), match.group(2)
    if suffix == "":
        return number
    if suffix in _SUFFIX:
        return number * _SUFFIX[suffix]
    if suffix[0] in "eE" and suffix[1:].isdigit():
        return number * 10.0 ** int(suffix[1:])
    raise ValueError(f"{value!r} has an unknown suffix {suffix!r}")
