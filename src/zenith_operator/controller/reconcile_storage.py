"""Local PVs kept from an earlier incarnation of the cluster (reclaimPolicy Retain).

A PV whose claim was deleted is `Released` and keeps the old claim's uid in `claimRef`,
so the new claim `data-NAME-i` of a recreated cluster would stay Pending forever. The
operator pre-binds its PVs by name on purpose (the data belongs to instance i), so it
drops the stale uid: the PV becomes Available for the same claim name and the
recreated instance finds its data.
"""

from __future__ import annotations

from typing import Any

from zenith_operator.controller.reconcile_kube import JSON_PATCH, Kube, Ref


def release_stale_claim(kube: Kube, pv: dict[str, Any]) -> bool:
    """True when a stale claimRef uid was removed."""
    ref = Ref.of(pv)
    current = kube.get(ref)
    if current is None or (current.get("status") or {}).get("phase") != "Released":
        return False
    claim = (current.get("spec") or {}).get("claimRef") or {}
    if not claim.get("uid"):
        return False
    live = kube.get(
        Ref("v1", "PersistentVolumeClaim", claim.get("name", ""), claim.get("namespace"))
    )
    if live is not None and (live.get("metadata") or {}).get("uid") == claim["uid"]:
        return False
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": "/spec/claimRef/uid", "value": claim["uid"]},
        {"op": "remove", "path": "/spec/claimRef/uid"},
    ]
    if "resourceVersion" in claim:
        ops.append({"op": "remove", "path": "/spec/claimRef/resourceVersion"})
    kube.patch(ref, ops, JSON_PATCH)
    return True
