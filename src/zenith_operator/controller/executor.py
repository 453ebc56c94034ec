"""Turns a `Decision` into API writes and agent calls.

Order per cycle: (1) lease renewals, inline (cheap, agents only: they go on while the
Kubernetes API is away, so an API outage never fences a healthy active); (2) the status,
when something worth writing changed — this is where an intent (pending failover,
out-of-sync standby) is recorded *before* acting; if it cannot be written within the
write budget, no command is sent this cycle; (3) pod labels and deletes; (4) long
commands (promote, follow, rebuild, stop, start, replication) as background tasks, at
most one per pod, so the polling loop never blocks; their results show up in the next
polls; (5) Kubernetes Events. While the API is away (api_health.py), (2)-(5) wait.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import functools
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import kopf

from zenith_operator import naming
from zenith_operator.api.status import ZenithClusterStatus
from zenith_operator.controller import metrics
from zenith_operator.controller.agent_client import AgentClient, Unknown
from zenith_operator.controller.api_health import ApiHealth
from zenith_operator.controller.observe import ClusterView, Memory
from zenith_operator.controller.reconcile_kube import JSON_PATCH, Kube, KubeError, Ref
from zenith_operator.ha import persist
from zenith_operator.ha.model import (
    Decision,
    DeletePod,
    Event,
    Follow,
    LabelPod,
    Promote,
    Rebuild,
    RenewLease,
    SetReplication,
    Start,
    Stop,
)

T = TypeVar("T")
WRITE_BUDGET = 2.0  # seconds a cycle waits for its status write before moving on
LATE_RETRY_MAX = 10.0  # seconds: the longest back-off before an unsent attempt is retried
MY_CONDITIONS = frozenset({"Ready", "Available", "ReplicationHealthy", "ManualIntervention"})


def status_patch(body: dict[str, Any], new: ZenithClusterStatus) -> list[dict[str, Any]]:
    """A JSON patch of our status fields, keeping other writers' conditions.

    Guarded by a `test` of the current conditions (or of resourceVersion without any),
    as the reconciler's condition writer does, so neither side overwrites the other.
    Unset fields are omitted (removed when stored), never written as null: kubectl's
    printer columns show a stored null as `<no value>`.
    """
    live = body.get("status") or {}
    mine = new.model_dump(by_alias=True, mode="json", exclude_none=True)
    foreign = [c for c in live.get("conditions") or [] if c.get("type") not in MY_CONDITIONS]
    mine["conditions"] = foreign + mine["conditions"]
    ops: list[dict[str, Any]]
    if "conditions" in live:
        ops = [{"op": "test", "path": "/status/conditions", "value": live["conditions"]}]
    else:
        rv = (body.get("metadata") or {}).get("resourceVersion")
        ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": rv}]
    if not body.get("status"):
        ops.append({"op": "add", "path": "/status", "value": mine})
        return ops
    for key, value in mine.items():
        ops.append({"op": "add", "path": f"/status/{key}", "value": value})
    for key in _STATUS_KEYS - mine.keys():
        if key in live:
            ops.append({"op": "remove", "path": f"/status/{key}"})
    return ops


_STATUS_KEYS = frozenset(f.alias or name for name, f in ZenithClusterStatus.model_fields.items())


def late_retry_delay(late_writes: int, budget: float, draw: float) -> float:
    """Back-off before retrying an attempt whose status write landed late: one budget,
    doubling with each late write in a row up to LATE_RETRY_MAX, times `draw` in
    [0.5, 1] so that clusters slowed down together do not retry together."""
    return min(LATE_RETRY_MAX, budget * 2.0 ** max(0, late_writes - 1)) * draw


def write_status(kube: Kube, body: dict[str, Any], new: ZenithClusterStatus) -> dict[str, Any]:
    """Blocking: patch the status, retrying once on a lost race with a fresh read."""
    meta = body["metadata"]
    ref = Ref(body.get("apiVersion", f"{naming.GROUP}/{naming.VERSION}"), naming.KIND,
              meta["name"], meta.get("namespace"))  # fmt: skip
    for attempt in range(3):
        try:
            return kube.patch(ref, status_patch(body, new), JSON_PATCH, subresource="status")
        except KubeError as exc:
            if exc.status not in (409, 422) or attempt == 2:
                raise
            fresh = kube.get(ref)
            if fresh is None:
                raise
            body = fresh
    raise AssertionError("unreachable")


class Executor:
    def __init__(
        self,
        kube: Kube,
        client: AgentClient,
        memory: Memory,
        log: Any,
        api: ApiHealth,
        clock: Callable[[], float] = time.time,
        pool: concurrent.futures.Executor | None = None,
    ) -> None:
        self.kube = kube
        self.client = client
        self.memory = memory
        self.log = log
        self.api = api
        self.clock = clock
        self.pool = pool  # threads for the blocking API client (None: the loop's default)
        self.write_budget = WRITE_BUDGET
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._write: asyncio.Future[dict[str, Any]] | None = None
        self._written: tuple[str | None, dict[str, Any]] | None = None  # (rv before, body)
        self._away_logged = False
        self.on_done: Callable[[], None] | None = None  # called when a command finishes

    def freshest(self, live: dict[str, Any]) -> dict[str, Any]:
        """`live` (the watch's copy), or our last write when the watch has not caught up."""
        if self._written is not None:
            before, body = self._written
            if (live.get("metadata") or {}).get("resourceVersion") == before:
                return copy.deepcopy(body)
            self._written = None
        return live

    async def apply(self, view: ClusterView, decision: Decision) -> bool:
        """Apply one decision; False when the status could not be written (no commands)."""
        lease = [a for a in decision.actions if isinstance(a, RenewLease)]
        await asyncio.gather(*(self._renew(view, a) for a in lease))
        written = await self._status(view, decision.status)
        if not written:
            return False
        if self.api.away:
            if not self._away_logged:
                self.log.warning("API away: renewing leases only", since=self.api.reason)
                self._away_logged = True
            return True
        self._away_logged = False
        for action in decision.actions:
            if isinstance(action, LabelPod):
                await self._label(view, action)
            elif isinstance(action, DeletePod):
                await self._delete(view, action)
            elif isinstance(action, Event):
                self._event(view, action)
            elif isinstance(action, Promote | Follow | Rebuild | Stop | Start | SetReplication):
                self._spawn(view, action)
        return True

    # ------------------------------------------------------------------ status
    async def _status(self, view: ClusterView, new: ZenithClusterStatus) -> bool:
        m = self.memory
        if m.written is not None and not persist.changed(m.written, new):
            return True
        if self.api.away or (self._write is not None and not self._write.done()):
            return False  # one write at a time, none while the API is known away
        before = (view.body.get("metadata") or {}).get("resourceVersion")
        body = copy.deepcopy(view.body)
        task = asyncio.ensure_future(self._in_thread(write_status, self.kube, body, new))
        self._write = task
        done, _ = await asyncio.wait({task}, timeout=self.write_budget)
        if not done:
            # Slow is not away (a busy API server, a queue of writes): no command this
            # cycle, the write goes on and is recorded when it lands; an error marks away.
            self.log.info("status write still in flight; no command this cycle")
            task.add_done_callback(lambda t: self._landed_late(t, before, new))
            return False
        return self._landed(task, before, new)

    def _in_thread(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self.pool, functools.partial(fn, *args))

    async def _bounded(self, what: str, fn: Callable[..., Any], *args: Any) -> bool:
        """Run one API call within the write budget; a slower one finishes in the
        background (its error still counts). False when it failed or is still running."""
        future = self._in_thread(fn, *args)

        def failed(f: asyncio.Future[Any]) -> None:
            exc = None if f.cancelled() else f.exception()
            if exc is not None:
                self.api.failed(exc)
                if not isinstance(exc, KubeError) or exc.status not in (404, 409):
                    self.log.warning(f"{what} failed", error=str(exc))

        done, _ = await asyncio.wait({future}, timeout=self.write_budget)
        if not done:
            future.add_done_callback(failed)
            return False
        failed(future)
        return future.exception() is None

    def _landed(
        self, task: asyncio.Future[dict[str, Any]], before: str | None, new: ZenithClusterStatus
    ) -> bool:
        if task.cancelled():
            return False
        exc = task.exception()
        if exc is not None:
            self.api.failed(exc)
            self.log.warning("status not written; no command this cycle", error=str(exc))
            return False
        self.api.ok()
        self._written = (before, task.result())
        self.memory.written = new.model_copy(deep=True)
        self.memory.unsent &= persist.attempt_stamps(new)
        self.memory.late_writes = 0
        return True

    def _landed_late(
        self, task: asyncio.Future[dict[str, Any]], before: str | None, new: ZenithClusterStatus
    ) -> None:
        """A write that outlived its budget: its cycle sent no command. Once it lands,
        the API holds it, so the next decision starts from it; the attempts it recorded
        first are marked unsent and are due again after a back-off (a late write often
        means a busy API server: retrying at once would add to the queue)."""
        m = self.memory
        fresh = persist.attempt_stamps(new) - persist.attempt_stamps(m.written)
        late = m.late_writes + 1
        if not self._landed(task, before, new):
            return
        m.status = new.model_copy(deep=True)
        m.unsent |= fresh
        m.late_writes = late
        delay = late_retry_delay(m.late_writes, self.write_budget, random.uniform(0.5, 1.0))
        m.unsent_after = self.clock() + delay
        if fresh and self.on_done is not None:
            asyncio.get_running_loop().call_later(delay, self.on_done)

    # ------------------------------------------------------------------ lease
    async def _renew(self, view: ClusterView, a: RenewLease) -> None:
        pod = view.pods.get(a.pod)
        if pod is None or not pod.ip:
            return
        sent = self.clock()
        result = await self.client.lease(pod.ip, view.agent_port, a.ttl)
        # The request may have arrived even if the answer did not: count it as granted.
        self.memory.lease_renewed_at = self.clock()
        meta = view.body["metadata"]
        key = (meta.get("namespace") or "", meta["name"])
        metrics.CLUSTERS.lease_renewed(key, sent, a.ttl, not isinstance(result, Unknown))
        if isinstance(result, Unknown):
            self.log.warning("lease renewal failed", pod=a.pod, error=result.error)

    # ------------------------------------------------------------------ pods
    async def _label(self, view: ClusterView, a: LabelPod) -> None:
        ns = view.body["metadata"].get("namespace")
        patch = {"metadata": {"labels": {naming.ROLE_LABEL: a.role}}}
        await self._bounded(
            f"pod label {a.pod}={a.role}", self.kube.patch, Ref("v1", "Pod", a.pod, ns), patch
        )

    async def _delete(self, view: ClusterView, a: DeletePod) -> None:
        ns = view.body["metadata"].get("namespace")
        path = f"/api/v1/namespaces/{ns}/pods/{a.pod}"
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if a.uid:
            body["preconditions"] = {"uid": a.uid}
        if a.grace is not None:
            body["gracePeriodSeconds"] = a.grace
        if await self._bounded(f"pod delete {a.pod}", self.kube.request, "DELETE", path, body):
            self.log.info("pod deleted", pod=a.pod, grace=a.grace)

    def _event(self, view: ClusterView, a: Event) -> None:
        try:
            body = cast(kopf.Body, view.body)
            kopf.event(body, type=a.type, reason=a.reason, message=a.message[:1000])
        except Exception as exc:  # an Event must never break the loop
            self.log.warning("event not posted", reason=a.reason, error=str(exc))

    # ------------------------------------------------------------------ commands
    def _spawn(self, view: ClusterView, action: Any) -> None:
        pod_name: str = action.pod
        running = self.tasks.get(pod_name)
        if running is not None and not running.done():
            return
        kind = type(action).__name__.lower()
        self.memory.inflight[pod_name] = kind
        task = asyncio.get_running_loop().create_task(self._command(view, action, kind))
        self.tasks[pod_name] = task

    async def _command(self, view: ClusterView, action: Any, kind: str) -> None:
        pod = view.pods.get(action.pod)
        try:
            if pod is None or not pod.ip:
                return
            host, port = pod.ip, view.agent_port
            result: Any
            if isinstance(action, Promote):
                result = await self.client.promote(host, port, action.lease_ttl)
                self.memory.lease_renewed_at = self.clock()
            elif isinstance(action, Follow | Rebuild):
                peer = view.pods.get(action.peer)
                if peer is None or not peer.ip:
                    self.log.info("peer has no address yet", pod=action.pod, peer=action.peer)
                    return
                call = self.client.follow if isinstance(action, Follow) else self.client.rebuild
                result = await call(host, port, peer.ip, view.peer_port, action.peer)
            elif isinstance(action, SetReplication):
                result = await self.client.replication(host, port, action.mode, action.standby)
            elif isinstance(action, Stop):
                result = await self.client.stop(host, port)
            else:
                result = await self.client.start(host, port)
            if isinstance(result, Unknown):
                self.log.warning("command failed", command=kind, pod=action.pod, error=result.error)
            else:
                self.log.info(
                    "command done", command=kind, pod=action.pod, changed=result.changed,
                    message=result.message,
                )  # fmt: skip
        except Exception as exc:  # a task must never die silently
            self.log.error("command crashed", command=kind, pod=action.pod, error=repr(exc))
        finally:
            if isinstance(action, Promote):
                self.memory.promoted_at[action.pod] = self.clock()
            self.memory.inflight.pop(action.pod, None)
            if self.on_done is not None:
                self.on_done()

    async def close(self) -> None:
        tasks = [t for t in self.tasks.values() if not t.done()]
        if self._write is not None and not self._write.done():
            self._write.cancel()  # the thread finishes its request; nobody waits for it
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
