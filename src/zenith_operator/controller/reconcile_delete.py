"""Deletion of a ZenithCluster (finalizer), honouring spec.retentionPolicy.

Namespaced children are owned and garbage-collected after the finalizer goes. Before
that, with `pvcs: Delete`: delete the StatefulSet (its pods release the claims), the
data PVCs, and, with `localStorage.reclaimPolicy: Delete`, each local PV once its claim
is gone, clearing `kubernetes.io/pv-protection` (the seed's manual step) only then.
"""

from __future__ import annotations

from typing import Any

from zenith_operator import naming
from zenith_operator.api.cluster import ClusterRef, ref_from_body
from zenith_operator.api.spec import ReclaimPolicy, SpecError, parse_spec
from zenith_operator.controller.reconcile_kube import Kube, Ref
from zenith_operator.resources.meta import NAMESPACE_LABEL
from zenith_operator.resources.storage import PV_PROTECTION_FINALIZER


class Waiting(Exception):
    """Cleanup must wait (e.g. a PVC is still in use); retry later."""


def _selector(ref: ClusterRef) -> dict[str, str]:
    return {
        naming.CLUSTER_LABEL: ref.name,
        "app.kubernetes.io/managed-by": "zenith-operator",
    }


def cleanup(kube: Kube, body: dict[str, Any]) -> list[str]:
    """Returns what was done (for the Event); raises Waiting to be retried."""
    ref = ref_from_body(body)
    try:
        spec = parse_spec(body.get("spec"))
    except SpecError:
        return ["spec invalid: kept all storage"]
    if spec.retention_policy.pvcs is ReclaimPolicy.RETAIN:
        return ["kept the data PVCs (retentionPolicy.pvcs: Retain)"]
    done: list[str] = []
    sts = Ref("apps/v1", "StatefulSet", naming.statefulset_name(ref.name), ref.namespace)
    if kube.delete(sts):
        done.append(f"deleted {sts}")
    pvcs = kube.list("v1", "PersistentVolumeClaim", ref.namespace, _selector(ref))
    for pvc in pvcs:
        if not (pvc.get("metadata") or {}).get("deletionTimestamp"):
            kube.delete(Ref.of(pvc))
            done.append(f"deleted {Ref.of(pvc)}")
    local = spec.zenith_spec.local_storage
    if local and local.reclaim_policy is ReclaimPolicy.DELETE:
        done += _delete_local_volumes(kube, ref)
    return done


def _delete_local_volumes(kube: Kube, ref: ClusterRef) -> list[str]:
    done: list[str] = []
    selector = {**_selector(ref), NAMESPACE_LABEL: ref.namespace}
    for pv in kube.list("v1", "PersistentVolume", None, selector):
        pv_ref = Ref.of(pv)
        claim = (pv.get("spec") or {}).get("claimRef") or {}
        if claim.get("name") and kube.get(
            Ref("v1", "PersistentVolumeClaim", claim["name"], claim.get("namespace"))
        ):
            raise Waiting(f"{pv_ref} waits for its claim {claim['name']} to be deleted")
        meta = pv.get("metadata") or {}
        if not meta.get("deletionTimestamp"):
            kube.delete(pv_ref)
            done.append(f"deleted {pv_ref}")
            pv = kube.get(pv_ref) or {}
            meta = pv.get("metadata") or {}
        finalizers = meta.get("finalizers") or []
        if meta and PV_PROTECTION_FINALIZER in finalizers:
            rest = [f for f in finalizers if f != PV_PROTECTION_FINALIZER]
            kube.patch(
                pv_ref,
                [
                    {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
                    {"op": "replace", "path": "/metadata/finalizers", "value": rest},
                ],
                "application/json-patch+json",
            )
            done.append(f"cleared {PV_PROTECTION_FINALIZER} on {pv_ref} (claim gone)")
    return done
