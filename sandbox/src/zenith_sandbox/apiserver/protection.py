"""Storage object in-use protection: the admission plugin and its two controllers.

New PVCs get `kubernetes.io/pvc-protection`, new PVs `kubernetes.io/pv-protection`.
A deleted PVC keeps its finalizer while a pod scheduled to a node (`spec.nodeName`) in its
namespace mounts it, whatever the pod's phase (kube-controller-manager 1.36);
a deleted PV keeps its finalizer while `status.phase` is `Bound`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from .errors import ApiError, FieldError
from .resources import ResourceType
from .rest import Api, Ctx
from .storage import Obj

PVC_FINALIZER = "kubernetes.io/pvc-protection"
PV_FINALIZER = "kubernetes.io/pv-protection"
PODS, PVCS, PVS = ("", "pods"), ("", "persistentvolumeclaims"), ("", "persistentvolumes")


Hook = Callable[[Obj, Obj | None, Ctx], list[FieldError]]


def _admit(finalizer: str, previous: Hook | None) -> Hook:
    """Add `finalizer` on create, after any hook already installed for the resource."""

    def hook(obj: Obj, old: Obj | None, ctx: Ctx) -> list[FieldError]:
        errs = previous(obj, old, ctx) if previous is not None else []
        if old is None:
            finalizers = obj["metadata"].setdefault("finalizers", [])
            if finalizer not in finalizers:
                finalizers.append(finalizer)
        return errs

    return hook


class StorageProtection:
    def __init__(self, api: Api) -> None:
        self.api = api
        for key, finalizer in ((PVCS, PVC_FINALIZER), (PVS, PV_FINALIZER)):
            api.prepare_hooks[key] = _admit(finalizer, api.prepare_hooks.get(key))
        api.after_write.append(self.on_write)

    def on_write(self, rt: ResourceType, obj: Obj) -> None:
        m = obj["metadata"]
        if rt.key in (PODS, PVCS) and m.get("namespace"):
            ns = m["namespace"]
            self.api.defer(lambda: self._release_claims(ns))
        elif rt.key == PVS and m.get("deletionTimestamp"):
            name = m["name"]
            self.api.defer(lambda: self._release_volume(name))

    def _drop(self, rt_key: tuple[str, str], obj: Obj, finalizer: str) -> None:
        rt = self.api.registry.by_key(rt_key)
        assert rt is not None
        new = {**obj, "metadata": {**obj["metadata"]}}
        new["metadata"]["finalizers"] = [
            f for f in obj["metadata"].get("finalizers") or [] if f != finalizer
        ]
        m = obj["metadata"]
        with contextlib.suppress(ApiError):  # raced with a client; its write retriggers us
            self.api.update(rt, m.get("namespace", ""), m["name"], new, "", Ctx(internal=True))

    def _release_claims(self, ns: str) -> None:
        store = self.api.store
        in_use: set[str] = set()
        for pod in store.list_objs(PODS, ns):
            if not pod.get("spec", {}).get("nodeName"):
                continue  # only scheduled pods hold a claim, terminated ones too (1.36)
            for vol in pod.get("spec", {}).get("volumes") or []:
                claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
                if claim:
                    in_use.add(claim)
        for pvc in store.list_objs(PVCS, ns):
            m = pvc["metadata"]
            if (
                m.get("deletionTimestamp")
                and PVC_FINALIZER in (m.get("finalizers") or [])
                and m["name"] not in in_use
            ):
                self._drop(PVCS, pvc, PVC_FINALIZER)

    def _release_volume(self, name: str) -> None:
        pv = self.api.store.get(PVS, "", name)
        if pv is None or PV_FINALIZER not in (pv["metadata"].get("finalizers") or []):
            return
        if pv.get("status", {}).get("phase") != "Bound":
            self._drop(PVS, pv, PV_FINALIZER)
