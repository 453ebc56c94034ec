"""ZenithCluster spec model: the one typed view of `.spec` (the CRD schema is generated from it).

Parse a raw spec once with `parse_spec()`; every error names the field path
(`spec.zenithSpec.unreachableTimeout`), so the controller can put it in a condition.
Field names are camelCase on the wire (`populate_by_name` lets Python use snake_case).
CEL rules (`x-kubernetes-validations`) are attached here so the API server enforces the
same cross-field and immutability rules the model checks.

Length: one model per spec section, with the field descriptions and CEL rules that become
the CRD's schema; `make crds` generates the CRD from this module as one unit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

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
from zenith_operator.quantity import parse_quantity as parse_quantity  # re-exported

DEFAULT_IMAGE = "zenith-database:0.1.0"  # the Dockerfile's database target
DEFAULT_STORAGE_SIZE = "1Gi"
DEFAULT_LOCAL_STORAGE_CLASS = "zenith-local"
MAX_REPLICAS = 2

# Limits (docs/spec.md "Limits"). Every pattern is RE2- and Python-compatible: the API
# server checks the CRD's copy, pydantic the same text.
MAX_POLLING_INTERVAL = 300
MAX_UNREACHABLE_TIMEOUT = 3600
MIN_PORT = 1024  # the pod runs as non-root with every capability dropped
MAX_REFS = 16  # ConfigMaps/Secrets per list
# A storage size (string form): positive, no sign, no milli/micro/nano or exponent, at
# most 6 integer digits, suffix up to P/Pi (so at most 999999Pi).
STORAGE_SIZE_PATTERN = (
    r"^([1-9][0-9]{0,5}(\.[0-9]{1,6})?|0?\.[0-9]{0,5}[1-9][0-9]{0,5})(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"
)
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
NO_SPACE = r"^[^\s]+$"
# localStorage.path: absolute and normalized (no `.`/`..` segment, no `//`, no trailing
# `/`, not `/` itself): every segment starts with a letter, digit or `_`.
LOCAL_PATH_PATTERN = r"^(/[A-Za-z0-9_][-A-Za-z0-9_.]*)+$"
SYSTEM_PATHS = (
    "bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "root", "run",
    "sbin", "sys", "usr", "var/lib/kubelet", "var/lib/containerd", "var/lib/docker",
    "var/lib/etcd", "var/log", "var/run", "opt/cni",
)  # fmt: skip
SYSTEM_PATH_RE = "^/(" + "|".join(SYSTEM_PATHS) + ")(/|$)"


ObjectName = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)]
ShortText = Annotated[str, Field(max_length=253)]


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
        default=naming.DEFAULT_LISTEN_PORT,
        ge=MIN_PORT,
        le=65535,
        description="database client port (>= 1024: the pod runs as non-root)",
    )
    replication: int = Field(
        default=naming.DEFAULT_REPLICATION_PORT,
        ge=MIN_PORT,
        le=65535,
        description="replication port (engines that need one)",
    )
    agent: int = Field(
        default=naming.DEFAULT_AGENT_PORT,
        ge=MIN_PORT,
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

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    f"!self.path.matches('{SYSTEM_PATH_RE}')",
                    "path must not be a system directory (/etc, /proc, /sys, /dev, /boot, "
                    "/root, /usr, /var/lib/kubelet, ...)",
                    ".path",
                )
            ]
        }
    )

    node: str = Field(
        min_length=1,
        max_length=253,
        pattern=DNS1123_SUBDOMAIN,
        description="node name (label kubernetes.io/hostname) holding the disk",
    )
    path: str = Field(
        min_length=2,
        max_length=1024,
        pattern=LOCAL_PATH_PATTERN,
        description="absolute, normalized directory on that node, prepared by the "
        "administrator (no `.`/`..` segments, no system directory; the operator may "
        "restrict it further to ZENITH_LOCAL_STORAGE_ROOTS)",
    )

    @field_validator("path")
    @classmethod
    def _not_system(cls, value: str) -> str:
        if re.match(SYSTEM_PATH_RE, value):
            raise ValueError(f"{value!r} is a system directory")
        return value


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
                ),
                _cel(
                    "size(self.nodes) < 2 || self.nodes[0].node != self.nodes[1].node"
                    " || (self.nodes[0].path != self.nodes[1].path"
                    " && !self.nodes[0].path.startsWith(self.nodes[1].path + '/')"
                    " && !self.nodes[1].path.startsWith(self.nodes[0].path + '/'))",
                    "localStorage.nodes: two instances cannot share a directory "
                    "(same node, same or nested path)",
                    ".nodes",
                ),
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

    @model_validator(mode="after")
    def _distinct(self) -> LocalStorage:
        if len(self.nodes) == 2:
            a, b = self.nodes
            nested = a.path.startswith(b.path + "/") or b.path.startswith(a.path + "/")
            if a.node == b.node and (a.path == b.path or nested):
                raise ValueError(
                    "nodes: two instances cannot share a directory (same node, same or nested path)"
                )
        return self


# Kubernetes CEL quantity library; int-or-string values go through string()
SHRINK_RULE = "!quantity(string(self)).isLessThan(quantity(string(oldSelf)))"
SHRINK_MESSAGE = "storageSize cannot shrink: a volume can only grow"


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
    version: ShortText | None = Field(default=None, description="database software version")
    package_name: ShortText | None = Field(default=None, description="database software package")
    package_type: PackageType = Field(
        default=PackageType.TAR, description="package format of packageName"
    )
    storage_class_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=DNS1123_SUBDOMAIN,
        description="StorageClass of the data volumes; immutable. Unset: the cluster "
        "default, or `zenith-local` with localStorage",
    )
    storage_size: int | str = Field(
        default=DEFAULT_STORAGE_SIZE,
        description="size of each instance's data volume: bytes, or a quantity such as "
        "5G or 10Gi (no sign, no m/u/n, at most 6 digits before the point, suffix up to "
        "P/Pi). It may grow (the PVCs are expanded when their StorageClass allows volume "
        "expansion), never shrink",
        json_schema_extra={
            "x-kubernetes-int-or-string": True,
            "minimum": 1,  # the API server checks minimum on integers, pattern on strings
            "maxLength": 16,
            "pattern": STORAGE_SIZE_PATTERN,
            "x-kubernetes-validations": [_cel(SHRINK_RULE, SHRINK_MESSAGE)],
        },
    )
    replication_ssl_mandatory: bool = Field(
        default=False,
        alias="replicationSSLMandatory",
        description="require TLS on replication connections",
    )
    polling_interval: int = Field(
        default=10,
        ge=1,
        le=MAX_POLLING_INTERVAL,
        description="seconds between two polls of each instance's agent",
    )
    unreachable_timeout: int = Field(
        default=30,
        ge=4,
        le=MAX_UNREACHABLE_TIMEOUT,
        description="seconds an agent may stay unreachable before its instance counts as "
        "down; also the active's lease. Must exceed pollingInterval",
    )
    instance_config_map: list[ObjectName] = Field(
        default_factory=list,
        max_length=MAX_REFS,
        description="ConfigMaps projected at /etc/zenith/instance/ (every key)",
    )
    db_config_map: list[ObjectName] = Field(
        default_factory=list,
        max_length=MAX_REFS,
        description="ConfigMaps of database settings, projected at /etc/zenith/db/",
    )
    db_secrets: list[ObjectName] = Field(
        default_factory=list,
        max_length=MAX_REFS,
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
        max_length=1024,
        pattern=NO_SPACE,
        description=(
            "image of the database container (the Dockerfile's database target); it runs "
            "`zenith-operator agent`"
        ),
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

    @field_validator("storage_size", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("must be a quantity such as 5G or 10Gi")
        if isinstance(value, int) and value < 1:
            raise ValueError("must be at least 1 (byte)")
        if isinstance(value, str) and not (
            len(value) <= 16 and re.match(STORAGE_SIZE_PATTERN, value)
        ):
            raise ValueError(
                f"{value!r} is not a positive quantity such as 5G or 10Gi (no sign, no "
                "m/u/n, at most 6 digits before the point, suffix up to P/Pi)"
            )
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

    version: ShortText | None = Field(default=None, description="agent version")
    package_name: ShortText | None = Field(default=None, description="agent package")
    package_type: PackageType = Field(default=PackageType.TAR, description="package format")
    agent_config: list[ObjectName] = Field(
        default_factory=list,
        max_length=MAX_REFS,
        description="ConfigMaps projected at /etc/zenith/agent/ (e.g. agent.yaml)",
    )
    tls_secret: ObjectName | None = Field(
        default=None,
        description="a kubernetes.io/tls Secret (tls.crt, tls.key, optional ca.crt): the "
        "agents serve HTTPS with it and the operator verifies them against its ca.crt "
        "(else tls.crt) and the name POD.NAME.NAMESPACE.svc",
    )


_FREE: JsonDict = {"x-kubernetes-preserve-unknown-fields": True}


LabelValue = Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)]


def _label_map(description: str, entries: int = 64) -> Any:
    """A map with label keys (qualified names), checked by the CRD and by pydantic."""
    return Field(
        default_factory=dict,
        max_length=entries,
        description=description,
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    f"self.all(k, size(k) <= 317 && k.matches('{LABEL_KEY}'))",
                    "keys must be qualified names (optional DNS-subdomain prefix and '/', "
                    "then at most 63 characters [-A-Za-z0-9_.] starting and ending "
                    "alphanumeric)",
                )
            ]
        },
    )


def _check_label_keys(labels: dict[str, str]) -> dict[str, str]:
    for key in labels:
        if not re.match(LABEL_KEY, key):
            raise ValueError(f"key {key!r} is not a qualified name")
    return labels


class TemplateMetadata(SpecModel):
    labels: dict[str, LabelValue] = _label_map("added to the pods' labels (ours win on a clash)")
    annotations: dict[str, Annotated[str, Field(max_length=65536)]] = _label_map(
        "added to the pods' annotations (ours win)", entries=128
    )

    _label_keys = field_validator("labels", "annotations")(_check_label_keys)


class ContainerOverride(SpecModel):
    """A container: `zenith-ha` merges onto the operator's container, others are added."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_FREE)

    name: str = Field(
        min_length=1, max_length=63, pattern=DNS1123_LABEL, description="container name"
    )
    image: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        pattern=NO_SPACE,
        description="container image (sidecars; not allowed on zenith-ha)",
    )

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class TemplateSpec(SpecModel):
    """Pod spec overrides; merge rules in docs/spec.md."""

    affinity: dict[str, Any] | None = Field(
        default=None,
        description="replaces the operator's affinity (preferred anti-affinity by hostname)",
        json_schema_extra=_FREE,
    )
    node_selector: dict[str, LabelValue] = _label_map("pod nodeSelector")
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
    priority_class_name: ObjectName | None = Field(
        default=None, description="pod priorityClassName"
    )
    service_account_name: ObjectName | None = Field(
        default=None, description="pod serviceAccountName (the agent needs no API access)"
    )
    security_context: dict[str, Any] | None = Field(
        default=None,
        description="replaces the pod securityContext (default: non-root, fsGroup)",
        json_schema_extra=_FREE,
    )
    _selector_keys = field_validator("node_selector")(_check_label_keys)

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


ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
_STORAGE_SCHEMA: JsonDict = {
    "x-kubernetes-int-or-string": True,
    "minimum": 1,
    "maxLength": 16,
    "pattern": STORAGE_SIZE_PATTERN,
}
CLAIM_TEMPLATE_SCHEMA: JsonDict = {
    "type": "object",
    **_FREE,
    "required": ["metadata", "spec"],
    "properties": {
        "metadata": {
            "type": "object",
            **_FREE,
            "required": ["name"],
            "properties": {"name": {"type": "string", "maxLength": 63, "pattern": DNS1123_LABEL}},
        },
        "spec": {
            "type": "object",
            **_FREE,
            "required": ["accessModes", "resources"],
            "properties": {
                "accessModes": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 4,
                    "items": {"type": "string", "enum": list(ACCESS_MODES)},
                },
                "storageClassName": {
                    "type": "string",
                    "maxLength": 253,
                    "pattern": DNS1123_SUBDOMAIN,
                },
                "resources": {
                    "type": "object",
                    **_FREE,
                    "required": ["requests"],
                    "properties": {
                        "requests": {
                            "type": "object",
                            **_FREE,
                            "required": ["storage"],
                            "properties": {"storage": _STORAGE_SCHEMA},
                        }
                    },
                },
            },
        },
    },
}


