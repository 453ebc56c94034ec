"""Watch-fed caches the HA loop reads instead of the API: pods and StatefulSet revisions.

One watch per kind, with a server-side label selector (reflector.py), calls these entry
functions on every event; a cache maps a cluster `(namespace, name)` to what the HA loop
needs, nothing more (a few hundred bytes per pod). The ZenithCluster itself is the
daemon's live body, which kopf updates from its own watch stream. While the API is away
the caches keep their last content.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from zenith_operator import naming
from zenith_operator.controller.observe import PodInfo, update_revision

POD_SELECTOR = "app.kubernetes.io/name=zenith"  # naming.selector_labels without the instance
STS_SELECTOR = "app.kubernetes.io/managed-by=zenith-operator"

Key = tuple[str, str]  # (namespace, cluster name)
PodIndex = Mapping[Key, Iterable[PodInfo]]
RevisionIndex = Mapping[Key, Iterable[str]]


def pod_entry(namespace: str | None, body: Mapping[str, Any]) -> dict[Key, PodInfo]:
    """The cluster a pod belongs to (by its selector labels) -> what the HA loop reads."""
    labels = (body.get("metadata") or {}).get("labels") or {}
    cluster = labels.get("app.kubernetes.io/instance")
    if labels.get("app.kubernetes.io/name") != "zenith" or not cluster:
        return {}
    return {(namespace or "", cluster): PodInfo.of(body)}


def revision_entry(namespace: str | None, body: Mapping[str, Any]) -> dict[Key, str]:
    """A StatefulSet (named after its cluster) -> its pod template's revision ('' unknown)."""
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    cluster = labels.get(naming.CLUSTER_LABEL)
    if not cluster or meta.get("name") != naming.statefulset_name(cluster):
        return {}
    return {(namespace or "", cluster): update_revision(body) or ""}


def pods_of(index: PodIndex, key: Key) -> list[PodInfo]:
    return list(index.get(key, ()))


def update_revision_of(index: RevisionIndex, key: Key) -> str | None:
    return next((h for h in index.get(key, ()) if h), None)
