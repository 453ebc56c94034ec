"""When the drift-repair timer reconciles a cluster: after a change, or at a long resync.

A change to a child (StatefulSet, Service, PDB, Secret: their watch events) marks its
cluster dirty; the next repair tick reconciles a dirty cluster, and a clean one only
once per resync period (as controller-runtime's SyncPeriod). So an idle operator sends
the API nothing, and drift is still repaired within one repair interval of its event.
PVCs that are growing are followed sooner: one follow-up reconcile at a time per
cluster, for at most `follow_for` seconds of growth, then the repair tick takes over.
"""

from __future__ import annotations

import threading

Key = tuple[str, str]


class RepairSchedule:
    def __init__(self, resync: float, follow_for: float = 300.0) -> None:
        self.resync = resync
        self.follow_for = follow_for
        self._dirty: set[Key] = set()
        self._synced: dict[Key, float] = {}
        self._growing: dict[Key, float] = {}  # since when a reconcile saw PVCs growing
        self._armed: set[Key] = set()  # a follow-up reconcile is scheduled
        self._lock = threading.Lock()  # kopf runs sync handlers in threads

    def growing(self, key: Key, now: float) -> bool:
        """PVCs of `key` grow: True when the caller should schedule one follow-up."""
        with self._lock:
            since = self._growing.setdefault(key, now)
            if key in self._armed or now - since > self.follow_for:
                return False
            self._armed.add(key)
            return True

    def followed(self, key: Key) -> None:
        """The follow-up runs: a later reconcile that sees growth may schedule another."""
        with self._lock:
            self._armed.discard(key)

    def grown(self, key: Key) -> None:
        """No PVC of `key` grows any more."""
        with self._lock:
            self._growing.pop(key, None)

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
            self._growing.pop(key, None)
