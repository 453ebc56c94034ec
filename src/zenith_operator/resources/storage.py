"""Local storage: the StorageClass and one pre-bound local PersistentVolume per instance.

Local PVs are not provisioned dynamically (seed notes): the operator creates them from
`spec.zenithSpec.localStorage` and removes them on deletion per `reclaimPolicy`. Each PV
is pre-bound (`claimRef`) to the StatefulSet's claim `data-NAME-i`, so instance i always
gets the disk on node i and clusters sharing the StorageClass never take each other's
volumes. The StorageClass is shared (cluster-scoped, no owner) and never deleted.
"""

from __future__ import annotations

from typing import Any

from zenith_operator import naming
from zenith_operator.api.cluster import ClusterRef
from zenith_operator.api.spec import DEFAULT_LOCAL_STORAGE_CLASS, ZenithClusterSpec
from zenith_operator.resources.config import DATA_VOLUME
from zenith_operator.resources.meta import cluster_scoped_meta

NO_PROVISIONER = "kubernetes.io/no-provisioner"
PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection"
ORDINAL_LABEL = f"{naming.LABEL_PREFIX}/ordinal"


def storage_class_name(spec: ZenithClusterSpec) -> str | None:
    z = spec.zenith_spec
    if z.storage_class_name:
        return z.storage_class_name
    return DEFAULT_LOCAL_STORAGE_CLASS if z.local_storage else None


def claim_name(cluster: str, ordinal: int) -> str:
    return f"{DATA_VOLUME}-{naming.pod_name(cluster, ordinal)}"


def pv_name(ref: ClusterRef, ordinal: int) -> str:
    return f"zenith-{ref.namespace}-{ref.name}-{ordinal}"


def storage_class(spec: ZenithClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": storage_class_name(spec),
            "labels": {"app.kubernetes.io/managed-by": "zenith-operator"},
        },
        "provisioner": NO_PROVISIONER,
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Retain",
    }


def local_volumes(ref: ClusterRef, spec: ZenithClusterSpec) -> list[dict[str, Any]]:
    """One PV per instance ordinal (only the first `replicas` entries of nodes)."""
    z = spec.zenith_spec
    if not z.local_storage:
        return []
    out = []
    for ordinal, entry in enumerate(z.local_storage.nodes[: z.replicas]):
        meta = cluster_scoped_meta(ref, pv_name(ref, ordinal))
        meta["labels"][ORDINAL_LABEL] = str(ordinal)
        out.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": meta,
                "spec": {
                    "capacity": {"storage": z.storage_quantity},
                    "volumeMode": "Filesystem",
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": storage_class_name(spec),
                    "local": {"path": entry.path},
                    "claimRef": {
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "namespace": ref.namespace,
                        "name": claim_name(ref.name, ordinal),
                    },
                    "nodeAffinity": {
                        "required": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "kubernetes.io/hostname",
                                            "operator": "In",
                                            "values": [entry.node],
                                        }
                                    ]
                                }
                            ]
                        }
                    },
                },
            }
        )
    return out