def claim_template_problem(claim: Mapping[str, Any]) -> tuple[str, str] | None:
    """(field, message) of the first problem of a volumeClaimTemplates entry."""
    meta, spec = claim.get("metadata"), claim.get("spec")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    if not isinstance(name, str) or not name:
        return "metadata.name", "is required"
    if len(name) > 63 or not re.match(DNS1123_LABEL, name):
        return "metadata.name", f"{name!r} is not a DNS-1123 label"
    if not isinstance(spec, Mapping):
        return "spec", "is required"
    modes = spec.get("accessModes")
    if not isinstance(modes, list) or not modes or any(m not in ACCESS_MODES for m in modes):
        return "spec.accessModes", f"needs one or more of {', '.join(ACCESS_MODES)}"
    resources = spec.get("resources")
    requests = resources.get("requests") if isinstance(resources, Mapping) else None
    storage = requests.get("storage") if isinstance(requests, Mapping) else None
    if storage is None:
        return "spec.resources.requests.storage", "is required"
    try:
        ZenithSpec(storage_size=storage)
    except ValidationError:
        return "spec.resources.requests.storage", f"{storage!r} is not a valid storage size"
    sc = spec.get("storageClassName")
    if sc is not None and not (isinstance(sc, str) and re.match(DNS1123_SUBDOMAIN, sc)):
        return "spec.storageClassName", f"{sc!r} is not a DNS subdomain"
    return None


