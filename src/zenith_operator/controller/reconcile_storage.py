"""Storage the StatefulSet does not manage: local PVs kept from an earlier incarnation
of the cluster, and the growth of the PVCs when storageSize grows (below).

Local PVs (reclaimPolicy Retain):

A PV whose claim was deleted is `Released` and keeps the old claim's uid in `claimRef`,
so the new claim `data-NAME-i` of a recreated cluster would stay Pending forever. The
operator pre-binds its PVs by name on purpose (the data belongs to instance i), so it
drops the stale uid: the PV becomes Available for the same claim name and the
recreated instance finds its data.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from zenith_operator.controller.reconcile_apply import Applied, wanted_claim_sizes
from zenith_operator.controller.reconcile_conditions import Wanted
from zenith_operator.controller.reconcile_kube import JSON_PATCH, Kube, KubeError, Ref
from zenith_operator.naming import CLUSTER_LABEL
from zenith_operator.quantity import parse_quantity


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


# --- storageSize growth -----------------------------------------------------------------
# A StatefulSet's volumeClaimTemplates are immutable (kube-apiserver refuses the update),
# so the template keeps the size it was created with and the operator grows the PVCs
# themselves, as far as their StorageClass allows volume expansion. New PVCs (a scale-up)
# start at the template's size and are grown the same way.

VOLUME_EXPANSION = "VolumeExpansion"  # condition: progress of a storageSize growth
GROWN, RESIZING, REFUSED = "grown", "resizing", "refused"  # Applied.action of a PVC


def _bytes(value: Any) -> Decimal | None:
    try:
        return parse_quantity(value) if value is not None else None
    except ValueError:
        return None


def claim_growth(pvc: dict[str, Any], wanted: str) -> str | None:
    """GROWN (request below `wanted`: patch it), RESIZING (requested, capacity not yet) or
    None (done, or bigger already)."""
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    want = _bytes(wanted)
    requested = _bytes(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
    capacity = _bytes((status.get("capacity") or {}).get("storage"))
    if want is None or requested is None:
        return None
    if requested < want:
        return GROWN
    if capacity is not None and capacity < want:
        return RESIZING
    return None


def grow_claims(kube: Kube, sts: dict[str, Any], cluster: str) -> list[Applied]:
    """Patch each PVC of the StatefulSet below its wanted size when its StorageClass has
    allowVolumeExpansion; one Applied per PVC that is not at its size yet."""
    sizes = wanted_claim_sizes(sts)
    meta = sts["metadata"]
    pvcs = kube.list("v1", "PersistentVolumeClaim", meta["namespace"], {CLUSTER_LABEL: cluster})
    expandable: dict[str, bool] = {}
    out: list[Applied] = []
    for pvc in pvcs:
        name = pvc["metadata"]["name"]
        tmpl = next((t for t in sizes if _ordinal_claim(name, t, meta["name"])), None)
        if tmpl is None or pvc["metadata"].get("deletionTimestamp"):
            continue
        step = claim_growth(pvc, sizes[tmpl])
        ref = Ref.of(pvc)
        if step == RESIZING:
            out.append(Applied(ref, RESIZING, _progress(pvc, sizes[tmpl])))
        if step != GROWN:
            continue
        if (pvc.get("status") or {}).get("phase") != "Bound":  # only a bound claim can grow
            detail = f"{name}: {_requested(pvc)} -> {sizes[tmpl]} once bound"
            out.append(Applied(ref, RESIZING, detail))
            continue
        sc = (pvc.get("spec") or {}).get("storageClassName") or ""
        if sc not in expandable:
            found = kube.get(Ref("storage.k8s.io/v1", "StorageClass", sc)) if sc else None
            expandable[sc] = bool(found and found.get("allowVolumeExpansion"))
        if not expandable[sc]:
            why = f"StorageClass {sc or '(none)'} does not allow volume expansion"
            out.append(Applied(ref, REFUSED, f"{name} stays at {_requested(pvc)}: {why}"))
            continue
        patch = {"spec": {"resources": {"requests": {"storage": sizes[tmpl]}}}}
        try:
            kube.patch(ref, patch)
        except KubeError as exc:
            if exc.status not in (403, 422):
                raise
            out.append(Applied(ref, REFUSED, f"{name} stays at {_requested(pvc)}: {exc.message}"))
            continue
        out.append(Applied(ref, GROWN, f"{name}: {_requested(pvc)} -> {sizes[tmpl]} requested"))
    return out


def expansion_condition(applied: list[Applied], had: bool) -> Wanted | None:
    """The VolumeExpansion condition for this reconcile (None: nothing to say, no growth
    ever asked)."""
    refused = [a.detail for a in applied if a.action == REFUSED]
    moving = [a.detail for a in applied if a.action in (GROWN, RESIZING)]
    if refused:
        return Wanted(VOLUME_EXPANSION, "False", "ExpansionNotAllowed", "; ".join(refused))
    if moving:
        return Wanted(VOLUME_EXPANSION, "False", "Resizing", "; ".join(moving))
    if had:
        return Wanted(VOLUME_EXPANSION, "True", "Expanded", "every volume has its requested size")
    return None


def _ordinal_claim(pvc: str, template: str, sts: str) -> bool:
    prefix = f"{template}-{sts}-"
    return pvc.startswith(prefix) and pvc[len(prefix) :].isdigit()


def _requested(pvc: dict[str, Any]) -> str:
    spec = pvc.get("spec") or {}
    return str(((spec.get("resources") or {}).get("requests") or {}).get("storage", "?"))


def _progress(pvc: dict[str, Any], wanted: str) -> str:
    status = pvc.get("status") or {}
    capacity = (status.get("capacity") or {}).get("storage", "?")
    pending = [
        str(c.get("type"))
        for c in status.get("conditions") or []
        if c.get("status") == "True" and c.get("type")
    ]
    state = f" ({', '.join(pending)})" if pending else ""
    return f"{pvc['metadata']['name']}: {capacity} -> {wanted}{state}"
