"""Write this controller's status conditions without touching anyone else's.

The HA daemon writes status.state/instances and its own condition types; the
reconciler owns `SpecValid` and `ResourcesReady`. Conditions are patched one type at a
time with a JSON patch guarded by a `test` of the list (or of resourceVersion when there
is no list yet), so concurrent writers never overwrite each other; a lost race is
retried on the next reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zenith_operator.controller.reconcile_kube import JSON_PATCH, Kube, KubeError, Ref

SPEC_VALID = "SpecValid"
RESOURCES_READY = "ResourcesReady"


@dataclass(frozen=True)
class Wanted:
    type: str
    status: str  # True | False | Unknown
    reason: str
    message: str


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merged(
    conditions: list[dict[str, Any]], want: Wanted, generation: int | None, at: str
) -> list[dict[str, Any]] | None:
    """The new list, or None when the condition is already as wanted."""
    out: list[dict[str, Any]] = []
    found = False
    for cond in conditions:
        if cond.get("type") != want.type:
            out.append(cond)
            continue
        found = True
        same = (
            cond.get("status") == want.status
            and cond.get("reason") == want.reason
            and cond.get("message") == want.message
            and cond.get("observedGeneration") == generation
        )
        if same:
            return None
        since = cond.get("lastTransitionTime") if cond.get("status") == want.status else at
        out.append(_cond(want, generation, since or at))
    if not found:
        out.append(_cond(want, generation, at))
    return out


def _cond(want: Wanted, generation: int | None, at: str) -> dict[str, Any]:
    cond: dict[str, Any] = {
        "type": want.type,
        "status": want.status,
        "reason": want.reason,
        "message": want.message,
        "lastTransitionTime": at,
    }
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond


def set_condition(kube: Kube, body: dict[str, Any], want: Wanted, attempts: int = 3) -> bool:
    """Patch one condition if it changed; True when something was written.

    `body` is updated in place with the result so callers see the new conditions.
    """
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    old = status.get("conditions")
    new = merged(list(old or []), want, meta.get("generation"), now())
    if new is None:
        return False
    ops: list[dict[str, Any]]
    if old is not None:
        ops = [
            {"op": "test", "path": "/status/conditions", "value": old},
            {"op": "replace", "path": "/status/conditions", "value": new},
        ]
    else:
        ops = [
            {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": meta.get("resourceVersion"),
            }
        ]
        if "status" in body and body["status"] is not None:
            ops.append({"op": "add", "path": "/status/conditions", "value": new})
        else:
            ops.append({"op": "add", "path": "/status", "value": {"conditions": new}})
    ref = Ref(body["apiVersion"], body["kind"], meta["name"], meta.get("namespace"))
    try:
        result = kube.patch(ref, ops, JSON_PATCH, subresource="status")
    except KubeError as exc:
        if exc.status in (409, 422) and attempts > 1:  # someone else wrote first: retry
            fresh = kube.get(ref)
            if fresh is None:
                return False
            body.clear()
            body.update(fresh)
            return set_condition(kube, body, want, attempts - 1)
        raise
    body.clear()
    body.update(result)
    return True
