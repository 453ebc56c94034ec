"""events.k8s.io/v1 Events are core/v1 Events seen through another schema (one storage)."""

from __future__ import annotations

from .storage import Obj

# events.k8s.io/v1 field -> core/v1 field (the rest keep their names).
_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "reportingController": "reportingComponent",
}
_BACK = {v: k for k, v in _RENAMES.items()}


def to_core(obj: Obj) -> Obj:
    out = {_RENAMES.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = "v1"
    return out


def from_core(obj: Obj) -> Obj:
    out = {_BACK.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = "events.k8s.io/v1"
    return out


def is_events_v1(group: str, plural: str) -> bool:
    return group == "events.k8s.io" and plural == "events"
