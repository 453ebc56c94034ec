"""Reconcile one ZenithCluster: parse, read referenced config, build, apply; conditions.

`reconcile()` is the single entry point used by the create/update/resume handlers, the
drift-repair timer and the child/config watchers. It returns a `Result`; the kopf layer
turns it into Events and kopf errors (handlers.py). Status writes are limited to this
controller's conditions (SpecValid, ResourcesReady), and only when they change.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from zenith_operator import naming
from zenith_operator.api.cluster import ClusterRef, from_body
from zenith_operator.api.spec import SpecError
from zenith_operator.controller.reconcile_apply import (
    IMMUTABLE_DETAIL,
    Applied,
    ConflictError,
    apply,
)
from zenith_operator.controller.reconcile_conditions import (
    RESOURCES_READY,
    SPEC_VALID,
    Wanted,
    set_condition,
)
from zenith_operator.controller.reconcile_kube import Kube, KubeError, Ref
from zenith_operator.controller.reconcile_storage import (
    GROWN,
    RESIZING,
    VOLUME_EXPANSION,
    expansion_condition,
    grow_claims,
    release_stale_claim,
)
from zenith_operator.controller.spec_errors import (
    check_local_paths_free,
    check_static,
    read_sources,
)
from zenith_operator.resources import desired
from zenith_operator.resources.workload import agent_token_secret, credentials_secret, new_token


@dataclass
class Result:
    applied: list[Applied] = field(default_factory=list)
    spec_error: SpecError | None = None
    conflict: str | None = None
    spec_condition_changed: bool = False
    resources_condition_changed: bool = False

    @property
    def changes(self) -> list[Applied]:
        return [a for a in self.applied if a.action in ("created", "patched", GROWN)]

    @property
    def resizing(self) -> bool:
        """PVCs are growing: reconcile again soon to follow their progress."""
        return any(a.action in (GROWN, RESIZING) for a in self.applied)

    @property
    def immutable(self) -> list[Applied]:
        return [a for a in self.applied if a.detail.startswith(IMMUTABLE_DETAIL)]


def ensure_token_secret(kube: Kube, ref: ClusterRef) -> Applied:
    """The agent token: created once with a random value, never rotated here."""
    return ensure_generated_secret(kube, ref, agent_token_secret(ref, new_token()))


def ensure_credentials_secret(kube: Kube, ref: ClusterRef) -> Applied:
    """Database credentials for a spec without dbSecrets: created once, never rotated."""
    return ensure_generated_secret(kube, ref, credentials_secret(ref, new_token(), new_token()))


def ensure_generated_secret(kube: Kube, ref: ClusterRef, secret: dict[str, Any]) -> Applied:
    """Create `secret` when absent; add missing keys; never change an existing value."""
    sref = Ref.of(secret)
    current = kube.get(sref)
    if current is None:
        try:
            kube.create(secret)
        except KubeError as exc:
            if exc.status != 409:
                raise
            return Applied(sref, "unchanged", "created concurrently")
        return Applied(sref, "created")
    owners = (current.get("metadata") or {}).get("ownerReferences") or []
    if not any(o.get("uid") == ref.uid for o in owners):
        raise ConflictError(f"{sref} exists and is not owned by this ZenithCluster")
    have = current.get("data") or {}
    missing = {k: v for k, v in secret["data"].items() if k not in have}
    if missing:
        kube.patch(sref, {"data": missing})
        return Applied(sref, "patched", f"missing keys: {', '.join(sorted(missing))}")
    return Applied(sref, "unchanged")


# Where a child refused by the API server as invalid comes from in the ZenithCluster.
REFUSED_FIELD = {
    "StatefulSet": "spec.template",
    "Service": "spec.zenithSpec.ports",
    "PersistentVolume": "spec.zenithSpec.localStorage",
    "StorageClass": "spec.zenithSpec.storageClassName",
}


def _apply_child(kube: Kube, obj: dict[str, Any], owned: bool = True) -> Applied:
    """apply(); an object the API server refuses as invalid (422) was built from a bad
    spec the CRD could not see (free-form template parts): a SpecError, not a retry."""
    try:
        return apply(kube, obj, owned=owned)
    except KubeError as exc:
        if exc.status != 422:
            raise
        raise SpecError(
            REFUSED_FIELD.get(obj["kind"], "spec"),
            f"the API server refused {Ref.of(obj)} built from it: {exc.message}",
        ) from exc


def apply_all(kube: Kube, body: dict[str, Any]) -> list[Applied]:
    """Raises SpecError, ConflictError or KubeError."""
    cluster = from_body(body)
    check_static(cluster)
    check_local_paths_free(kube, cluster)
    applied = [ensure_token_secret(kube, cluster.ref)]
    if not cluster.spec.zenith_spec.db_secrets:
        applied.append(ensure_credentials_secret(kube, cluster.ref))
    sources = read_sources(kube, cluster)
    want = desired(cluster, sources)
    for obj in want.cluster_scoped:
        applied.append(_apply_child(kube, obj, owned=obj["kind"] != "StorageClass"))
        if obj["kind"] == "PersistentVolume" and release_stale_claim(kube, obj):
            applied.append(Applied(Ref.of(obj), "patched", "released for its claim again"))
    for obj in want.namespaced:
        applied.append(_apply_child(kube, obj))
    sts = next((o for o in want.namespaced if o["kind"] == "StatefulSet"), None)
    if sts is not None:
        applied += grow_claims(kube, sts, cluster.ref.name)
    return applied


def reconcile(kube: Kube, body: dict[str, Any]) -> Result:
    """Bring the children in line with the spec; KubeError propagates (retry later)."""
    body = copy.deepcopy(body)
    result = Result()
    try:
        result.applied = apply_all(kube, body)
    except SpecError as err:
        result.spec_error = err
        result.spec_condition_changed = set_condition(
            kube, body, Wanted(SPEC_VALID, "False", "InvalidSpec", str(err))
        )
        return result
    except ConflictError as err:
        result.conflict = str(err)
        result.spec_condition_changed = set_condition(
            kube, body, Wanted(SPEC_VALID, "True", "Valid", "spec is valid")
        )
        result.resources_condition_changed = set_condition(
            kube, body, Wanted(RESOURCES_READY, "False", "Conflict", str(err))
        )
        return result
    result.spec_condition_changed = set_condition(
        kube, body, Wanted(SPEC_VALID, "True", "Valid", "spec is valid")
    )
    immutable = "; ".join(f"{a.ref}: {a.detail}" for a in result.immutable)
    ready = (
        Wanted(RESOURCES_READY, "False", "ImmutableFieldChanged", immutable)
        if immutable
        else Wanted(RESOURCES_READY, "True", "Reconciled", "all resources are in place")
    )
    result.resources_condition_changed = set_condition(kube, body, ready)
    had = any(
        c.get("type") == VOLUME_EXPANSION
        for c in (body.get("status") or {}).get("conditions") or []
    )
    if (expansion := expansion_condition(result.applied, had)) is not None:
        set_condition(kube, body, expansion)
    return result


def is_deleting(body: dict[str, Any]) -> bool:
    return bool((body.get("metadata") or {}).get("deletionTimestamp"))


def owner_of(obj_labels: dict[str, str]) -> str | None:
    """The ZenithCluster a child belongs to (from its labels), if ours."""
    if obj_labels.get("app.kubernetes.io/managed-by") != "zenith-operator":
        return None
    return obj_labels.get(naming.CLUSTER_LABEL)


def cluster_ref(namespace: str, name: str) -> Ref:
    return Ref(f"{naming.GROUP}/{naming.VERSION}", naming.KIND, name, namespace)
