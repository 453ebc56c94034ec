"""Object metadata shared by every builder: names, common labels, owner references."""

from __future__ import annotations

from typing import Any

from zenith_operator import naming
from zenith_operator.api.cluster import ClusterRef


def labels(ref: ClusterRef, **extra: str) -> dict[str, str]:
    return {**naming.common_labels(ref.name), **extra}


def owned_meta(ref: ClusterRef, name: str, **extra_labels: str) -> dict[str, Any]:
    """Metadata of a namespaced child owned (and garbage-collected) with the cluster."""
    return {
        "name": name,
        "namespace": ref.namespace,
        "labels": labels(ref, **extra_labels),
        "ownerReferences": [ref.owner_reference()],
    }


def cluster_scoped_meta(ref: ClusterRef, name: str) -> dict[str, Any]:
    """Cluster-scoped objects (PV, StorageClass) cannot be owned by a namespaced object:
    they carry labels naming the cluster (and its namespace) instead."""
    return {
        "name": name,
        "labels": {
            **labels(ref),
            NAMESPACE_LABEL: ref.namespace,
        },
    }


NAMESPACE_LABEL = f"{naming.LABEL_PREFIX}/namespace"
