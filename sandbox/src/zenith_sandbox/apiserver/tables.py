"""Server-side printing (meta.k8s.io/v1 Table) for `kubectl get`, with a few built-in printers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .resources import ResourceType
from .storage import Obj

Column = tuple[str, str, int, Callable[[Obj], Any]]  # name, type, priority, cell


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def human_age(timestamp: str | None) -> str:
    """duration.HumanDuration of the time since `timestamp`."""
    if not timestamp:
        return "<unknown>"
    then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    s = max(int((datetime.now(UTC) - then).total_seconds()), 0)
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    return f"{d}d" if d < 365 * 2 else f"{d // 365}y"


def _age(o: Obj) -> str:
    return human_age(o["metadata"].get("creationTimestamp"))


def _pod_ready(o: Obj) -> str:
    statuses = o.get("status", {}).get("containerStatuses") or []
    total = len(o.get("spec", {}).get("containers") or [])
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _pod_status(o: Obj) -> str:
    if o["metadata"].get("deletionTimestamp"):
        return "Terminating"
    status = o.get("status", {})
    for c in status.get("containerStatuses") or []:
        waiting = (c.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return str(waiting["reason"])
    return str(status.get("reason") or status.get("phase") or "Unknown")


def _ports(o: Obj) -> str:
    ports = o.get("spec", {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


_NAME: Column = ("Name", "string", 0, lambda o: o["metadata"]["name"])
_AGE: Column = ("Age", "date", 0, _age)
PRINTERS: dict[tuple[str, str], list[Column]] = {
    ("", "pods"): [
        _NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        (
            "Restarts",
            "string",
            0,
            lambda o: str(
                sum(
                    c.get("restartCount", 0)
                    for c in o.get("status", {}).get("containerStatuses") or []
                )
            ),
        ),
        _AGE,
        ("IP", "string", 1, lambda o: o.get("status", {}).get("podIP") or "<none>"),
        ("Node", "string", 1, lambda o: o.get("spec", {}).get("nodeName") or "<none>"),
    ],
    ("", "namespaces"): [_NAME, ("Status", "string", 0, lambda o: o["status"]["phase"]), _AGE],
    ("", "services"): [
        _NAME,
        ("Type", "string", 0, lambda o: o["spec"].get("type", "")),
        ("Cluster-IP", "string", 0, lambda o: o["spec"].get("clusterIP") or "<none>"),
        ("External-IP", "string", 0, lambda o: "<none>"),
        ("Port(s)", "string", 0, _ports),
        _AGE,
    ],
    ("", "configmaps"): [
        _NAME,
        ("Data", "integer", 0, lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        _AGE,
    ],
    ("", "secrets"): [
        _NAME,
        ("Type", "string", 0, lambda o: o.get("type", "")),
        ("Data", "integer", 0, lambda o: len(o.get("data") or {})),
        _AGE,
    ],
    ("apps", "statefulsets"): [
        _NAME,
        (
            "Ready",
            "string",
            0,
            lambda o: (
                f"{o.get('status', {}).get('readyReplicas', 0)}/"
                f"{o.get('spec', {}).get('replicas', 0)}"
            ),
        ),
        _AGE,
    ],
    ("", "persistentvolumeclaims"): [
        _NAME,
        ("Status", "string", 0, lambda o: o.get("status", {}).get("phase", "")),
        ("Volume", "string", 0, lambda o: o.get("spec", {}).get("volumeName", "")),
        _AGE,
    ],
}


def _printer_columns(rt: ResourceType) -> list[Column]:
    cols: list[Column] = [_NAME]
    for c in rt.printer_columns:
        path = str(c.get("jsonPath", ""))
        kind = str(c.get("type", "string"))

        def cell(o: Obj, p: str = path, k: str = kind) -> Any:
            return printer_cell(o, p, k)

        cols.append((str(c.get("name", "")), kind, int(c.get("priority", 0)), cell))
    if not any(c[0] == "Age" for c in cols):
        cols.append(_AGE)
    return cols


_MISSING = object()


def _lookup(obj: Obj, path: str) -> Any:
    cur: Any = obj
    for part in (p for p in path.split(".") if p):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def _go_text(value: Any) -> str:
    """fmt.Fprint of a decoded JSON value, as kube-apiserver's JSONPath printer prints it."""
    if value is None:
        return "<no value>"  # text/template's printableValue of a nil value
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return str(value)


def printer_cell(obj: Obj, path: str, kind: str) -> Any:
    """One additionalPrinterColumns cell (apiextensions' tableconvertor): a missing field is
    null (kubectl prints `<none>`); a string column prints a stored null as `<no value>` and
    anything else as text; other types keep matching values only."""
    value = _lookup(obj, path)
    if value is _MISSING:
        return None
    if kind == "string":
        return _go_text(value)
    if value is None:
        return None
    if kind == "date":
        return human_age(value) if isinstance(value, str) else None
    if kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    return None


def columns(rt: ResourceType) -> list[Column]:
    if rt.custom:
        return _printer_columns(rt)
    return PRINTERS.get(rt.key, [_NAME, _AGE])


def _partial(rt: ResourceType, obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(rt: ResourceType, items: list[Obj], rv: str, include: str = "Metadata") -> Obj:
    """A Table of `items`; rows embed PartialObjectMetadata (or the object, or nothing)."""
    cols = columns(rt)
    rows = []
    for obj in items:
        row: Obj = {"cells": [fn(obj) for _, _, _, fn in cols]}
        if include == "Object":
            row["object"] = {"apiVersion": rt.api_version, "kind": rt.kind, **obj}
        elif include != "None":
            row["object"] = _partial(rt, obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": [
            {
                "name": n,
                "type": t,
                "format": "name" if n == "Name" else "",
                "description": "",
                "priority": p,
            }
            for n, t, p, _ in cols
        ],
        "rows": rows,
    }
