"""The life of one pod on the sandbox node (`PodWorker`).

A loopback IP 127.0.0.N, a directory with its volumes (mounts.py), init containers in
order, then every container with its probes (prober.py), restarts per `restartPolicy`
with a small CrashLoop backoff, and the pod status written through pods/status
(status.py). Deletion (deletionTimestamp) runs preStop, SIGTERM, waits the grace
period, SIGKILLs, cleans the pod directory (never the PVC's) and deletes the object
with gracePeriodSeconds=0, as a real kubelet finishes a graceful delete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from . import mounts, prober, probes, status
from . import volumes as vol
from .containers import ContainerRun, now
from .ips import IpPool
from .kube import PODS, Kube, KubeError
from .node import Node
from .processes import Group, Reaper, scan, spawn, terminate

Obj = dict[str, Any]
log = logging.getLogger("zenith.sandbox.kubelet")

BACKOFF_START = 0.5
BACKOFF_CAP = 5.0
BACKOFF_RESET_AFTER = 10.0
VOLUME_REFRESH = 2.0


class Host(Protocol):
    """What a pod worker needs of its kubelet (kubelet.Kubelet)."""

    kube: Kube
    node: Node
    state_dir: Path
    reaper: Reaper
    ips: IpPool
    on_release: Callable[[str], Awaitable[None]] | None

    def event(
        self, pod: Obj, reason: str, message: str, container: str | None, etype: str
    ) -> None: ...
    def save_sessions(self) -> None: ...
    def forget(self, worker: PodWorker) -> None: ...


class PodWorker:
    """One pod on the sandbox node: volumes, init containers, containers with restarts
    and probes, status reporting, and termination."""

    def __init__(self, kubelet: Host, pod: Obj, ip: str) -> None:
        self.k = kubelet
        self.kube, self.node = kubelet.kube, kubelet.node
        self.pod = pod
        meta = pod["metadata"]
        self.ns, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.ip = ip
        self.dir = kubelet.state_dir / "pods" / self.ns / f"{self.name}-{self.uid[:8]}"
        self.log_dir = kubelet.state_dir / "logs" / self.ns / self.name
        self.volume_dirs: dict[str, Path] = {}
        spec = pod.get("spec") or {}
        previous = {c["name"]: c for c in (pod.get("status") or {}).get("containerStatuses") or []}
        self.inits = [ContainerRun(c, init=True) for c in spec.get("initContainers") or []]
        self.containers = []
        for c in spec.get("containers") or []:
            run = ContainerRun(c)
            if c["name"] in previous:  # the runtime restarted: the containers restart
                run.restart_count = int(previous[c["name"]].get("restartCount", 0)) + 1
            self.containers.append(run)
        self.initialized = not self.inits
        self.failed_reason: str | None = None
        self.start_time = (pod.get("status") or {}).get("startTime") or now()
        self.stopping = False
        self.finished = asyncio.Event()
        self.dirty = asyncio.Event()
        self.written: Obj | None = None  # the last status written
        self.transitions: dict[str, tuple[str, str]] = {}
        self._life: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        # node-down fault: this pod's "node" is dead (no probes, restarts, status, deletes)
        self.resumed = asyncio.Event()
        self.resumed.set()
        self._node_controller: asyncio.Task[None] | None = None

    # -- entry points --------------------------------------------------------------
    def start(self) -> None:
        self._writer = asyncio.create_task(status.writer(self), name=f"status {self.name}")
        self._life = asyncio.create_task(self._lifecycle(), name=f"pod {self.name}")
        self.dirty.set()

    def update(self, pod: Obj) -> None:
        self.pod = pod
        if not self.resumed.is_set():
            return  # a dead node's kubelet does not see the delete
        if pod["metadata"].get("deletionTimestamp") and not self.stopping:
            meta, spec = pod["metadata"], pod.get("spec") or {}
            grace = meta.get("deletionGracePeriodSeconds")
            if grace is None:
                grace = spec.get("terminationGracePeriodSeconds", 30)
            log.info("pod %s/%s: deleting (grace %ss)", self.ns, self.name, grace)
            self.event("Killing", f"Stopping pod (grace {grace}s)", None, "Normal")
            self._stop_task = asyncio.create_task(self.stop(float(grace), delete_object=True))

    @property
    def suspended(self) -> bool:
        return not self.resumed.is_set()

    def suspend(self, not_ready_after: float) -> None:
        """The pod's node dies: its kubelet stops probing, restarting and reporting;
        after `not_ready_after` s the node controller marks the pod not Ready."""
        if self.suspended:
            return
        self.resumed.clear()
        self._node_controller = asyncio.create_task(status.mark_not_ready(self, not_ready_after))

    def resume(self) -> None:
        if self._node_controller is not None:
            self._node_controller.cancel()
        self.resumed.set()
        self.dirty.set()
        self.update(self.pod)  # a delete that arrived meanwhile

    def gone(self) -> None:
        """The object vanished (force delete): stop everything now."""
        if not self.stopping:
            log.info("pod %s/%s: object gone, killing", self.ns, self.name)
            self._stop_task = asyncio.create_task(self.stop(0.0, delete_object=False))

    def all_runs(self) -> list[ContainerRun]:
        return self.inits + self.containers

    def event(
        self, reason: str, message: str, container: str | None, etype: str = "Warning"
    ) -> None:
        """A core/v1 Event about this pod, as a kubelet reports (fire and forget)."""
        self.k.event(self.pod, reason, message, container, etype)

    # -- lifecycle -----------------------------------------------------------------
    async def _lifecycle(self) -> None:
        while not self.stopping:
            try:
                await mounts.prepare_volumes(self)
                break
            except (vol.VolumeError, KubeError) as e:
                self._waiting_all("ContainerCreating", str(e))
                await asyncio.sleep(1.0)
        for run in self.inits:
            while not self.stopping and not run.done:
                await self._run_container(run)
                if self.failed_reason:
                    return
        self.initialized = True
        self.dirty.set()
        for run in self.containers:
            run.task = asyncio.create_task(
                self._container_loop(run), name=f"{self.name}/{run.name}"
            )
        while not self.stopping:
            await asyncio.sleep(VOLUME_REFRESH)
            with contextlib.suppress(vol.VolumeError, KubeError, OSError):
                await mounts.refresh_volumes(self)
            await asyncio.to_thread(self.note_shm)
            self.k.save_sessions()

    def note_shm(self) -> None:
        """Remember the POSIX shm files the pod's processes map (PostgreSQL's dynamic
        shared memory), to remove them once every process of the container is gone."""
        table = scan()
        for run in self.all_runs():
            if run.group is not None and run.exited is not None and not run.exited.done():
                run.group.note_shm(run.group.members(table))

    def _waiting_all(self, reason: str, message: str) -> None:
        for run in self.all_runs():
            if "waiting" in run.state and run.state["waiting"].get("message") != message:
                run.state = {"waiting": {"reason": reason, "message": message}}
                self.dirty.set()

    async def _container_loop(self, run: ContainerRun) -> None:
        while not self.stopping and not run.done:
            await self._run_container(run)

    async def _run_container(self, run: ContainerRun) -> None:
        """One run of a container, then the restart decision and backoff."""
        try:
            env, argv = await mounts.container_command(self, run)
        except (vol.VolumeError, KubeError) as e:
            run.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(e)}}
            self.dirty.set()
            await asyncio.sleep(1.0)
            return
        uid, gid, groups = mounts.identity(self, run.spec)
        log_path = self.log_dir / f"{run.name}.log"
        with contextlib.suppress(OSError):
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with log_path.open("a") as f:
                f.write(f"--- sandbox: start {run.name} (restart {run.restart_count}) {now()}\n")
        if self.stopping:
            return
        try:
            pid, start = spawn(argv, env, str(self.dir), log_path, uid, gid, groups)
        except OSError as e:
            run.state = {"waiting": {"reason": "RunContainerError", "message": str(e)}}
            self.dirty.set()
            await self._backoff(run, 0.0)
            return
        run.env = env
        run.group = Group(pid, start)
        run.frozen = False
        run.exited = self.k.reaper.wait(pid)
        self.k.save_sessions()
        run.kill = asyncio.get_running_loop().create_future()
        began = time.monotonic()
        run.state = {"running": {"startedAt": now()}}
        run.started = run.init or "startupProbe" not in run.spec
        run.ready = run.started and "readinessProbe" not in run.spec and not run.init
        self.dirty.set()
        log.info("pod %s/%s: started %s pid %d", self.ns, self.name, run.name, pid)
        self.event("Started", f"Started container {run.name}", run.name, "Normal")
        probing = None if run.init else asyncio.create_task(prober.probe_all(self, run, began))
        waits: list[asyncio.Future[Any]] = [run.exited, run.kill]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        message = ""
        if run.kill.done() and not run.exited.done():
            message = run.kill.result()
            grace = self._probe_grace(run, message)
            self.event("Killing", message, run.name)
            log.info("pod %s/%s: killing %s: %s", self.ns, self.name, run.name, message)
            await terminate(run.group, grace, run.exited)
        code = await run.exited
        if probing is not None:
            probing.cancel()
        # the container's pid namespace dies with its main process
        run.group.signal(signal.SIGKILL)
        run.group.cleanup_shm()
        run.ready = False
        run.started = False
        terminated = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": run.state.get("running", {}).get("startedAt", now()),
            "finishedAt": now(),
            "containerID": f"sandbox://{pid}",
        }
        if message:
            terminated["message"] = message
        log.info("pod %s/%s: %s exited %d", self.ns, self.name, run.name, code)
        if self.stopping:
            run.state = {"terminated": terminated}
            run.done = True
            self.dirty.set()
            return
        await self.resumed.wait()  # a dead node restarts nothing
        policy = (self.pod.get("spec") or {}).get("restartPolicy", "Always")
        if run.init:
            restart = code != 0 and policy != "Never"
        else:
            restart = policy == "Always" or (policy == "OnFailure" and code != 0)
        if not restart:
            run.state = {"terminated": terminated}
            run.done = True
            if run.init and code != 0:
                self.failed_reason = f"init container {run.name} failed ({code})"
            self.dirty.set()
            return
        run.last_state = {"terminated": terminated}
        run.restart_count += 1
        await self._backoff(run, time.monotonic() - began)

    async def _backoff(self, run: ContainerRun, ran: float) -> None:
        delay = (
            0.0
            if ran >= BACKOFF_RESET_AFTER
            else min(max(run.backoff * 2, BACKOFF_START), BACKOFF_CAP)
        )
        run.backoff = delay
        if delay:
            self.event("BackOff", f"Back-off restarting failed container {run.name}", run.name)
        run.state = {
            "waiting": {
                "reason": "CrashLoopBackOff" if delay else "ContainerCreating",
                "message": f"back-off {delay:.1f}s restarting {run.name}",
            }
        }
        self.dirty.set()
        deadline = time.monotonic() + delay
        while not self.stopping and time.monotonic() < deadline:
            await asyncio.sleep(min(0.1, deadline - time.monotonic()))

    def _probe_grace(self, run: ContainerRun, message: str) -> float:
        for kind in ("livenessProbe", "startupProbe"):
            p = run.spec.get(kind) or {}
            if kind[:-5] in message and p.get("terminationGracePeriodSeconds") is not None:
                return float(p["terminationGracePeriodSeconds"])
        return float((self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))

    async def exec(self, run: ContainerRun, argv: list[str], timeout: float) -> int | None:
        if not argv:
            return 1
        if argv[0] == "zenith-operator":
            argv = [sys.executable, "-m", "zenith_operator", *argv[1:]]
        return await self.k.reaper.run(argv, run.env, str(self.dir), timeout)

    # -- termination ---------------------------------------------------------------
    async def stop(self, grace: float, delete_object: bool) -> None:
        if self.stopping:
            await self.finished.wait()
            return
        self.stopping = True
        self.resumed.set()  # let suspended loops see `stopping`
        deadline = time.monotonic() + grace
        try:
            if self._life is not None:
                self._life.cancel()
            running = [
                r
                for r in self.all_runs()
                if r.group is not None and r.exited is not None and not r.exited.done()
            ]
            if delete_object:
                await asyncio.gather(
                    *(self._pre_stop(r, deadline) for r in running if not r.init),
                    return_exceptions=True,
                )
            remaining = max(deadline - time.monotonic(), min(grace, 2.0))
            await asyncio.gather(
                *(terminate(r.group, remaining, r.exited) for r in running if r.group is not None),
                return_exceptions=True,
            )
            for r in self.all_runs():
                if r.task is not None:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await asyncio.wait_for(r.task, 3.0)
            if delete_object:
                self.dirty.set()
                await asyncio.sleep(0.1)
            if self._writer is not None:
                self._writer.cancel()
            shutil.rmtree(self.dir, ignore_errors=True)
            if delete_object:
                await asyncio.to_thread(self.k.kube.delete, PODS, self.ns, self.name, 0, self.uid)
                log.info("pod %s/%s: deleted", self.ns, self.name)
        except Exception:
            log.exception("pod %s/%s: stopping failed", self.ns, self.name)
        finally:
            if self.k.on_release is not None:
                with contextlib.suppress(Exception):
                    await self.k.on_release(self.ip)
            self.k.ips.release(self.ip)
            self.finished.set()
            self.k.forget(self)

    async def _pre_stop(self, run: ContainerRun, deadline: float) -> None:
        handler = ((run.spec.get("lifecycle") or {}).get("preStop")) or {}
        if not handler:
            return
        timeout = max(0.1, deadline - time.monotonic())
        log.info("pod %s/%s: preStop of %s", self.ns, self.name, run.name)
        if "exec" in handler:
            await self.exec(run, list(handler["exec"].get("command") or []), timeout)
        elif "httpGet" in handler:
            await probes.http_get(handler["httpGet"], self.ip, run.spec, timeout)
        elif "sleep" in handler:
            await asyncio.sleep(min(float(handler["sleep"].get("seconds", 0)), timeout))
