"""The scale subresource: an autoscaling/v1 Scale view of workloads and custom resources."""

from __future__ import annotations

from typing import Any

from .errors import FieldError
from .resources import ResourceType
from .storage import Obj

# (specReplicasPath, statusReplicasPath, labelSelectorPath) of the built-in workloads.
BUILTIN_PATHS = (".spec.replicas", ".status.replicas", "")


def _parts(path: str) -> list[str]:
    return [p for p in path.split(".") if p]


def get_path(obj: Obj, path: str) -> Any:
    cur: Any = obj
    for part in _parts(path):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def set_path(obj: Obj, path: str, value: Any) -> None:
    *head, last = _parts(path)
    cur = obj
    for part in head:
        cur = cur.setdefault(part, {})
    cur[last] = value


def paths(rt: ResourceType) -> tuple[str, str, str]:
    return rt.scale_paths or BUILTIN_PATHS


def scale_of(rt: ResourceType, obj: Obj) -> Obj:
    """The Scale object for `obj`."""
    spec_path, status_path, selector_path = paths(rt)
    m = obj["metadata"]
    if selector_path:
        selector = get_path(obj, selector_path) or ""
    else:
        labels = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    status: Obj = {"replicas": get_path(obj, status_path) or 0}
    if selector:
        status["selector"] = selector
    keep = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: m[k] for k in keep if k in m},
        "spec": {"replicas": get_path(obj, spec_path) or 0},
        "status": status,
    }


def with_replicas(rt: ResourceType, obj: Obj, replicas: Any) -> None:
    set_path(obj, paths(rt)[0], replicas)


_GO_TYPES = {
    str: "string",
    bool: "bool",
    int: "int64",
    float: "float64",
    dict: "map[string]interface {}",
    list: "[]interface {}",
}


def _accessor(obj: Any, path: str, want: type) -> tuple[Any, str | None]:
    """unstructured.NestedInt64/NestedString: (value or None, accessor error)."""
    fields = path.lstrip(".").split(".")
    where = "." + ".".join(fields)
    cur: Any = obj
    for i, key in enumerate(fields):
        if not isinstance(cur, dict):
            at = "." + ".".join(fields[:i])
            return None, (
                f"{at} accessor error: {_go_v(cur)} is of the type {_GO_TYPES.get(type(cur), '?')}"
                ", expected map[string]interface{}"
            )
        if key not in cur:
            return None, None
        cur = cur[key]
    if cur is None or (isinstance(cur, want) and not isinstance(cur, bool)):
        return cur, None
    wanted = "int64" if want is int else "string"
    got = _GO_TYPES.get(type(cur), "?")
    return None, f"{where} accessor error: {_go_v(cur)} is of the type {got}, expected {wanted}"


def _go_v(value: Any) -> str:
    """Go's %v of a JSON value (maps and slices abbreviated as Go prints them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_v(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_v(v) for v in value) + "]"
    return str(value)


def validation_errors(obj: dict[str, Any], paths: tuple[str, str, str]) -> list[FieldError]:
    """The scale subresource's checks on every write (customResourceValidator
    ValidateScaleSpec/ValidateScaleStatus): replicas paths hold int64s, the selector a string."""
    errs: list[FieldError] = []
    for path in paths[:2]:
        replicas, err = _accessor(obj, path, int)
        if err is not None:
            errs.append(FieldError("invalid", path, 0, err))
        elif replicas is not None and replicas < 0:
            errs.append(FieldError("invalid", path, replicas, "should be a non-negative integer"))
        elif replicas is not None and replicas > 2**31 - 1:
            errs.append(
                FieldError("invalid", path, replicas, "should be less than or equal to 2147483647")
            )
    if paths[2]:
        _, err = _accessor(obj, paths[2], str)
        if err is not None:
            errs.append(FieldError("invalid", paths[2], "", err))
    return errs
