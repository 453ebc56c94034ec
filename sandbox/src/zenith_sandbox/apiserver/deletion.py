"""DELETE and deletecollection: finalizers, grace periods, propagation, namespaces."""

from __future__ import annotations

import json
from typing import Protocol

from . import errors, meta
from .errors import ApiError, FieldError
from .request import Ctx
from .resources import ResourceType
from .storage import Obj, Store


class Api(Protocol):
    """What deletion needs of rest.Api (which calls in here: no import back)."""

    store: Store

    def find(self, rt: ResourceType, namespace: str, name: str) -> Obj: ...
    def out(self, rt: ResourceType, obj: Obj) -> Obj: ...
    def remove(self, rt: ResourceType, obj: Obj) -> Obj: ...
    def list(self, rt: ResourceType, namespace: str | None, ctx: Ctx) -> Obj: ...
    def _store(
        self, rt: ResourceType, obj: Obj, old: Obj | None, ctx: Ctx, remove_when_done: bool = True
    ) -> Obj: ...


def delete(
    api: Api, rt: ResourceType, namespace: str, name: str, opts: Obj, ctx: Ctx
) -> tuple[int, Obj]:
    old = api.find(rt, namespace, name)
    _check_preconditions(rt, name, opts.get("preconditions") or {}, old["metadata"])
    om = old["metadata"]
    obj = meta.deep(old)
    m = obj["metadata"]
    finalizers = list(m.get("finalizers") or [])
    policy = opts.get("propagationPolicy")
    if policy is None and opts.get("orphanDependents") is not None:
        policy = "Orphan" if opts["orphanDependents"] else "Background"
    if policy == "Foreground" and "foregroundDeletion" not in finalizers:
        finalizers.append("foregroundDeletion")
    if policy == "Orphan" and "orphan" not in finalizers:
        finalizers.append("orphan")
    if rt.key == ("", "namespaces"):
        return 200, _delete_namespace(api, rt, obj, ctx)
    grace = _grace(rt, obj, opts)
    deleting = bool(m.get("deletionTimestamp"))
    if grace > 0 or finalizers:
        if not deleting:
            m["deletionTimestamp"] = meta.now(grace)
            m["deletionGracePeriodSeconds"] = grace
            if "generation" in m:
                m["generation"] += 1
        elif grace < m.get("deletionGracePeriodSeconds", 0):
            m["deletionTimestamp"] = meta.now(grace)
            m["deletionGracePeriodSeconds"] = grace
        if finalizers:
            m["finalizers"] = finalizers
        stored = api._store(rt, obj, old, ctx)
        return 200, api.out(rt, stored)
    final = obj if ctx.dry_run else api.remove(rt, obj)
    if rt.return_deleted:
        return 200, api.out(rt, final)
    details = {"name": name, "group": rt.group, "kind": rt.plural, "uid": om["uid"]}
    if not rt.group:
        del details["group"]
    return 200, {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def _check_preconditions(rt: ResourceType, name: str, pre: Obj, om: Obj) -> None:
    """DELETE preconditions, worded by rest.BeforeDelete (on `Kind.group`), except the
    namespace registry's own (storage) wording for namespaces."""
    uid, rv = pre.get("uid"), pre.get("resourceVersion")
    if rt.key == ("", "namespaces"):
        if uid and uid != om["uid"]:
            why = (
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {om['uid']}"
            )
            raise errors.conflict(rt, name, why)
        if rv and rv != om["resourceVersion"]:
            why = (
                f"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion "
                f"in object meta: {om['resourceVersion']}"
            )
            raise errors.conflict(rt, name, why)
        return
    if uid and uid != om["uid"]:
        why = (
            f"the UID in the precondition ({uid}) does not match the UID in record "
            f"({om['uid']}). The object might have been deleted and then recreated"
        )
        raise errors.conflict_on_kind(rt, name, why)
    if rv and rv != om["resourceVersion"]:
        why = (
            f"the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion "
            f"in record ({om['resourceVersion']}). The object might have been modified"
        )
        raise errors.conflict_on_kind(rt, name, why)


def _grace(rt: ResourceType, obj: Obj, opts: Obj) -> int:
    """Pods bound to a node wait for their kubelet; everything else goes at once."""
    if rt.key != ("", "pods"):
        return 0
    spec, status = obj.get("spec", {}), obj.get("status", {})
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return 0
    grace = opts.get("gracePeriodSeconds")
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds", 30)
    return max(int(grace), 0)


def _delete_namespace(api: Api, rt: ResourceType, obj: Obj, ctx: Ctx) -> Obj:
    """The namespace registry's Delete: the first DELETE only marks the namespace
    Terminating (even when spec.finalizers is already empty); a later one removes it once
    spec.finalizers is empty."""
    m = obj["metadata"]
    old = api.store.get(rt.key, "", m["name"])
    if m.get("deletionTimestamp"):
        if obj.get("spec", {}).get("finalizers") or m.get("finalizers") or ctx.dry_run:
            return api.out(rt, obj)
        return api.out(rt, api.remove(rt, obj))
    m["deletionTimestamp"] = meta.now()
    m["deletionGracePeriodSeconds"] = 0
    obj["status"] = {**obj.get("status", {}), "phase": "Terminating"}
    return api.out(rt, api._store(rt, obj, old, ctx, remove_when_done=False))


def delete_collection(
    api: Api, rt: ResourceType, namespace: str | None, opts: Obj, ctx: Ctx
) -> Obj:
    listed = api.list(
        rt,
        namespace,
        type(ctx)({k: v for k, v in ctx.query.items() if k in ("labelSelector", "fieldSelector")}),
    )
    deleted = []
    for item in listed["items"]:
        m = item["metadata"]
        try:
            _, res = delete(api, rt, m.get("namespace", ""), m["name"], opts, ctx)
        except ApiError:
            continue
        deleted.append(res if res.get("kind") != "Status" else item)
    return {**listed, "items": deleted}


def check_no_new_finalizers(rt: ResourceType, name: str, new_meta: Obj, old_meta: Obj) -> None:
    """An object being deleted may lose finalizers but not gain any (422)."""
    if not old_meta.get("deletionTimestamp"):
        return
    old = old_meta.get("finalizers") or []
    added = [f for f in new_meta.get("finalizers") or [] if f not in old]
    if added:
        found = "[]string{" + ", ".join(json.dumps(f) for f in added) + "}"
        detail = (
            "no new finalizers can be added if the object is being deleted, found new "
            f"finalizers {found}"
        )
        raise errors.invalid(
            rt, name, [FieldError("forbidden", "metadata.finalizers", detail=detail)]
        )
