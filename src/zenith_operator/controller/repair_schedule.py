"""When the drift-repair timer reconciles a cluster: after a change, or at a long resync.

A change to a child (StatefulSet, Service, PDB, Secret: their watch events) marks its
cluster dirty; the next repair tick reconciles a dirty cluster, and a clean one only
once per resync period (as controller-runtime's SyncPeriod). So an idle operator sends
the API nothing, and drift is still repaired within one repair interval of its event.
"""

from __future__ import annotations

import threading

Key = tuple[str, str]


class RepairSchedule:
    def __init__(self, resync: float) -> None:
        self.resync = resync
        self._dirty: set[Key] = set()
        self._synced: dict[Key, float] = {}
        self._lock = threading.Lock()  # kopf runs sync handlers in threads

    def mark(self, key: Key) -> None:
        with self._lock:
            self._dirty.add(key)

    def started(self, key: Key, now: float) -> None:
        """A reconcile of `key` begins: changes seen from here on mark it again."""
        with self._lock:
            self._dirty.discard(key)
            self._synced[key] = now

    def due(self, key: Key, now: float) -> bool:
        with self._lock:
            last = self._synced.get(key)
            return key in self._dirty or last is None or now - last >= self.resync

    def forget(self, key: Key) -> None:
        with self._lock:
            self._dirty.discard(key)
            self._synced.pop(key, None)
