"""CustomResourceDefinitions: validation, serving their resources, status, cleanup."""

from __future__ import annotations

import logging
from typing import Any

from . import celcost, crd_defaults, meta, schema, structural
from .errors import FieldError, bad_request
from .resources import ResourceType
from .rest import Api, Ctx
from .storage import Obj

log = logging.getLogger(__name__)
CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
CLEANUP = "customresourcecleanup.apiextensions.k8s.io"


def structural_errors(s: Any, path: str, root: bool = False) -> list[FieldError]:
    """apiextensions' structural schema rules that CRDs in practice trip over."""
    if not isinstance(s, dict):
        return []
    errs: list[FieldError] = []
    exempt = s.get("x-kubernetes-int-or-string") or s.get("x-kubernetes-preserve-unknown-fields")
    if not s.get("type") and not exempt:
        where = "at the root" if root else "for specified object fields"
        errs.append(FieldError("required", f"{path}.type", detail=f"must not be empty {where}"))
    if s.get("x-kubernetes-int-or-string") and s.get("type"):
        errs.append(
            FieldError(
                "invalid",
                f"{path}.type",
                s["type"],
                "must be empty if x-kubernetes-int-or-string is true",
            )
        )
    if s.get("properties") and isinstance(s.get("additionalProperties"), dict):
        errs.append(
            FieldError(
                "forbidden",
                f"{path}.additionalProperties",
                detail="additionalProperties and properties are mutual exclusive",
            )
        )
    if s.get("type") == "array" and not isinstance(s.get("items"), dict):
        errs.append(FieldError("required", f"{path}.items", detail="must be specified"))
    for key, sub in (s.get("properties") or {}).items():
        errs += structural_errors(sub, f"{path}.properties[{key}]")
    if isinstance(s.get("items"), dict):
        errs += structural_errors(s["items"], f"{path}.items")
    if isinstance(s.get("additionalProperties"), dict):
        errs += structural_errors(s["additionalProperties"], f"{path}.additionalProperties")
    return errs


def schema_errors(root: Obj, base: str, path: str) -> list[FieldError]:
    """Structural rules, then defaults, then CEL compilation and cost — each step only
    when the previous passed, as apiextensions orders them. `path` is where kube-apiserver
    reports defaults and rules (see `_hoisted_path`)."""
    errs = structural_errors(root, base, root=True) + structural.extra_errors(root, path)
    if errs:
        return errs
    errs = crd_defaults.default_errors(root, path)
    if errs:
        return errs
    return celcost.rule_errors(root, path)


def _hoisted_path(versions: list[Any], i: int) -> str:
    """When every version has the same schema, kube-apiserver validates it once, hoisted to
    `spec.validation` (internal version), and names that path in errors."""
    schemas = [(v.get("schema") or {}).get("openAPIV3Schema") for v in versions]
    if all(s == schemas[0] for s in schemas):
        return "spec.validation.openAPIV3Schema"
    return f"spec.versions[{i}].schema.openAPIV3Schema"


