"""PersistentVolumeClaim updates as kube-apiserver 1.36 checks them: the spec is
immutable but for `resources.requests` (and volumeAttributesClassName) of a bound claim
and a first `volumeName`; a request never drops below `status.capacity`; and, after
validation, the PersistentVolumeClaimResize admission plugin lets a claim grow only when
its StorageClass has `allowVolumeExpansion: true` (403 otherwise).
"""

from __future__ import annotations

import copy
from decimal import Decimal, InvalidOperation

from zenith_operator.quantity import parse_quantity

from .errors import ApiError, FieldError
from .protection import Hook
from .rest import Api, Ctx
from .storage import Obj

PVCS, CLASSES = ("", "persistentvolumeclaims"), ("storage.k8s.io", "storageclasses")
IMMUTABLE = (
    "spec is immutable after creation except resources.requests and "
    "volumeAttributesClassName for bound claims"
)
RESIZE_FORBIDDEN = (
    "only dynamically provisioned pvc can be resized and the storageclass that provisions "
    "the pvc must support resize"
)


def _storage(obj: Obj, *path: str) -> Decimal | None:
    node: object = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if node is None:
        return None
    try:
        return parse_quantity(node)  # type: ignore[arg-type]
    except (ValueError, TypeError, InvalidOperation):
        return None


def _mutable_view(spec: Obj, old_spec: Obj, bound: bool) -> Obj:
    view = copy.deepcopy(spec)
    if not old_spec.get("volumeName"):
        view["volumeName"] = old_spec.get("volumeName")
    if bound:
        view["resources"] = {**(view.get("resources") or {})}
        view["resources"]["requests"] = (old_spec.get("resources") or {}).get("requests")
        view["volumeAttributesClassName"] = old_spec.get("volumeAttributesClassName")
    return view


class PvcResize:
    def __init__(self, api: Api) -> None:
        self.api = api
        api.prepare_hooks[PVCS] = self._hook(api.prepare_hooks.get(PVCS))

    def _hook(self, previous: Hook | None) -> Hook:
        def hook(obj: Obj, old: Obj | None, ctx: Ctx) -> list[FieldError]:
            errs = previous(obj, old, ctx) if previous is not None else []
            if old is None or ctx.internal:
                return errs
            spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
            bound = (old.get("status") or {}).get("phase") == "Bound"
            if _mutable_view(spec, old_spec, bound) != _mutable_view(old_spec, old_spec, bound):
                return [*errs, FieldError("forbidden", "spec", detail=IMMUTABLE)]
            new = _storage(obj, "spec", "resources", "requests", "storage")
            before = _storage(old, "spec", "resources", "requests", "storage")
            capacity = _storage(old, "status", "capacity", "storage")
            if new is not None and capacity is not None and new < capacity:
                errs.append(
                    FieldError(
                        "forbidden",
                        "spec.resources.requests.storage",
                        detail="field can not be less than status.capacity",
                    )
                )
            if errs or new is None or before is None or new <= before:
                return errs
            if not self._expandable(spec.get("storageClassName")):
                name = obj["metadata"].get("name", "")
                raise ApiError(
                    403,
                    "Forbidden",
                    f'persistentvolumeclaims "{name}" is forbidden: {RESIZE_FORBIDDEN}',
                    {"name": name, "kind": "persistentvolumeclaims"},
                )
            return errs

        return hook

    def _expandable(self, class_name: str | None) -> bool:
        if not class_name:
            return False
        sc = self.api.store.get(CLASSES, "", class_name)
        return bool(sc and sc.get("allowVolumeExpansion"))
