"""The REST verbs on stored objects, with kube-apiserver's semantics."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import yaml

from . import apply, defaults, deletion, errors, events, meta, patching, podstatus, scale
from .errors import ApiError, FieldError
from .request import Ctx as Ctx  # re-exported: the verbs and their callers share it
from .resources import Registry, ResourceType
from .selectors import parse_fields, parse_labels
from .storage import Obj, Store

_IMMUTABLE_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "namespace",
    "name",
    "resourceVersion",
    "selfLink",
)


# /status of these resets metadata too (ResetObjectMetaForStatus); other built-ins'
# status strategies reset only spec, custom resources' keep only status.
_STATUS_RESETS_META = (("apiextensions.k8s.io", "customresourcedefinitions"),)


def _copy_key(target: Obj, source: Obj, key: str) -> None:
    if key in source:
        target[key] = source[key]
    else:
        target.pop(key, None)


class Api:
    """Create/get/list/update/patch/delete over a Store, as the real server does them."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self.ips = defaults.ServiceIPs()
        # Hooks the CRD manager and garbage collector install.
        self.prepare_hooks: dict[
            tuple[str, str], Callable[[Obj, Obj | None, Ctx], list[FieldError]]
        ] = {}
        self.custom_prepare: Callable[[ResourceType, Obj, Obj | None, Ctx], list[FieldError]] = (
            lambda _rt, _obj, _old, _ctx: []
        )
        self.after_write: list[Callable[[ResourceType, Obj], None]] = []
        self.applied = apply.Tracker()  # server-side apply field ownership

    # --- helpers
    def defer(self, fn: Callable[[], None]) -> None:
        """Run `fn` soon on the loop (controllers act asynchronously, as real ones do)."""
        asyncio.get_running_loop().call_soon(fn)

    def out(self, rt: ResourceType, obj: Obj) -> Obj:
        if rt.storage is not None and events.is_events_v1(rt.group, rt.plural):
            return events.from_core(obj)
        if obj.get("apiVersion") == rt.api_version:
            return obj
        return {**obj, "apiVersion": rt.api_version}

    def find(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rt, name)
        return obj

    def _namespace_ok(self, rt: ResourceType, namespace: str, name: str) -> None:
        if not rt.namespaced:
            return
        ns_rt = self.registry.get("", "v1", "namespaces")
        assert ns_rt is not None
        ns = self.store.get(ns_rt.key, "", namespace)
        if ns is None:
            raise errors.not_found(ns_rt, namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden_terminating(rt, name, namespace)

    def _prepare(self, rt: ResourceType, obj: Obj, old: Obj | None, ctx: Ctx) -> None:
        """Type defaults and validation; raises 422 with every field error."""
        create = old is None
        errs = defaults.validate_meta(obj, dns_label=rt.key == ("", "namespaces"))
        if rt.key == ("", "services"):
            errs += defaults.service(obj, create, self.ips)
        elif (defaulter := defaults.DEFAULTERS.get(rt.key)) is not None:
            errs += defaulter(obj, create)
        if (hook := self.prepare_hooks.get(rt.key)) is not None:
            errs += hook(obj, old, ctx)
        if rt.custom:
            errs += self.custom_prepare(rt, obj, old, ctx)
        if errs:
            raise errors.invalid(rt, obj["metadata"].get("name", ""), errs)

    def _check_type(self, rt: ResourceType, obj: Any) -> Obj:
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request was not a JSON object")
        api_version = obj.setdefault("apiVersion", rt.api_version)
        kind = obj.setdefault("kind", rt.kind)
        if kind != rt.kind or api_version.split("/")[0] != rt.api_version.split("/")[0]:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
            )
        obj["apiVersion"] = rt.api_version
        if not isinstance(obj.setdefault("metadata", {}), dict):
            raise errors.bad_request("metadata must be an object")
        if rt.storage is not None and events.is_events_v1(rt.group, rt.plural):
            return events.to_core(obj)
        return obj

    def _bump_generation(self, rt: ResourceType, new: Obj, old: Obj) -> None:
        gen = old["metadata"].get("generation")
        if gen is None:
            return
        ignore = ("metadata", "status") if rt.has_status else ("metadata",)
        if meta.body_without(new, *ignore) != meta.body_without(old, *ignore):
            gen += 1
        new["metadata"]["generation"] = gen

    def _store(
        self, rt: ResourceType, obj: Obj, old: Obj | None, ctx: Ctx, remove_when_done: bool = True
    ) -> Obj:
        if ctx.dry_run:
            return obj
        if old is not None and meta.same_content(obj, old):
            return old
        m = obj["metadata"]
        if (
            remove_when_done
            and m.get("deletionTimestamp")
            and not m.get("finalizers")
            and (m.get("deletionGracePeriodSeconds", 0) == 0)
            and not (rt.key == ("", "namespaces") and obj.get("spec", {}).get("finalizers"))
        ):
            return self.remove(rt, obj)
        stored = self.store.put(rt.key, obj, created=old is None)
        for hook in self.after_write:
            hook(rt, stored)
        return stored

    def remove(self, rt: ResourceType, obj: Obj) -> Obj:
        final = self.store.remove(rt.key, obj)
        self.applied.forget(obj["metadata"].get("uid", ""))
        for hook in self.after_write:
            hook(rt, final)
        return final

    # --- verbs
    def create(self, rt: ResourceType, namespace: str, body: Any, ctx: Ctx) -> Obj:
        obj = self._check_type(rt, meta.deep(body) if isinstance(body, dict) else body)
        m = obj["metadata"]
        if rt.namespaced:
            if m.get("namespace", namespace) != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            m["namespace"] = namespace
        else:
            m.pop("namespace", None)
        if not m.get("name"):
            if not m.get("generateName"):
                raise errors.invalid(
                    rt,
                    "",
                    [
                        FieldError(
                            "required", "metadata.name", detail="name or generateName is required"
                        )
                    ],
                )
            m["name"] = meta.generate_name(m["generateName"])
        self._namespace_ok(rt, namespace, m["name"])
        given_rv = str(m.get("resourceVersion") or "")
        for key in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ):
            m.pop(key, None)
        m["uid"] = meta.new_uid()
        m["creationTimestamp"] = meta.now()
        if rt.generation or rt.custom:
            m["generation"] = 1
        else:
            m.pop("generation", None)
        if rt.has_status and rt.custom:
            obj.pop("status", None)
        self._prepare(rt, obj, None, ctx)
        if given_rv.isdigit() and int(given_rv) > 0:  # etcd3 store.Create, a plain 500
            raise ApiError(500, "", "resourceVersion should not be set on objects to be created")
        if self.store.get(rt.key, m.get("namespace", ""), m["name"]) is not None:
            raise errors.already_exists(rt, m["name"])
        return self.out(rt, self._store(rt, obj, None, ctx))

    def list(self, rt: ResourceType, namespace: str | None, ctx: Ctx) -> Obj:
        q = ctx.query
        labels = parse_labels(q.get("labelSelector"))
        fields = parse_fields(q.get("fieldSelector"), rt)
        items = [
            o
            for o in self.store.list_objs(rt.key, namespace if rt.namespaced else None)
            if labels(o["metadata"].get("labels") or {}) and fields(o)
        ]
        list_meta: Obj = {"resourceVersion": str(self.store.current_rv())}
        if token := q.get("continue"):
            try:
                start = str(json.loads(base64.b64decode(token))["start"])
            except (ValueError, KeyError, TypeError) as e:
                raise errors.bad_request(f"continue key is not valid: {e}") from e
            items = [o for o in items if _sort_key(o) >= start]
        limit = int(q.get("limit") or 0)
        if limit and len(items) > limit:
            items = items[:limit]
            rv = self.store.current_rv()
            cont = {"v": "meta.k8s.io/v1", "rv": rv, "start": _sort_key(items[-1]) + "\x00"}
            list_meta["continue"] = base64.b64encode(json.dumps(cont).encode()).decode()
        if not rt.custom:  # typed lists serialize items without apiVersion/kind
            items = [
                {k: v for k, v in self.out(rt, o).items() if k not in ("apiVersion", "kind")}
                for o in items
            ]
        else:
            items = [self.out(rt, o) for o in items]
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": list_meta,
            "items": items,
        }

    def update(
        self, rt: ResourceType, namespace: str, name: str, body: Any, sub: str, ctx: Ctx
    ) -> tuple[int, Obj]:
        old = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if old is None:
            raise errors.not_found(rt, name)
        return 200, self._update(rt, name, body, old, sub, ctx)

    def _update(self, rt: ResourceType, name: str, body: Any, old: Obj, sub: str, ctx: Ctx) -> Obj:
        if sub == "scale":
            return self._scale_update(rt, body, old, ctx)
        new = self._check_type(rt, body)
        m = new["metadata"]
        if m.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({m.get('name')}) does not match the name on the URL "
                f"({name})"
            )
        om = old["metadata"]
        if m.get("resourceVersion") and m["resourceVersion"] != om["resourceVersion"]:
            raise errors.conflict(rt, name)
        if m.get("uid") and m["uid"] != om["uid"]:
            raise errors.conflict(
                rt,
                name,
                f"Precondition failed: UID in precondition: "
                f"{m['uid']}, UID in object meta: {om['uid']}",
            )
        if sub == "finalize":  # namespaces/finalize: only spec.finalizers change
            result = meta.deep(old)
            result.setdefault("spec", {})["finalizers"] = (
                new.get("spec", {}).get("finalizers") or []
            )
        elif sub == "status" and not rt.custom and rt.key not in _STATUS_RESETS_META:
            # built-in status strategies: spec is reset, metadata edits go through
            result = {**new, "spec": old.get("spec", {})}
            self._keep_immutable_meta(result, om)
            if rt.key == ("", "pods"):
                _copy_key(result["metadata"], om, "ownerReferences")
                podstatus.backfill(result.setdefault("status", {}), old)
                if errs := podstatus.status_update_errors(result, old):
                    raise errors.invalid(rt, name, errs)
        elif sub == "status":  # ResetObjectMetaForStatus: only status changes
            result = meta.deep(old)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
        else:
            result = new
            self._keep_immutable_meta(result, om)
            if rt.has_status:
                if "status" in old:
                    result["status"] = old["status"]
                else:
                    result.pop("status", None)
            deletion.check_no_new_finalizers(rt, name, m, om)
        self._prepare(rt, result, old, ctx)
        self._bump_generation(rt, result, old)
        return self.out(rt, self._store(rt, result, old, ctx))

    def _keep_immutable_meta(self, obj: Obj, old_meta: Obj) -> None:
        for key in _IMMUTABLE_META:
            _copy_key(obj["metadata"], old_meta, key)

    def _scale_update(self, rt: ResourceType, body: Any, old: Obj, ctx: Ctx) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a JSON object")
        rv = body.get("metadata", {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt, old["metadata"]["name"])
        new = meta.deep(old)
        scale.with_replicas(rt, new, body.get("spec", {}).get("replicas", 0))
        return scale.scale_of(rt, self._update(rt, old["metadata"]["name"], new, old, "", ctx))

    def view(self, rt: ResourceType, obj: Obj, sub: str) -> Obj:
        return scale.scale_of(rt, obj) if sub == "scale" else self.out(rt, obj)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        raw: bytes,
        content_type: str,
        sub: str,
        ctx: Ctx,
    ) -> tuple[int, Obj]:
        ctype = content_type.split(";")[0].strip()
        allowed = patching.CR_PATCH_TYPES if rt.custom else patching.ALL_PATCH_TYPES
        if ctype not in allowed:
            raise errors.unsupported_media(ctype, allowed)
        try:
            patch = yaml.safe_load(raw) if ctype == patching.APPLY else json.loads(raw or b"null")
        except (ValueError, yaml.YAMLError) as e:
            raise errors.bad_request(f"error decoding patch: {e}") from e
        manager = ctx.query.get("fieldManager", "")
        if ctype == patching.APPLY and not manager:
            raise errors.apply_needs_field_manager()
        old = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if old is None:
            if ctype == patching.APPLY and not sub:
                if isinstance(patch, dict):
                    patch.setdefault("metadata", {}).setdefault("name", name)
                created = self.create(rt, namespace, patch, ctx)
                self.applied.record(created["metadata"]["uid"], manager, patch)
                return 201, created
            raise errors.not_found(rt, name)
        current = meta.deep(self.view(rt, old, sub))
        if ctype == patching.APPLY and isinstance(patch, dict) and not sub:
            self.applied.prune(old["metadata"]["uid"], manager, patch, current)
        if ctype == patching.JSON_PATCH:
            patched = patching.json_patch(current, patch)
        elif ctype == patching.MERGE or (ctype == patching.APPLY and rt.custom):
            if not isinstance(patch, dict):
                raise errors.bad_request("json: cannot unmarshal into Go value of type map")
            patched = patching.merge_patch(current, patch)
        else:
            if not isinstance(patch, dict):
                raise errors.bad_request("json: cannot unmarshal into Go value of type map")
            patched = patching.strategic_merge(current, patch)
        result = self._update(rt, name, patched, old, sub, ctx)
        if ctype == patching.APPLY and isinstance(patch, dict) and not sub:
            self.applied.record(old["metadata"]["uid"], manager, patch)
        return 200, result

    def delete(
        self, rt: ResourceType, namespace: str, name: str, opts: Obj, ctx: Ctx
    ) -> tuple[int, Obj]:
        return deletion.delete(self, rt, namespace, name, opts, ctx)

    def delete_collection(
        self, rt: ResourceType, namespace: str | None, opts: Obj, ctx: Ctx
    ) -> Obj:
        return deletion.delete_collection(self, rt, namespace, opts, ctx)


def _sort_key(obj: Obj) -> str:
    """etcd's key order: `namespace/name` compared as bytes."""
    m = obj["metadata"]
    return f"{m.get('namespace', '')}/{m['name']}" if m.get("namespace") else m["name"]
