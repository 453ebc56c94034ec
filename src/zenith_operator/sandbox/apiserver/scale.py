"""The scale subresource: an autoscaling/v1 Scale view of workloads and custom resources."""

from __future__ import annotations

from typing import Any

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
