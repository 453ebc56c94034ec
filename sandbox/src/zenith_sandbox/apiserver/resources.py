"""Resource types: the built-in table and the registry that CRDs extend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUB_VERBS = {"status": ("get", "patch", "update"), "scale": ("get", "patch", "update")}


@dataclass(frozen=True)
class ResourceType:
    """One served resource (group/version/plural) and the semantics it gets."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    generation: bool = False  # metadata.generation maintained
    return_deleted: bool = False  # DELETE answers the object, not a Status
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    custom: bool = False  # served from a CRD
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    scale_paths: tuple[str, str, str] | None = None  # CRD scale subresource paths
    storage: tuple[str, str] | None = None  # stored as another resource (events.k8s.io)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`pods`, `statefulsets.apps`: how errors name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: group and plural (all versions of a resource share objects)."""
        return self.storage or (self.group, self.plural)


def _rt(group: str, version: str, plural: str, kind: str, **kw: Any) -> ResourceType:
    return ResourceType(group, version, plural, kind, **kw)


_WL = ("all",)
BUILTINS: tuple[ResourceType, ...] = (
    _rt(
        "",
        "v1",
        "namespaces",
        "Namespace",
        namespaced=False,
        short_names=("ns",),
        subresources=("status", "finalize"),
        return_deleted=True,
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    _rt(
        "",
        "v1",
        "pods",
        "Pod",
        short_names=("po",),
        subresources=("status", "binding"),
        return_deleted=True,
        categories=_WL,
    ),
    _rt("", "v1", "nodes", "Node", namespaced=False, short_names=("no",), subresources=("status",)),
    _rt(
        "",
        "v1",
        "services",
        "Service",
        short_names=("svc",),
        subresources=("status",),
        return_deleted=True,
        categories=_WL,
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
    ),
    _rt("", "v1", "endpoints", "Endpoints", short_names=("ep",)),
    _rt("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    _rt("", "v1", "secrets", "Secret"),
    _rt(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        short_names=("sa",),
        subresources=("token",),
        return_deleted=True,
    ),
    _rt("", "v1", "events", "Event", short_names=("ev",)),
    _rt(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        short_names=("pvc",),
        subresources=("status",),
    ),
    _rt(
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        namespaced=False,
        short_names=("pv",),
        subresources=("status",),
    ),
    _rt("events.k8s.io", "v1", "events", "Event", short_names=("ev",), storage=("", "events")),
    _rt(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        namespaced=False,
        return_deleted=True,
        short_names=("sc",),
    ),
    _rt(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short_names=("sts",),
        subresources=("status", "scale"),
        generation=True,
        categories=_WL,
    ),
    _rt(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        subresources=("status", "scale"),
        generation=True,
        categories=_WL,
    ),
    _rt(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short_names=("rs",),
        subresources=("status", "scale"),
        generation=True,
        categories=_WL,
    ),
    _rt(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short_names=("pdb",),
        subresources=("status",),
        generation=True,
    ),
    _rt("coordination.k8s.io", "v1", "leases", "Lease"),
    _rt(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        subresources=("status",),
        generation=True,
        categories=("api-extensions",),
    ),
    _rt("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _rt("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _rt(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        namespaced=False,
    ),
)

# Group -> preferred version order for discovery.
GROUP_ORDER = (
    "",
    "apps",
    "events.k8s.io",
    "policy",
    "storage.k8s.io",
    "coordination.k8s.io",
    "apiextensions.k8s.io",
    "rbac.authorization.k8s.io",
)


class Registry:
    """Served resource types by (group, version, plural); CRDs add and remove entries."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._kinds: dict[tuple[str, str], ResourceType] = {}
        self._crd_types: dict[str, list[ResourceType]] = {}  # CRD name -> its types
        self._group_versions: dict[str, list[str]] = {}
        for rt in BUILTINS:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt
        self._kinds[(rt.api_version, rt.kind)] = rt
        versions = self._group_versions.setdefault(rt.group, [])
        if rt.version not in versions:
            versions.append(rt.version)

    def remove(self, rt: ResourceType) -> None:
        self._types.pop((rt.group, rt.version, rt.plural), None)
        self._kinds.pop((rt.api_version, rt.kind), None)
        if not any(t.group == rt.group and t.version == rt.version for t in self._types.values()):
            versions = self._group_versions.get(rt.group, [])
            if rt.version in versions:
                versions.remove(rt.version)
            if not versions:
                self._group_versions.pop(rt.group, None)

    def set_crd(self, crd_name: str, types: list[ResourceType], storage_first: bool) -> None:
        """Replace the types served for one CRD (first type = preferred version)."""
        for rt in self._crd_types.pop(crd_name, []):
            self.remove(rt)
        for rt in types:
            self.add(rt)
        if types and storage_first:
            versions = self._group_versions[types[0].group]
            versions.remove(types[0].version)
            versions.insert(0, types[0].version)
        self._crd_types[crd_name] = types

    def drop_crd(self, crd_name: str) -> list[ResourceType]:
        types = self._crd_types.pop(crd_name, [])
        for rt in types:
            self.remove(rt)
        return types

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._kinds.get((api_version, kind))

    def by_key(self, key: tuple[str, str]) -> ResourceType | None:
        """Any served version of a stored resource (the group's preferred one first)."""
        for version in self._group_versions.get(key[0], []):
            rt = self._types.get((key[0], version, key[1]))
            if rt is not None:
                return rt
        return None

    def groups(self) -> dict[str, list[str]]:
        """Group -> versions (preferred first), groups in a stable order."""
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        names = sorted(self._group_versions, key=lambda g: (order.get(g, len(order)), g))
        return {g: list(self._group_versions[g]) for g in names}

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._types.values() if t.group == group and t.version == version]

    def all_types(self) -> list[ResourceType]:
        return list(self._types.values())
