"""Make one live object match its desired form, writing nothing when it already does.

- missing: create it;
- present: compare the desired fields only (server defaults and other writers' fields
  are ignored; quantities compare by value); when they differ, send a merge patch with
  the desired fields, plus `null` for fields we set last time and no longer want
  (remembered in the LAST_APPLIED annotation, like `kubectl apply`);
- immutable StatefulSet fields are never patched: a difference is reported instead,
  except the claim templates' storage size, which stays as created (the PVCs grow
  instead, reconcile_storage.grow_claims).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from zenith_operator import naming
from zenith_operator.api.spec import parse_quantity
from zenith_operator.controller.reconcile_kube import Kube, KubeError, Ref

LAST_APPLIED = f"{naming.LABEL_PREFIX}/last-applied"
IMMUTABLE: dict[str, tuple[str, ...]] = {
    "StatefulSet": ("selector", "serviceName", "volumeClaimTemplates", "podManagementPolicy"),
    "PersistentVolume": ("local", "nodeAffinity", "claimRef", "capacity", "storageClassName"),
    "StorageClass": ("provisioner", "volumeBindingMode", "reclaimPolicy"),
}
IMMUTABLE_DETAIL = "immutable fields differ"
QUANTITY_KEYS = {"resources", "capacity", "requests", "limits"}


class ConflictError(Exception):
    """A same-named object exists that this cluster does not own."""


@dataclass(frozen=True)
class Applied:
    ref: Ref
    action: str  # created | patched | unchanged | immutable
    detail: str = ""


def _quantity_equal(a: Any, b: Any) -> bool:
    try:
        return parse_quantity(a) == parse_quantity(b)
    except (ValueError, TypeError):
        return False


def contains(current: Any, desired: Any, quantities: bool = False) -> bool:
    """True when every field of `desired` has the same value in `current`."""
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return False
        return all(
            contains(current.get(k), v, quantities or k in QUANTITY_KEYS)
            for k, v in desired.items()
        )
    if isinstance(desired, list):
        if not isinstance(current, list) or len(current) != len(desired):
            return False
        return all(contains(c, d, quantities) for c, d in zip(current, desired, strict=True))
    if current == desired:
        return True
    return quantities and _quantity_equal(current, desired)


def _removals(previous: Any, desired: Any) -> Any:
    """Merge-patch nulls for keys in `previous` (last applied) missing from `desired`."""
    if not isinstance(previous, dict) or not isinstance(desired, dict):
        return None
    out: dict[str, Any] = {}
    for key, old in previous.items():
        if key not in desired:
            out[key] = None
        else:
            nested = _removals(old, desired[key])
            if nested:
                out[key] = nested
    return out or None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        elif key not in base:
            base[key] = value
    return base


def managed_part(obj: dict[str, Any]) -> dict[str, Any]:
    """The fields we compare and patch: labels, annotations, owner refs, body."""
    meta = obj.get("metadata") or {}
    out: dict[str, Any] = {
        k: copy.deepcopy(v) for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")
    }
    out["metadata"] = {
        k: copy.deepcopy(meta[k]) for k in ("labels", "annotations", "ownerReferences") if k in meta
    }
    return out


def _without_immutable(kind: str, part: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split `part` into (patchable, immutable) by the kind's immutable spec fields."""
    fields = IMMUTABLE.get(kind, ())
    if not fields:
        return part, {}
    patchable = copy.deepcopy(part)
    frozen: dict[str, Any] = {}
    container = patchable.get("spec", patchable)
    for name in fields:
        if name in container:
            frozen[name] = container.pop(name)
    return patchable, frozen


def wanted_claim_sizes(sts: dict[str, Any]) -> dict[str, str]:
    """Claim template name -> the storage request the spec wants for its PVCs."""
    out: dict[str, str] = {}
    for tmpl in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        storage = (((tmpl.get("spec") or {}).get("resources") or {}).get("requests") or {}).get(
            "storage"
        )
        if storage is not None:
            out[tmpl["metadata"]["name"]] = str(storage)
    return out


def keep_claim_sizes(current: dict[str, Any], desired: dict[str, Any]) -> None:
    """Give `desired` (a StatefulSet) the claim sizes `current` has: they are immutable,
    and the PVCs grow instead (grow_claims)."""
    have = wanted_claim_sizes(current)
    for tmpl in (desired.get("spec") or {}).get("volumeClaimTemplates") or []:
        size = have.get(tmpl["metadata"]["name"])
        requests = ((tmpl.get("spec") or {}).get("resources") or {}).get("requests")
        if size is not None and isinstance(requests, dict) and "storage" in requests:
            requests["storage"] = size


def check_owner(current: dict[str, Any], desired: dict[str, Any]) -> None:
    want = (desired.get("metadata") or {}).get("ownerReferences") or []
    have = (current.get("metadata") or {}).get("ownerReferences") or []
    if want and not any(h.get("uid") == want[0].get("uid") for h in have):
        raise ConflictError(f"{Ref.of(desired)} exists and is not owned by this ZenithCluster")
    labels = (desired.get("metadata") or {}).get("labels") or {}
    if not want and naming.CLUSTER_LABEL in labels:  # cluster-scoped: labels tell owners
        got = (current.get("metadata") or {}).get("labels") or {}
        for key in (naming.CLUSTER_LABEL, f"{naming.LABEL_PREFIX}/namespace"):
            if got.get(key) != labels.get(key):
                raise ConflictError(f"{Ref.of(desired)} exists and belongs to another cluster")


def apply(kube: Kube, desired: dict[str, Any], owned: bool = True) -> Applied:
    """Create or patch `desired`; `owned=False` (shared StorageClass): create only."""
    ref = Ref.of(desired)
    current = kube.get(ref)
    if current is not None and desired["kind"] == "StatefulSet":
        desired = copy.deepcopy(desired)
        keep_claim_sizes(current, desired)
    part = managed_part(desired)
    stamped = copy.deepcopy(desired)
    stamped["metadata"].setdefault("annotations", {})[LAST_APPLIED] = json.dumps(
        part, sort_keys=True, separators=(",", ":")
    )
    if current is None:
        try:
            kube.create(stamped if owned else desired)
        except KubeError as exc:
            if exc.status != 409:
                raise
            return Applied(ref, "unchanged", "created concurrently")
        return Applied(ref, "created")
    if not owned:
        return Applied(ref, "unchanged")
    check_owner(current, desired)
    annotations = (current.get("metadata") or {}).get("annotations") or {}
    try:
        previous = json.loads(annotations.get(LAST_APPLIED, "{}"))
    except ValueError:
        previous = {}
    patchable, frozen = _without_immutable(desired["kind"], part)
    detail = ""
    if frozen and not contains(current.get("spec", current), frozen):
        detail = f"{IMMUTABLE_DETAIL}: {', '.join(sorted(frozen))}"
    last = stamped["metadata"]["annotations"][LAST_APPLIED]
    if contains(current, patchable) and annotations.get(LAST_APPLIED) == last:
        return Applied(ref, "immutable" if detail else "unchanged", detail)
    prev_patchable, _ = _without_immutable(desired["kind"], previous)
    patch = copy.deepcopy(patchable)
    patch["metadata"].setdefault("annotations", {})[LAST_APPLIED] = last
    removals = _removals(prev_patchable, patchable)
    if removals:
        _merge(patch, removals)
    kube.patch(ref, patch)
    return Applied(ref, "patched", detail)
