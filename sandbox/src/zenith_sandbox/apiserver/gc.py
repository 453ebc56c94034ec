"""Garbage collector (ownerReferences) and namespace controller, run asynchronously.

Like the real controllers they act after the write that triggers them, so clients
observe the same intermediate states (Terminating namespaces, owners waiting on
`foregroundDeletion`) and must poll for the outcome.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from . import meta
from .errors import ApiError
from .resources import ResourceType
from .rest import Api, Ctx
from .storage import Obj

log = logging.getLogger(__name__)
FOREGROUND, ORPHAN, NS_FINALIZER = "foregroundDeletion", "orphan", "kubernetes"


class Collector:
    """Reacts to writes: cascades deletions, releases orphans, empties namespaces."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.dependents: dict[str, set[str]] = {}  # owner uid -> dependent uids (lazy)
        api.after_write.append(self.on_write)

    def _soon(self, fn: Callable[[], None]) -> None:
        def run() -> None:
            try:
                fn()
            except ApiError as e:  # raced with a client; the next write retriggers us
                log.debug("gc: %s", e.message)

        self.api.defer(run)

    def on_write(self, rt: ResourceType, obj: Obj) -> None:
        m = obj["metadata"]
        uid = m.get("uid", "")
        alive = self.api.store.by_uid(uid) is not None
        refs = m.get("ownerReferences") or []
        for ref in refs:
            if alive:
                self.dependents.setdefault(ref["uid"], set()).add(uid)
            else:
                deps = self.dependents.get(ref["uid"])
                if deps is not None:
                    deps.discard(uid)
                    if not deps:
                        del self.dependents[ref["uid"]]
                self._soon(functools.partial(self._owner_progress, ref["uid"]))
        if not alive:
            self._soon(lambda: self._collect(uid))
            if m.get("namespace"):
                self._soon(lambda: self._namespace(m["namespace"]))
            return
        if refs and m.get("resourceVersion") and not m.get("deletionTimestamp"):
            self._soon(lambda: self._dangling(uid))
        if m.get("deletionTimestamp"):
            finalizers = m.get("finalizers") or []
            if FOREGROUND in finalizers or ORPHAN in finalizers:
                self._soon(lambda: self._owner_progress(uid))
            if rt.key == ("", "namespaces"):
                self._soon(lambda: self._namespace(m["name"]))

    # --- helpers
    def _rt(self, obj: Obj) -> ResourceType | None:
        return self.api.registry.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))

    def _locate(self, uid: str) -> tuple[ResourceType, Obj] | None:
        where = self.api.store.uids.get(uid)
        if where is None:
            return None
        obj = self.api.store.get(*where)
        rt = self.api.registry.by_key(where[0])
        return None if obj is None or rt is None else (rt, obj)

    def _deps(self, owner_uid: str) -> list[tuple[ResourceType, Obj]]:
        found = []
        for dep_uid in list(self.dependents.get(owner_uid, ())):
            loc = self._locate(dep_uid)
            refs = loc[1]["metadata"].get("ownerReferences") or [] if loc else []
            if loc is None or not any(r.get("uid") == owner_uid for r in refs):
                self.dependents.get(owner_uid, set()).discard(dep_uid)
                continue
            found.append(loc)
        if not self.dependents.get(owner_uid):
            self.dependents.pop(owner_uid, None)
        return found

    def _delete(self, rt: ResourceType, obj: Obj, policy: str) -> None:
        m = obj["metadata"]
        opts = {"propagationPolicy": policy, "preconditions": {"uid": m["uid"]}}
        self.api.delete(rt, m.get("namespace", ""), m["name"], opts, Ctx())

    def _update_meta(self, rt: ResourceType, obj: Obj, edit: Callable[[Obj], None]) -> None:
        new = meta.deep(obj)
        edit(new["metadata"])
        m = obj["metadata"]
        self.api.update(rt, m.get("namespace", ""), m["name"], new, "", Ctx())

    # --- controllers
    def _collect(self, owner_uid: str) -> None:
        """The owner is gone: delete dependents it alone owned, unlink the others."""
        for rt, dep in self._deps(owner_uid):
            refs = dep["metadata"].get("ownerReferences") or []
            others = [r for r in refs if r["uid"] != owner_uid]
            if any(self.api.store.by_uid(r["uid"]) is not None for r in others):
                self._update_meta(rt, dep, functools.partial(_set_refs, refs=others))
            elif not dep["metadata"].get("deletionTimestamp"):
                self._delete(rt, dep, "Background")
        self.dependents.pop(owner_uid, None)

    def _dangling(self, uid: str) -> None:
        loc = self._locate(uid)
        if loc is None:
            return
        refs = loc[1]["metadata"].get("ownerReferences") or []
        if refs and all(self.api.store.by_uid(r["uid"]) is None for r in refs):
            self._delete(loc[0], loc[1], "Background")

    def _owner_progress(self, owner_uid: str) -> None:
        """Foreground: delete dependents, then drop the finalizer; orphan: unlink them."""
        loc = self._locate(owner_uid)
        if loc is None or not loc[1]["metadata"].get("deletionTimestamp"):
            return
        rt, owner = loc
        finalizers = owner["metadata"].get("finalizers") or []
        deps = self._deps(owner_uid)
        if ORPHAN in finalizers:
            for drt, dep in deps:
                keep = [
                    r for r in dep["metadata"].get("ownerReferences") or [] if r["uid"] != owner_uid
                ]
                self._update_meta(drt, dep, functools.partial(_set_refs, refs=keep))
            self._drop_finalizer(rt, owner_uid, ORPHAN)
        elif FOREGROUND in finalizers:
            blocking = False
            for drt, dep in deps:
                if not dep["metadata"].get("deletionTimestamp"):
                    self._delete(drt, dep, "Foreground")
                refs = dep["metadata"].get("ownerReferences") or []
                if self.api.store.by_uid(dep["metadata"]["uid"]) is not None and any(
                    r["uid"] == owner_uid and r.get("blockOwnerDeletion") for r in refs
                ):
                    blocking = True
            if not blocking:
                self._drop_finalizer(rt, owner_uid, FOREGROUND)

    def _drop_finalizer(self, rt: ResourceType, uid: str, name: str) -> None:
        loc = self._locate(uid)
        if loc is not None:
            self._update_meta(
                rt,
                loc[1],
                lambda m: _set_finalizers(m, [f for f in m.get("finalizers") or [] if f != name]),
            )

    def _namespace(self, name: str) -> None:
        """Empty a Terminating namespace, then finalize and remove it."""
        ns_rt = self.api.registry.get("", "v1", "namespaces")
        assert ns_rt is not None
        ns = self.api.store.get(ns_rt.key, "", name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if not ns.get("spec", {}).get("finalizers"):
            return  # finalized before: like the real controller, leave it to a second DELETE
        remaining = False
        for rkey, obj in self.api.store.iter_namespace(name):
            remaining = True
            rt = self.api.registry.by_key(rkey)
            if rt is not None and not obj["metadata"].get("deletionTimestamp"):
                self._delete(rt, obj, "Background")
        if remaining:
            return
        new = meta.deep(ns)
        spec_finalizers = new.get("spec", {}).get("finalizers") or []
        if NS_FINALIZER in spec_finalizers:
            new["spec"]["finalizers"] = [f for f in spec_finalizers if f != NS_FINALIZER]
            stored = self.api.store.put(ns_rt.key, new, created=False)
            ns = stored
        if not ns.get("spec", {}).get("finalizers") and not ns["metadata"].get("finalizers"):
            self.api.remove(ns_rt, ns)


def _set_refs(m: Obj, refs: list[Obj]) -> None:
    if refs:
        m["ownerReferences"] = refs
    else:
        m.pop("ownerReferences", None)


def _set_finalizers(m: Obj, finalizers: list[str]) -> None:
    if finalizers:
        m["finalizers"] = finalizers
    else:
        m.pop("finalizers", None)
