"""Minimal /openapi/v3: enough for kubectl to see every kind and use server-side validation.

Built-in kinds are listed without their schemas (the emulator does not know them);
custom resources carry their CRD's openAPIV3Schema.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import Registry, ResourceType

Obj = dict[str, Any]


def _path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _schema_name(rt: ResourceType) -> str:
    if rt.custom:
        rev = ".".join(reversed(rt.group.split(".")))
        return f"{rev}.{rt.version}.{rt.kind}"
    group = rt.group.split(".")[0] if rt.group else "core"
    return f"io.k8s.api.{group}.{rt.version}.{rt.kind}"


def group_version_doc(registry: Registry, group: str, version: str) -> Obj | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    schemas: Obj = {}
    paths: Obj = {}
    for rt in types:
        gvk = {"group": rt.group, "kind": rt.kind, "version": rt.version}
        base = f"/{_path(rt.group, rt.version)}"
        if rt.namespaced:
            base += "/namespaces/{namespace}"
        params = [
            {"name": p, "in": "query", "schema": {"type": "string"}}
            for p in ("dryRun", "fieldManager", "fieldValidation")
        ]
        paths[f"{base}/{rt.plural}/{{name}}"] = {
            verb: {
                "operationId": f"{verb}{rt.kind}",
                "parameters": params,
                "x-kubernetes-action": verb,
                "x-kubernetes-group-version-kind": gvk,
            }
            for verb in ("get", "put", "patch", "delete")
        }
        paths[f"{base}/{rt.plural}"] = {
            "post": {
                "operationId": f"create{rt.kind}",
                "parameters": params,
                "x-kubernetes-action": "post",
                "x-kubernetes-group-version-kind": gvk,
            }
        }
        schema: Obj = dict(rt.schema or {"type": "object"}) if rt.custom else {"type": "object"}
        schema["x-kubernetes-group-version-kind"] = [
            {"group": rt.group, "kind": rt.kind, "version": rt.version}
        ]
        schemas[_schema_name(rt)] = schema
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0-zenith.emulator"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def index(registry: Registry) -> Obj:
    paths: Obj = {}
    for group, versions in registry.groups().items():
        for version in versions:
            doc = group_version_doc(registry, group, version)
            digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64]
            paths[_path(group, version)] = {
                "serverRelativeURL": f"/openapi/v3/{_path(group, version)}?hash={digest}"
            }
    return {"paths": paths}