class ZenithClusterSpec(SpecModel):
    """Desired state of a zenith active/standby database cluster."""

    zenith_spec: ZenithSpec = Field(default_factory=ZenithSpec, description="the database")
    agent_spec: AgentSpec = Field(default_factory=AgentSpec, description="the in-pod agent")
    template: PodTemplateOverride = Field(
        default_factory=PodTemplateOverride, description="pod template overrides"
    )
    volume_claim_templates: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=8,
        description="PVC templates: one named `data` replaces the operator's data claim "
        "(immutable, like the StatefulSet's); others are added. Each needs metadata.name, "
        "spec.accessModes and spec.resources.requests.storage",
        json_schema_extra={
            "items": CLAIM_TEMPLATE_SCHEMA,
            "x-kubernetes-validations": [
                _cel(
                    "self.all(a, self.exists_one(b, b.metadata.name == a.metadata.name))",
                    "volumeClaimTemplates names must be unique",
                )
            ],
        },
    )
    retention_policy: RetentionPolicy = Field(
        default_factory=RetentionPolicy, description="what deletion keeps"
    )

    @field_validator("volume_claim_templates")
    @classmethod
    def _claims(cls, claims: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names: set[str] = set()
        for i, claim in enumerate(claims):
            problem = claim_template_problem(claim)
            if problem:
                field, message = problem
                raise ValueError(f"{i}.{field}: {message}")
            name = claim["metadata"]["name"]
            if name in names:
                raise ValueError(f"{i}.metadata.name: duplicate name {name!r}")
            names.add(name)
        return claims


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
        named = re.match(r"^([a-zA-Z0-9.]+): (.*)$", msg)
        if named:
            parts = [int(p) if p.isdigit() else p for p in named.group(1).split(".")]
            loc, msg = (*loc, *parts), named.group(2)
        raise SpecError(_loc_to_path(prefix, loc), msg) from exc
