"""Pure builders: a parsed ZenithCluster (+ the referenced config it reads) -> manifests.

`desired(cluster, sources)` returns every object the operator keeps in place, as dicts.
No I/O here: the controller reads the referenced ConfigMaps/Secrets and applies the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zenith_operator.api.cluster import ZenithCluster
from zenith_operator.resources.config import ResolvedSource, check_paths, config_hash
from zenith_operator.resources.storage import local_volumes, storage_class
from zenith_operator.resources.workload import (
    headless_service,
    pod_disruption_budget,
    role_service,
    statefulset,
)


@dataclass(frozen=True)
class Desired:
    """What the operator keeps in place. The agent-token Secret is not here: it is
    created once (random) and never compared."""

    namespaced: list[dict[str, Any]] = field(default_factory=list)
    cluster_scoped: list[dict[str, Any]] = field(default_factory=list)
    config_hash: str = ""

    def all(self) -> list[dict[str, Any]]:
        return [*self.cluster_scoped, *self.namespaced]


def desired(cluster: ZenithCluster, sources: list[ResolvedSource]) -> Desired:
    """Raises SpecError (naming the field) when the spec cannot be built."""
    ref, spec = cluster.ref, cluster.spec
    check_paths(sources)
    digest = config_hash(sources)
    namespaced = [
        headless_service(ref, spec),
        role_service(ref, spec, "active"),
        role_service(ref, spec, "standby"),
        pod_disruption_budget(ref),
        statefulset(ref, spec, sources, digest, cluster.status.active_instance),
    ]
    cluster_scoped: list[dict[str, Any]] = []
    if spec.zenith_spec.local_storage:
        cluster_scoped = [storage_class(spec), *local_volumes(ref, spec)]
    return Desired(namespaced=namespaced, cluster_scoped=cluster_scoped, config_hash=digest)
