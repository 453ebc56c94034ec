"""Patch types: JSON merge (RFC 7386), JSON patch (RFC 6902) and strategic merge."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from .errors import ApiError, bad_request

Json = Any

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
CR_PATCH_TYPES = [JSON_PATCH, MERGE, APPLY]
ALL_PATCH_TYPES = [JSON_PATCH, MERGE, STRATEGIC, APPLY]


def merge_patch(target: Json, patch: Json) -> Json:
    """JSON merge patch as kube-apiserver applies it (evanphx/json-patch v4 `MergePatch`).

    RFC 7386 (objects merge recursively, null deletes, anything else replaces), except
    that a value inserted where the target has no object has its nulls pruned, also
    inside objects inside arrays (null array elements stay)."""
    if not isinstance(patch, dict):
        return _prune_nulls(copy.deepcopy(patch))
    if not isinstance(target, dict):
        return _prune_nulls(copy.deepcopy(patch))
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif result.get(key) is None:
            result[key] = _prune_nulls(copy.deepcopy(value))
        elif isinstance(result[key], dict) and not isinstance(value, dict):
            result[key] = copy.deepcopy(value)  # evanphx returns such a patch unpruned
        else:
            result[key] = merge_patch(result[key], value)
    return result


def _prune_nulls(value: Json) -> Json:
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value]
    return value


def json_patch(target: Json, ops: Json) -> Json:
    """RFC 6902; undecodable -> 400, inapplicable (incl. failed `test`) -> 422 as kube does."""
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        return jsonpatch.JsonPatch(ops).apply(target)
    except (
        jsonpatch.JsonPatchException,
        jsonpointer.JsonPointerException,
        KeyError,
        IndexError,
        TypeError,
        ValueError,
    ) as e:
        raise ApiError(
            422, "Invalid", "the server rejected our request due to an error in our request", {}
        ) from e


# Merge keys of the built-in list fields we patch (field name -> key), path-aware for ports.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "volumeClaimTemplates": None,  # atomic
}
_PRIMITIVE_MERGE = {"finalizers"}


def _merge_key(name: str, path: tuple[str, ...]) -> str | None:
    if name == "ports":
        in_container = any(p in ("containers", "initContainers") for p in path)
        return "containerPort" if in_container else "port"
    return _MERGE_KEYS.get(name)


def strategic_merge(target: Json, patch: Json, path: tuple[str, ...] = ()) -> Json:
    """Strategic merge for the built-in types: keyed lists merge, `$patch` directives."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key == "$patch" or key.startswith(("$setElementOrder/", "$retainKeys")):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            drop = value if isinstance(value, list) else []
            result[field] = [v for v in result.get(field) or [] if v not in drop]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value, (*path, key))
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, (*path, key))
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_list(name: str, current: Json, patch: list[Json], path: tuple[str, ...]) -> Json:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    current = list(current) if isinstance(current, list) else []
    if name in _PRIMITIVE_MERGE:
        return current + [p for p in patch if p not in current]
    key = _merge_key(name, path)
    if key is None:
        return copy.deepcopy(patch)
    result = list(current)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise bad_request(f"map: {item} does not contain declared merge key: {key}")
        idx = next(
            (i for i, c in enumerate(result) if isinstance(c, dict) and c.get(key) == item[key]),
            None,
        )
        if item.get("$patch") == "delete":
            if idx is not None:
                result.pop(idx)
        elif idx is None:
            result.append({k: copy.deepcopy(v) for k, v in item.items() if k != "$patch"})
        else:
            result[idx] = strategic_merge(result[idx], item, path)
    return result
