"""Label and field selectors as kube-apiserver parses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request
from .resources import ResourceType

Matcher = Callable[[dict[str, Any]], bool]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET_RE = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s+\(([^)]*)\)\s*$")
_OP_RE = re.compile(rf"^\s*({_KEY})\s*(==|!=|=)\s*([-A-Za-z0-9_.]*)\s*$")
_EXISTS_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")

_POD_FIELDS: dict[str, tuple[str, ...]] = {
    "spec.nodeName": ("spec", "nodeName"),
    "spec.restartPolicy": ("spec", "restartPolicy"),
    "spec.schedulerName": ("spec", "schedulerName"),
    "spec.serviceAccountName": ("spec", "serviceAccountName"),
    "status.phase": ("status", "phase"),
    "status.podIP": ("status", "podIP"),
    "status.nominatedNodeName": ("status", "nominatedNodeName"),
}
_EXTRA_FIELDS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("", "pods"): _POD_FIELDS,
    ("", "namespaces"): {"status.phase": ("status", "phase")},
    ("", "secrets"): {"type": ("type",)},
    ("", "nodes"): {"spec.unschedulable": ("spec", "unschedulable")},
    ("", "events"): {
        "involvedObject.kind": ("involvedObject", "kind"),
        "involvedObject.name": ("involvedObject", "name"),
        "involvedObject.namespace": ("involvedObject", "namespace"),
        "involvedObject.uid": ("involvedObject", "uid"),
        "reason": ("reason",),
        "type": ("type",),
    },
}


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()]


def _label_req(labels: dict[str, str], key: str, op: str, values: frozenset[str]) -> bool:
    if op == "in":
        return labels.get(key) in values
    if op == "notin":
        return labels.get(key) not in values
    if op == "!=":
        return labels.get(key) not in values
    if op == "exists":
        return key in labels
    if op == "!exists":
        return key not in labels
    return labels.get(key) in values


def parse_labels(text: str | None) -> Matcher:
    """Compile a label selector (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`)."""
    reqs: list[tuple[str, str, frozenset[str]]] = []
    for part in _split(text or ""):
        if m := _SET_RE.match(part):
            values = frozenset(v.strip() for v in m.group(4).split(",") if v.strip())
            reqs.append((m.group(1), m.group(3), values))
        elif m := _OP_RE.match(part):
            reqs.append((m.group(1), m.group(3), frozenset([m.group(4)])))
        elif m := _EXISTS_RE.match(part):
            reqs.append((m.group(2), "!exists" if m.group(1) else "exists", frozenset()))
        else:
            raise bad_request(f"unable to parse requirement: {part.strip()!r}")

    def match(labels: dict[str, Any]) -> bool:
        return all(_label_req(labels, k, op, vs) for k, op, vs in reqs)

    return match


def _get(obj: dict[str, Any], path: tuple[str, ...]) -> str:
    cur: Any = obj
    for p in path:
        cur = cur.get(p) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


# Kinds with their own field label conversion (pkg/apis/core/v1/conversion.go); the others
# use apimachinery's default, which words an unknown field differently.
_OWN_CONVERSION = {
    ("", "pods"),
    ("", "namespaces"),
    ("", "secrets"),
    ("", "nodes"),
    ("", "services"),
    ("", "events"),
    ("", "replicationcontrollers"),
}


def parse_fields(text: str | None, rt: ResourceType) -> Matcher:
    """Compile a field selector over the fields this resource supports."""
    if not text:
        return lambda _obj: True
    known: dict[str, tuple[str, ...]] = {
        "metadata.name": ("metadata", "name"),
        "metadata.namespace": ("metadata", "namespace"),
    }
    known.update(_EXTRA_FIELDS.get(rt.key, {}))
    reqs: list[tuple[tuple[str, ...], bool, str]] = []
    for part in _split(text):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        name, op, value = m.groups()
        if name not in known:
            if rt.key not in _OWN_CONVERSION:  # runtime.DefaultMetaV1FieldSelectorConversion
                raise bad_request(
                    f'"{name}" is not a known field selector: only "metadata.name", '
                    '"metadata.namespace"'
                )
            raise bad_request(f"field label not supported: {name}")
        reqs.append((known[name], op == "!=", value))

    def match(obj: dict[str, Any]) -> bool:
        return all((_get(obj, path) == value) != neg for path, neg, value in reqs)

    return match
