"""In-memory object store: one global resourceVersion, a bounded event ring, watchers.

Everything runs on the server's event loop thread, so no locks. Stored objects are
never mutated after being stored: writers store fresh dicts, so readers and events
may share them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

RKey = tuple[str, str]  # (group, plural)
Obj = dict[str, Any]


@dataclass(frozen=True)
class Event:
    """One change: its resourceVersion, watch type and the object after it."""

    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    rkey: RKey
    obj: Obj
    prev: Obj | None = None  # the object before this change (for selector transitions)


class Watcher:
    """A subscriber for one resource (and maybe one namespace) with a bounded queue."""

    def __init__(self, rkey: RKey, namespace: str | None, maxsize: int) -> None:
        self.rkey = rkey
        self.namespace = namespace
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.overflowed = False

    def wants(self, event: Event) -> bool:
        if event.rkey != self.rkey:
            return False
        ns = event.obj["metadata"].get("namespace")
        return self.namespace is None or ns == self.namespace

    def offer(self, event: Event) -> None:
        if self.overflowed or not self.wants(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # A real apiserver also drops watchers that cannot keep up; clients re-list.
            self.overflowed = True

    def close(self) -> None:
        if not self.overflowed:
            try:
                self.queue.put_nowait(None)
            except asyncio.QueueFull:
                self.overflowed = True


class Store:
    """Objects by (group, plural) then (namespace, name); constant-time get."""

    def __init__(self, history_size: int = 1000, watch_queue_size: int = 10_000) -> None:
        self.objects: dict[RKey, dict[tuple[str, str], Obj]] = {}
        self.uids: dict[str, tuple[RKey, str, str]] = {}
        self.history: deque[Event] = deque(maxlen=history_size)
        self.watchers: set[Watcher] = set()
        self.watch_queue_size = watch_queue_size
        # Like etcd revisions, never reused: a restarted emulator starts above any earlier
        # run, so clients holding old resourceVersions get 410 Gone and re-list.
        self.rv = int(time.time() * 1000)

    # --- reads
    def get(self, rkey: RKey, namespace: str, name: str) -> Obj | None:
        return self.objects.get(rkey, {}).get((namespace, name))

    def by_uid(self, uid: str) -> Obj | None:
        where = self.uids.get(uid)
        return None if where is None else self.get(*where)

    def list_objs(self, rkey: RKey, namespace: str | None = None) -> list[Obj]:
        items = self.objects.get(rkey, {})
        keys = sorted(
            (k for k in items if namespace is None or k[0] == namespace),
            key=lambda k: f"{k[0]}/{k[1]}".encode(),  # etcd key order
        )
        return [items[k] for k in keys]

    def iter_namespace(self, namespace: str) -> Iterator[tuple[RKey, Obj]]:
        for rkey, items in list(self.objects.items()):
            for (ns, _), obj in list(items.items()):
                if ns == namespace:
                    yield rkey, obj

    def current_rv(self) -> int:
        return self.rv

    def oldest_rv(self) -> int:
        """The resourceVersion a watch may start from (older -> 410 Gone)."""
        return self.history[0].rv - 1 if self.history else self.rv

    def since(self, rv: int) -> list[Event]:
        return [e for e in self.history if e.rv > rv]

    # --- writes
    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, rkey: RKey, obj: Obj, created: bool) -> Obj:
        """Store `obj` with a fresh resourceVersion; emits ADDED or MODIFIED."""
        rv = self.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        bucket = self.objects.setdefault(rkey, {})
        prev = bucket.get(key)
        bucket[key] = obj
        self.uids[meta["uid"]] = (rkey, key[0], key[1])
        self._emit(Event(rv, "ADDED" if created else "MODIFIED", rkey, obj, prev))
        return obj

    def remove(self, rkey: RKey, obj: Obj) -> Obj:
        """Delete; the DELETED event carries the last state with a new resourceVersion."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        self.objects.get(rkey, {}).pop(key, None)
        self.uids.pop(meta.get("uid", ""), None)
        rv = self.next_rv()
        final = {**obj, "metadata": {**meta, "resourceVersion": str(rv)}}
        self._emit(Event(rv, "DELETED", rkey, final, obj))
        return final

    def _emit(self, event: Event) -> None:
        self.history.append(event)
        for watcher in list(self.watchers):
            watcher.offer(event)

    # --- watchers
    def subscribe(self, rkey: RKey, namespace: str | None) -> Watcher:
        watcher = Watcher(rkey, namespace, self.watch_queue_size)
        self.watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)

    def close_watchers(self) -> None:
        for watcher in list(self.watchers):
            watcher.close()
