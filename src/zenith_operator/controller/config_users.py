"""Which clusters use a ConfigMap or Secret, kept from the ZenithCluster watch events.

A referenced ConfigMap/Secret that changes reconciles the clusters naming it. The map is
filled from every ZenithCluster event, the initial listing included; a change that
lands before a cluster's first event is read by that cluster's first repair reconcile.
Used on the event loop only: the handlers that read and write it are async.
"""

from __future__ import annotations

from collections.abc import Iterable

Source = tuple[str, str, str]  # (namespace, kind, object name)


class ConfigUsers:
    def __init__(self) -> None:
        self._users: dict[Source, set[str]] = {}
        self._sources: dict[tuple[str, str], frozenset[Source]] = {}

    def uses(self, namespace: str, cluster: str, sources: Iterable[Source]) -> None:
        """`cluster` now uses exactly `sources` (none: it is gone or its spec is invalid)."""
        new = frozenset(sources)
        old = self._sources.pop((namespace, cluster), frozenset())
        for source in old - new:
            users = self._users.get(source)
            if users is not None:
                users.discard(cluster)
                if not users:
                    del self._users[source]
        for source in new:
            self._users.setdefault(source, set()).add(cluster)
        if new:
            self._sources[(namespace, cluster)] = new

    def users(self, source: Source) -> list[str]:
        return sorted(self._users.get(source, ()))
