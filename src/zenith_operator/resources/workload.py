"""StatefulSet, Services, PodDisruptionBudget and the agent-token Secret."""

from __future__ import annotations

import base64
import copy
import secrets
from typing import Any

from zenith_operator import naming
from zenith_operator.api.cluster import ClusterRef
from zenith_operator.api.spec import SpecError, ZenithClusterSpec
from zenith_operator.resources.config import DATA_VOLUME, ResolvedSource
from zenith_operator.resources.meta import labels, owned_meta
from zenith_operator.resources.pod import pod_template
from zenith_operator.resources.storage import storage_class_name

TOKEN_BYTES = 32


def data_claim_template(ref: ClusterRef, spec: ZenithClusterSpec) -> dict[str, Any]:
    z = spec.zenith_spec
    claim: dict[str, Any] = {
        "metadata": {"name": DATA_VOLUME, "labels": labels(ref)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": z.storage_quantity}},
        },
    }
    sc = storage_class_name(spec)
    if sc:
        claim["spec"]["storageClassName"] = sc
    return claim


def claim_templates(ref: ClusterRef, spec: ZenithClusterSpec) -> list[dict[str, Any]]:
    """Ours (`data`) unless the user gives one named `data`; the user's others appended."""
    ours = data_claim_template(ref, spec)
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, claim in enumerate(spec.volume_claim_templates):
        claim = copy.deepcopy(claim)
        name = (claim.get("metadata") or {}).get("name")
        if not name:
            raise SpecError(f"spec.volumeClaimTemplates[{i}].metadata.name", "is required")
        if name in names:
            raise SpecError(f"spec.volumeClaimTemplates[{i}].metadata.name", "duplicate name")
        names.add(name)
        claim["metadata"]["labels"] = {**claim["metadata"].get("labels", {}), **labels(ref)}
        out.append(claim)
    if DATA_VOLUME not in names:
        out.insert(0, ours)
    return out


def held_replicas(cluster: str, wanted: int, active: str | None) -> int:
    """Replicas to run: the spec's, but never fewer than the active's ordinal + 1.

    Scaling down never removes the active: the StatefulSet keeps it until the HA loop has
    switched over to an instance that stays (docs/spec.md, replicas).
    """
    prefix = f"{cluster}-"
    if active and active.startswith(prefix) and active[len(prefix) :].isdigit():
        return max(wanted, int(active[len(prefix) :]) + 1)
    return wanted


def statefulset(
    ref: ClusterRef,
    spec: ZenithClusterSpec,
    sources: list[ResolvedSource],
    config_hash: str,
    active: str | None = None,
) -> dict[str, Any]:
    """The database pods.

    - podManagementPolicy Parallel: a broken NAME-0 never blocks (re)creating NAME-1.
    - updateStrategy OnDelete: a template change never restarts the active by itself;
      the operator's config rollout deletes the standby first, then switches over.
    - stopped: replicas 0, PVCs and Services stay.
    """
    z = spec.zenith_spec
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": owned_meta(ref, naming.statefulset_name(ref.name)),
        "spec": {
            "replicas": 0 if z.stopped else held_replicas(ref.name, z.replicas, active),
            "serviceName": naming.headless_service_name(ref.name),
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "OnDelete"},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
            "selector": {"matchLabels": naming.selector_labels(ref.name)},
            "template": pod_template(ref, spec, sources, config_hash),
            "volumeClaimTemplates": claim_templates(ref, spec),
        },
    }


def _service_ports(spec: ZenithClusterSpec, agent: bool) -> list[dict[str, Any]]:
    p = spec.zenith_spec.ports
    ports = [
        {"name": "listen", "port": p.listen, "targetPort": "listen", "protocol": "TCP"},
        {
            "name": "replication",
            "port": p.replication,
            "targetPort": "replication",
            "protocol": "TCP",
        },
    ]
    if agent:
        ports.append({"name": "agent", "port": p.agent, "targetPort": "agent", "protocol": "TCP"})
    return ports


def headless_service(ref: ClusterRef, spec: ZenithClusterSpec) -> dict[str, Any]:
    """Stable DNS NAME-i.NAME.NS.svc for every pod, ready or not."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": owned_meta(ref, naming.headless_service_name(ref.name)),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": naming.selector_labels(ref.name),
            "ports": _service_ports(spec, agent=True),
        },
    }


def role_service(ref: ClusterRef, spec: ZenithClusterSpec, role: str) -> dict[str, Any]:
    """NAME-rw -> the active, NAME-ro -> the standby (the operator labels pods by role)."""
    name = (
        naming.rw_service_name(ref.name) if role == "active" else naming.ro_service_name(ref.name)
    )
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": owned_meta(ref, name),
        "spec": {
            "type": "ClusterIP",
            "selector": {**naming.selector_labels(ref.name), naming.ROLE_LABEL: role},
            "ports": [p for p in _service_ports(spec, agent=False) if p["name"] == "listen"],
        },
    }


def pod_disruption_budget(ref: ClusterRef) -> dict[str, Any]:
    """At most one instance voluntarily down (drain): never both of a pair.

    maxUnavailable 1 also for a single instance (a drain may stop it; blocking drains
    forever is worse); AlwaysAllow lets a drain evict a pod that is already unhealthy.
    """
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": owned_meta(ref, naming.pdb_name(ref.name)),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": naming.selector_labels(ref.name)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _generated_secret(ref: ClusterRef, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": owned_meta(ref, name),
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def agent_token_secret(ref: ClusterRef, token: str) -> dict[str, Any]:
    """Created once with a random token; reconcile never rewrites its data."""
    return _generated_secret(
        ref, naming.agent_secret_name(ref.name), {naming.AGENT_TOKEN_KEY: token}
    )


CREDENTIAL_KEYS = ("admin-user", "admin-password", "replication-password")


def credentials_secret(
    ref: ClusterRef, admin_password: str, replication_password: str
) -> dict[str, Any]:
    """Database credentials when the spec names no dbSecrets; created once, never rotated."""
    return _generated_secret(
        ref,
        naming.credentials_secret_name(ref.name),
        {
            "admin-user": "postgres",
            "admin-password": admin_password,
            "replication-password": replication_password,
        },
    )
