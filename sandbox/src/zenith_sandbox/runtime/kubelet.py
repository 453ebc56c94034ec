"""The kubelet of the sandbox node: admits the pods bound to it, one `pod.PodWorker`
each (which runs its containers as local processes), reports their events, and keeps
the list of their process sessions so a runtime that died leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .containers import now
from .ips import IpPool
from .kube import EVENTS, Kube
from .node import Node
from .pod import PodWorker
from .processes import Reaper, save_sessions

Obj = dict[str, Any]
log = logging.getLogger("zenith.sandbox.kubelet")

SESSIONS_FILE = "sessions.json"


class Kubelet:
    def __init__(self, kube: Kube, node: Node, state_dir: Path, reaper: Reaper) -> None:
        self.kube = kube
        self.node = node
        self.state_dir = state_dir
        self.reaper = reaper
        self.ips = IpPool()
        self.workers: dict[str, PodWorker] = {}
        self.on_change: Callable[[], None] | None = None
        # called with a pod IP before it is given back to the pool (lifts network faults
        # on it, so a later pod with the same IP does not inherit them)
        self.on_release: Callable[[str], Awaitable[None]] | None = None
        self._pending: set[asyncio.Future[None]] = set()

    def sync(self, pods: list[Obj]) -> None:
        """Make the workers match the pods bound to this node."""
        mine = [p for p in pods if (p.get("spec") or {}).get("nodeName") == self.node.name]
        seen = set()
        used = {str(ip) for p in pods if (ip := (p.get("status") or {}).get("podIP"))}
        for pod in mine:
            seen.add(pod["metadata"]["uid"])
            try:
                self._sync_one(pod, used)
            except Exception as e:  # one bad pod never stops the others
                meta = pod["metadata"]
                log.warning("pod %s/%s: %r", meta.get("namespace"), meta["name"], e)
        for uid, worker in list(self.workers.items()):
            if uid not in seen:
                worker.gone()

    def _sync_one(self, pod: Obj, used: set[str]) -> None:
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        terminal = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        if terminal and not pod["metadata"].get("deletionTimestamp"):
            return
        old_ip = (pod.get("status") or {}).get("podIP")
        ip = self.ips.take(old_ip, {u for u in used if u != old_ip})
        worker = PodWorker(self, pod, ip)
        self.workers[uid] = worker
        log.info("pod %s/%s: admitted, ip %s", worker.ns, worker.name, ip)
        worker.start()
        worker.update(pod)

    def event(self, pod: Obj, reason: str, message: str, container: str | None, etype: str) -> None:
        meta = pod["metadata"]
        ref: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        }
        if container:
            ref["fieldPath"] = f"spec.containers{{{container}}}"
        t = now()
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "type": etype,
            "source": {"component": "kubelet", "host": self.node.name},
            "firstTimestamp": t,
            "lastTimestamp": t,
            "count": 1,
            "reportingComponent": "kubelet",
            "reportingInstance": self.node.name,
        }

        def post() -> None:
            with contextlib.suppress(Exception):
                self.kube.create(EVENTS, meta["namespace"], body)

        task = asyncio.get_running_loop().run_in_executor(None, post)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def save_sessions(self) -> None:
        """Persist our containers' sessions so a runtime that died leaves nothing behind
        (`processes.reap_leftovers` at the next start and at `sandbox down`)."""
        groups = [
            r.group
            for w in self.workers.values()
            for r in w.all_runs()
            if r.group is not None and r.exited is not None and not r.exited.done()
        ]
        with contextlib.suppress(OSError):
            save_sessions(self.state_dir / SESSIONS_FILE, groups)

    def forget(self, worker: PodWorker) -> None:
        if self.workers.get(worker.uid) is worker:
            del self.workers[worker.uid]

    def find(self, namespace: str, name: str) -> PodWorker | None:
        for w in self.workers.values():
            if w.ns == namespace and w.name == name and not w.stopping:
                return w
        return None

    async def shutdown(self, grace: float) -> None:
        """The node goes down: kill every pod's processes, leave the objects."""
        workers = list(self.workers.values())
        await asyncio.gather(
            *(w.stop(grace, delete_object=False) for w in workers), return_exceptions=True
        )