def validate_crd(obj: Obj, old: Obj | None, ctx: Ctx) -> list[FieldError]:
    """The checks clients hit in practice, worded as the real server words them."""
    spec = obj.setdefault("spec", {})
    names = spec.setdefault("names", {})
    errs: list[FieldError] = []
    for key in ("plural", "kind"):
        if not names.get(key):
            errs.append(FieldError("required", f"spec.names.{key}"))
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if obj["metadata"]["name"] != expected:
        errs.append(
            FieldError(
                "invalid",
                "metadata.name",
                obj["metadata"]["name"],
                'must be spec.names.plural+"."+spec.group',
            )
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append(
            FieldError(
                "notsupported",
                "spec.scope",
                spec.get("scope", ""),
                'supported values: "Cluster", "Namespaced"',
            )
        )
    versions = spec.get("versions") or []
    if not versions or sum(bool(v.get("storage")) for v in versions) != 1:
        errs.append(
            FieldError(
                "invalid",
                "spec.versions",
                versions,
                "must have exactly one version marked as storage version",
            )
        )
    spec.setdefault("conversion", {"strategy": "None"})
    for i, v in enumerate(versions):
        root = (v.get("schema") or {}).get("openAPIV3Schema")
        base = f"spec.versions[{i}].schema.openAPIV3Schema"
        if _one_schema(versions):  # hoisted to spec.validation as in the internal version
            if i > 0:
                break
            base = "spec.validation.openAPIV3Schema"
        if not isinstance(root, dict):
            errs.append(FieldError("required", base, detail="schemas are required"))
            continue
        path = _hoisted_path(versions, i)
        if i > 0 and path == _hoisted_path(versions, 0):
            continue  # one schema shared by every version is validated once
        errs += schema_errors(root, base, path)
    if old is None:
        obj["status"] = {
            "conditions": [],
            "acceptedNames": {"plural": "", "kind": ""},
            "storedVersions": [],
        }
    return errs


def _one_schema(versions: list[Any]) -> bool:
    """Every version has the same schema: kube-apiserver validates it once, converted to the
    internal version's `spec.validation`, so errors name `spec.validation.openAPIV3Schema`."""
    schemas = [(v.get("schema") or {}).get("openAPIV3Schema") for v in versions]
    return bool(schemas) and isinstance(schemas[0], dict) and all(x == schemas[0] for x in schemas)


def types_of(crd: Obj) -> list[ResourceType]:
    """Served ResourceTypes of a CRD, storage version first."""
    spec = crd["spec"]
    names = spec["names"]
    out = []
    for v in sorted(spec.get("versions") or [], key=lambda v: not v.get("storage")):
        if not v.get("served", True):
            continue
        subs = v.get("subresources") or {}
        sc = subs.get("scale")
        scale_paths = None
        if isinstance(sc, dict):
            scale_paths = (
                sc.get("specReplicasPath", ".spec.replicas"),
                sc.get("statusReplicasPath", ".status.replicas"),
                sc.get("labelSelectorPath", ""),
            )
        out.append(
            ResourceType(
                group=spec["group"],
                version=v["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                subresources=tuple(s for s in ("status", "scale") if s in subs),
                generation=True,
                categories=tuple(names.get("categories") or ()),
                schema=(v.get("schema") or {}).get("openAPIV3Schema") or {"type": "object"},
                custom=True,
                printer_columns=tuple(v.get("additionalPrinterColumns") or ()),
                scale_paths=scale_paths,
            )
        )
    return out


class CrdManager:
    """Serves a CRD's resources once stored; marks it Established; cleans up on delete."""

    def __init__(self, api: Api) -> None:
        self.api = api
        api.prepare_hooks[CRD_KEY] = validate_crd
        api.custom_prepare = self.prepare_custom
        api.after_write.append(self.on_write)

    def prepare_custom(
        self, rt: ResourceType, obj: Obj, old: Obj | None, ctx: Ctx
    ) -> list[FieldError]:
        errs, unknown = schema.process(rt.schema or {"type": "object"}, obj, old, rt.scale_paths)
        mode = ctx.query.get("fieldValidation", "Warn")
        if unknown and mode == "Strict":
            fields = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a '
                f"{rt.kind}: strict decoding error: {fields}"
            )
        if unknown and mode == "Warn":
            ctx.warnings += [f'unknown field "{u}"' for u in unknown]
        return errs

    def on_write(self, rt: ResourceType, obj: Obj) -> None:
        if rt.custom:
            crd_name = f"{rt.plural}.{rt.group}"
            crd = self.api.store.get(CRD_KEY, "", crd_name)
            if crd is not None and crd["metadata"].get("deletionTimestamp"):
                self.api.defer(lambda: self._cleanup(crd_name))
            return
        if rt.key != CRD_KEY:
            return
        name = obj["metadata"]["name"]
        alive = self.api.store.by_uid(obj["metadata"]["uid"]) is not None
        if not alive:
            for t in self.api.registry.drop_crd(name):
                log.debug("stopped serving %s", t.qualified)
            return
        self.api.registry.set_crd(name, types_of(obj), storage_first=True)
        if obj["metadata"].get("deletionTimestamp"):
            self.api.defer(lambda: self._cleanup(name))
        elif not _established(obj):
            self.api.defer(lambda: self._establish(name))

    def _crd_rt(self) -> ResourceType:
        rt = self.api.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert rt is not None
        return rt

    def _establish(self, name: str) -> None:
        rt = self._crd_rt()
        crd = self.api.store.get(rt.key, "", name)
        if crd is None or _established(crd):
            return
        new = meta.deep(crd)
        t = meta.now()
        names = new["spec"]["names"]
        storage = [v["name"] for v in new["spec"].get("versions", []) if v.get("storage")]
        new["status"] = {
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": t,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": t,
                },
            ],
            "acceptedNames": {
                k: names[k]
                for k in ("plural", "singular", "shortNames", "kind", "listKind", "categories")
                if k in names
            },
            "storedVersions": sorted(
                set(crd.get("status", {}).get("storedVersions", []) + storage)
            ),
        }
        finalizers = new["metadata"].setdefault("finalizers", [])
        if CLEANUP not in finalizers:
            finalizers.append(CLEANUP)
        self.api.store.put(rt.key, new, created=False)

    def _cleanup(self, name: str) -> None:
        """Delete every custom resource of a deleted CRD, then drop its finalizer."""
        rt = self._crd_rt()
        crd = self.api.store.get(rt.key, "", name)
        if crd is None:
            return
        key = (crd["spec"]["group"], crd["spec"]["names"]["plural"])
        cr_rt = self.api.registry.by_key(key)
        remaining = self.api.store.list_objs(key)
        for obj in remaining:
            m = obj["metadata"]
            if cr_rt is not None and not m.get("deletionTimestamp"):
                self.api.delete(cr_rt, m.get("namespace", ""), m["name"], {}, Ctx())
        if self.api.store.list_objs(key):
            return  # finalizers pending; each removal retriggers this
        new = meta.deep(crd)
        new["metadata"]["finalizers"] = [
            f for f in new["metadata"].get("finalizers", []) if f != CLEANUP
        ]
        self.api.update(rt, "", name, new, "", Ctx())


def _established(crd: Obj) -> bool:
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in crd.get("status", {}).get("conditions", [])
    )
