"""A watch-fed cache of one kind: list the objects a label selector matches, then watch
from that list's resourceVersion; relist when the watch's history is gone (410).

The watch runs in a thread of its own (the transport blocks) and hands each change to
the event loop, which alone touches the cache: a reader on the loop never sees half a
change. A cluster's HA loop waits for `synced` (the first list applied) before it reads:
an empty cache must not read as "no pods". While the API is away the cache keeps what it
last saw and the thread retries with a capped back-off.

The operator keeps its own caches instead of kopf indices: kopf holds every handler and
daemon back until each object of each indexed kind has passed its index, and that wait
grows with the square of the objects watched (44 s for 500 clusters, longer than a
lease).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import structlog

from zenith_operator.controller.cache import Key
from zenith_operator.controller.reconcile_kube import Kube, KubeError

V = TypeVar("V")
Entry = Callable[[str | None, Mapping[str, Any]], dict[Key, V]]
WATCH_SECONDS = 290  # the server ends each watch after this; the next resumes from its rv
RETRY_FIRST, RETRY_MAX = 0.5, 5.0  # the API back: the caches are fresh within 5 s
LOG = structlog.get_logger("zenith_operator.reflector")


class Gone(Exception):
    """The watch's resourceVersion is older than the server's history: list again."""


class Cache(Mapping[Key, tuple[V, ...]], Generic[V]):
    """Cluster key -> the entries of its objects, by uid. Changed on the event loop only."""

    def __init__(self, on_entry: Callable[[Key, V], None] | None = None) -> None:
        self._by_key: dict[Key, dict[str, V]] = {}
        self._keys: dict[str, tuple[Key, ...]] = {}  # uid -> the keys its entries are under
        self.on_entry = on_entry  # called for each entry an event adds or changes

    def __getitem__(self, key: Key) -> tuple[V, ...]:
        return tuple(self._by_key[key].values())

    def __iter__(self) -> Iterator[Key]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)

    def put(self, uid: str, entries: dict[Key, V]) -> None:
        self.drop(uid)
        for key, value in entries.items():
            self._by_key.setdefault(key, {})[uid] = value
        if entries:
            self._keys[uid] = tuple(entries)
        if self.on_entry is not None:
            for key, value in entries.items():
                self.on_entry(key, value)

    def drop(self, uid: str) -> None:
        for key in self._keys.pop(uid, ()):
            values = self._by_key.get(key)
            if values is not None:
                values.pop(uid, None)
                if not values:
                    del self._by_key[key]

    def replace(self, objects: dict[str, dict[Key, V]]) -> None:
        """A fresh list: what it lacks is gone, what it holds is put."""
        for uid in set(self._keys) - set(objects):
            self.drop(uid)
        for uid, entries in objects.items():
            self.put(uid, entries)


class Reflector(Generic[V]):
    """Keeps `cache` equal to the objects under `path` that match `selector`."""

    def __init__(
        self, kube: Kube, path: str, selector: str, entry: Entry[V], cache: Cache[V]
    ) -> None:
        self.kube, self.path, self.selector, self.entry, self.cache = (
            kube, path, selector, entry, cache
        )  # fmt: skip
        self.synced = asyncio.Event()
        self._stopped = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the list and watch thread; call from the event loop."""
        self._loop = asyncio.get_running_loop()
        name = f"watch{self.path.replace('/', '-')}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The thread ends at its next event or watch timeout (it holds no state)."""
        self._stopped.set()

    def _run(self) -> None:
        delay = RETRY_FIRST
        while not self._stopped.is_set():
            try:
                version = self._list()
                delay = RETRY_FIRST
                while not self._stopped.is_set():
                    began = time.monotonic()
                    version = self._watch(version)
                    if time.monotonic() - began < RETRY_FIRST:  # ended at once: no busy loop
                        self._stopped.wait(RETRY_FIRST)
            except Gone:
                LOG.info("watch history gone, listing again", path=self.path)
            except Exception as exc:  # the thread must outlive any failure: caches go stale
                if self._loop is None or self._loop.is_closed():
                    return  # the operator is stopping
                LOG.warning("watch failed, retrying", path=self.path, error=str(exc), delay=delay)
                self._stopped.wait(delay)
                delay = min(delay * 2, RETRY_MAX)

    def _list(self) -> str:
        listed = self.kube.request("GET", self.path, query={"labelSelector": self.selector})
        objects: dict[str, dict[Key, V]] = {}
        for item in listed.get("items") or []:
            meta = item.get("metadata") or {}
            objects[str(meta.get("uid"))] = self.entry(meta.get("namespace"), item)
        self._apply(self._replaced, objects)
        return str((listed.get("metadata") or {}).get("resourceVersion") or "")

    def _replaced(self, objects: dict[str, dict[Key, V]]) -> None:
        self.cache.replace(objects)
        self.synced.set()

    def _watch(self, version: str) -> str:
        """Apply one watch's events; the resourceVersion to resume from."""
        query = {
            "labelSelector": self.selector,
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
        }
        for event in self.kube.watch(self.path, query, WATCH_SECONDS):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise Gone(obj.get("message", ""))
                raise KubeError(int(obj.get("code") or 0), str(obj.get("reason", "")),
                                str(obj.get("message", "")))  # fmt: skip
            meta = obj.get("metadata") or {}
            version = str(meta.get("resourceVersion") or version)
            uid = str(meta.get("uid"))
            if kind in ("ADDED", "MODIFIED"):
                self._apply(self.cache.put, uid, self.entry(meta.get("namespace"), obj))
            elif kind == "DELETED":
                self._apply(self.cache.drop, uid)
            if self._stopped.is_set():
                break
        return version

    def _apply(self, fn: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn, *args)
