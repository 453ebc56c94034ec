"""The kubelet of the sandbox node: runs each bound pod's containers as local processes.

Per pod (`PodWorker`): a loopback IP 127.0.0.N, a directory with its volumes, init
containers in order, then every container with its probes, restarts per
`restartPolicy` with a small CrashLoop backoff, and the pod status written through
pods/status. Deletion (deletionTimestamp) runs preStop, SIGTERM, waits the grace
period, SIGKILLs, cleans the pod directory (never the PVC's) and deletes the object
with gracePeriodSeconds=0, as a real kubelet finishes a graceful delete.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import ipaddress
import logging
import os
import pwd
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import probes as probe_mod
from . import volumes as vol
from .kube import CONFIGMAPS, EVENTS, PODS, PVCS, PVS, SECRETS, Kube, KubeError
from .node import Node
from .processes import Group, Reaper, save_sessions, scan, spawn, terminate

Obj = dict[str, Any]
log = logging.getLogger("zenith.sandbox.kubelet")

INHERITED_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "LD_LIBRARY_PATH",
)
BACKOFF_START = 0.5
BACKOFF_CAP = 5.0
BACKOFF_RESET_AFTER = 10.0
VOLUME_REFRESH = 2.0
SESSIONS_FILE = "sessions.json"
OUR_CONDITIONS = ("PodScheduled", "Initialized", "ContainersReady", "Ready")


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def container_argv(container: Obj, env: dict[str, str]) -> list[str]:
    """command + args with $(VAR) expanded from the (rewritten) env; the `zenith-operator`
    executable is this Python's module. Arguments themselves are not path-rewritten
    (only env is, per docs/dev/contracts.md): refer to mounted files through env."""
    argv = [vol.expand(str(a), env) for a in (container.get("command") or [])]
    argv += [vol.expand(str(a), env) for a in (container.get("args") or [])]
    if not argv:
        raise vol.VolumeError(
            "container has no command: the sandbox cannot run an image's entrypoint"
        )
    if argv[0] == "zenith-operator":
        argv = [sys.executable, "-m", "zenith_operator", *argv[1:]]
    return argv


class IpPool:
    """127.0.0.2 .. 127.0.0.254, handed out round-robin, never one still in use.

    Several runtimes may share the machine (parallel test runs): an address is held
    with an flock on `<tmp>/zenith-sandbox-ips/<ip>.lock` while in use, released by
    `release` or by the kernel when the runtime dies.
    """

    LOCK_DIR = Path(tempfile.gettempdir()) / "zenith-sandbox-ips"

    def __init__(self) -> None:
        self.in_use: dict[str, int] = {}  # ip -> fd of its lock file
        self._next = 2

    def _lock(self, ip: str) -> bool:
        self.LOCK_DIR.mkdir(mode=0o1777, parents=True, exist_ok=True)
        fd = os.open(self.LOCK_DIR / f"{ip}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self.in_use[ip] = fd
        return True

    def take(self, preferred: str | None = None, also_used: set[str] | None = None) -> str:
        busy = set(self.in_use) | (also_used or set())
        if preferred and preferred not in busy and _loopback(preferred) and self._lock(preferred):
            return preferred
        for _ in range(253):
            ip = f"127.0.0.{self._next}"
            self._next = 2 if self._next >= 254 else self._next + 1
            if ip not in busy and self._lock(ip):
                return ip
        raise RuntimeError("no free loopback address")

    def release(self, ip: str | None) -> None:
        fd = self.in_use.pop(ip, None) if ip else None
        if fd is not None:
            os.close(fd)


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback and ip != "127.0.0.1"
    except ValueError:
        return False


@dataclass
class ContainerRun:
    spec: Obj
    init: bool = False
    restart_count: int = 0
    group: Group | None = None
    exited: asyncio.Future[int] | None = None
    kill: asyncio.Future[str] | None = None
    state: Obj = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: Obj = field(default_factory=dict)
    started: bool = False
    ready: bool = False
    done: bool = False  # terminated for good (init success, or no restart)
    env: dict[str, str] = field(default_factory=dict)
    backoff: float = 0.0
    frozen: bool = False
    task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    def status(self) -> Obj:
        out: Obj = {
            "name": self.name,
            "image": self.spec.get("image", ""),
            "imageID": "",
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.group is not None:
            out["containerID"] = f"sandbox://{self.group.main_pid}"
        return out


class PodWorker:
    def __init__(self, kubelet: Kubelet, pod: Obj, ip: str) -> None:
        self.k = kubelet
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
        self._written: Obj | None = None
        self._transitions: dict[str, tuple[str, str]] = {}
        self._life: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        # node-down fault: this pod's "node" is dead (no probes, restarts, status, deletes)
        self.resumed = asyncio.Event()
        self.resumed.set()
        self._node_controller: asyncio.Task[None] | None = None

    # -- entry points --------------------------------------------------------------
    def start(self) -> None:
        self._writer = asyncio.create_task(self._status_writer(), name=f"status {self.name}")
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
        self._node_controller = asyncio.create_task(self._mark_not_ready(not_ready_after))

    def resume(self) -> None:
        if self._node_controller is not None:
            self._node_controller.cancel()
        self.resumed.set()
        self.dirty.set()
        self.update(self.pod)  # a delete that arrived meanwhile

    async def _mark_not_ready(self, after: float) -> None:
        await asyncio.sleep(after)
        status = self.compute_status()
        for c in status["conditions"]:
            if c["type"] in ("Ready", "ContainersReady"):
                c.update(
                    status="False",
                    reason="NodeNotReady",
                    message="the sandbox node of this pod is down (fault)",
                )
        for cs in status["containerStatuses"]:
            cs["ready"] = False
        with contextlib.suppress(Exception):
            await asyncio.to_thread(
                self.k.kube.patch,
                PODS,
                self.ns,
                self.name,
                {
                    "status": {
                        "conditions": status["conditions"],
                        "containerStatuses": status["containerStatuses"],
                    }
                },
                "status",
            )
        self._written = None  # rewrite the real status when the node is back

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
                await self._prepare_volumes()
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
                await self._refresh_volumes()
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
            env, argv = await self._container_command(run)
        except (vol.VolumeError, KubeError) as e:
            run.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(e)}}
            self.dirty.set()
            await asyncio.sleep(1.0)
            return
        uid, gid, groups = self._identity(run.spec)
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
        probing = None if run.init else asyncio.create_task(self._probe_all(run, began))
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

    # -- probes --------------------------------------------------------------------
    async def _probe_all(self, run: ContainerRun, began: float) -> None:
        spec = run.spec
        if "startupProbe" in spec:
            tracker = probe_mod.ProbeTracker("startup", spec["startupProbe"])
            await self._probe_loop(run, tracker, began)
            if run.kill is not None and run.kill.done():
                return
        run.started = True
        if "readinessProbe" not in spec:
            run.ready = True
        self.dirty.set()
        loops = [
            self._probe_loop(run, probe_mod.ProbeTracker(kind, spec[key]), began)
            for kind, key in (("liveness", "livenessProbe"), ("readiness", "readinessProbe"))
            if key in spec
        ]
        if loops:
            await asyncio.gather(*loops)

    async def _probe_loop(
        self, run: ContainerRun, tracker: probe_mod.ProbeTracker, began: float
    ) -> None:
        delay = tracker.initial_delay - (time.monotonic() - began)
        if delay > 0:
            await asyncio.sleep(delay)
        while run.kill is not None and not run.kill.done():
            await self.resumed.wait()
            t0 = time.monotonic()
            ok = await probe_mod.check(
                tracker.spec, self.ip, run.spec, lambda argv, to: self._exec(run, argv, to)
            )
            if self.suspended:
                continue  # the node died while probing: nobody sees the result
            verdict = tracker.record(ok)
            if verdict is False:
                self.event("Unhealthy", f"{tracker.kind.capitalize()} probe failed", run.name)
            if tracker.kind == "readiness":
                if run.ready != tracker.result:
                    run.ready = tracker.result
                    self.dirty.set()
            elif tracker.kind == "startup" and verdict is True:
                return
            elif verdict is False:
                if not run.kill.done():
                    run.kill.set_result(
                        f"Container {run.name} failed {tracker.kind} probe, will be restarted"
                    )
                return
            await asyncio.sleep(max(0.0, tracker.period - (time.monotonic() - t0)))

    async def _exec(self, run: ContainerRun, argv: list[str], timeout: float) -> int | None:
        if not argv:
            return 1
        if argv[0] == "zenith-operator":
            argv = [sys.executable, "-m", "zenith_operator", *argv[1:]]
        return await self.k.reaper.run(argv, run.env, str(self.dir), timeout)

    # -- volumes and env -----------------------------------------------------------
    def _fetch(self, kind: str, ns: str, name: str) -> Obj | None:
        return self.k.kube.get(CONFIGMAPS if kind == "configmap" else SECRETS, ns, name)

    async def _prepare_volumes(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        dirs: dict[str, Path] = {}
        for v in (self.pod.get("spec") or {}).get("volumes") or []:
            name = v["name"]
            if "persistentVolumeClaim" in v:
                dirs[name] = await self._claim_dir(v["persistentVolumeClaim"]["claimName"])
            elif "hostPath" in v:
                dirs[name] = (
                    self.k.node.hostpath_root / self.k.node.name / v["hostPath"]["path"].lstrip("/")
                )
                dirs[name].mkdir(parents=True, exist_ok=True)
            else:
                dirs[name] = self.dir / "volumes" / name
                dirs[name].mkdir(parents=True, exist_ok=True)
                if "emptyDir" in v:
                    os.chmod(dirs[name], 0o777)
                elif not any(k in v for k in ("configMap", "secret", "projected", "downwardAPI")):
                    raise vol.VolumeError(
                        f"volume {name}: unsupported type {sorted(set(v) - {'name'})}"
                    )
        self.volume_dirs = dirs
        await self._refresh_volumes()

    async def _claim_dir(self, claim: str) -> Path:
        pvc = await asyncio.to_thread(self.k.kube.get, PVCS, self.ns, claim)
        if pvc is None:
            raise vol.VolumeError(f"persistentvolumeclaim {claim!r} not found")
        volume_name = (pvc.get("spec") or {}).get("volumeName")
        if (pvc.get("status") or {}).get("phase") != "Bound" or not volume_name:
            raise vol.VolumeError(f"persistentvolumeclaim {claim!r} is not bound")
        pv = await asyncio.to_thread(self.k.kube.get, PVS, None, volume_name)
        host = self.k.node.host_dir(pv) if pv else None
        if host is None:
            raise vol.VolumeError(f"volume {volume_name!r} has no hostPath/local path")
        host.mkdir(parents=True, exist_ok=True)
        return host

    async def _refresh_volumes(self) -> None:
        pod = self._pod_with_ip()

        def work() -> bool:
            changed = False
            for v in (pod.get("spec") or {}).get("volumes") or []:
                files = vol.render_volume(v, pod, self._fetch)
                if files is not None:
                    changed |= vol.sync_dir(self.volume_dirs[v["name"]], files)
            return changed

        await asyncio.to_thread(work)

    def _pod_with_ip(self) -> Obj:
        pod = dict(self.pod)
        pod["status"] = {
            **(self.pod.get("status") or {}),
            "podIP": self.ip,
            "podIPs": [{"ip": self.ip}],
            "hostIP": "127.0.0.1",
        }
        return pod

    async def _container_command(self, run: ContainerRun) -> tuple[dict[str, str], list[str]]:
        pod = self._pod_with_ip()
        spec_env = await asyncio.to_thread(vol.resolve_env, run.spec, pod, self._fetch)
        mounts = vol.mount_map(run.spec, self.volume_dirs)
        env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
        env["HOSTNAME"] = (pod.get("spec") or {}).get("hostname") or self.name
        env["HOME"] = str(self.dir)
        env.update(vol.rewrite_env(spec_env, mounts))
        env["ZENITH_SANDBOX"] = "1"
        argv = container_argv(run.spec, env)
        return env, argv

    def _identity(self, container: Obj) -> tuple[int | None, int | None, list[int] | None]:
        """runAsUser/runAsGroup are honoured when we are root and the uid exists here;
        otherwise the container runs as the runtime's user (documented)."""
        if os.geteuid() != 0:
            return None, None, None
        psc = (self.pod.get("spec") or {}).get("securityContext") or {}
        csc = container.get("securityContext") or {}
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        if uid is None:
            return None, None, None
        try:
            entry = pwd.getpwuid(int(uid))
        except KeyError:
            return None, None, None
        gid = int(csc.get("runAsGroup", psc.get("runAsGroup", entry.pw_gid)))
        groups = [int(psc["fsGroup"])] if psc.get("fsGroup") is not None else []
        for path in self.volume_dirs.values():
            with contextlib.suppress(OSError):
                os.chown(path, -1, groups[0] if groups else gid)
                os.chmod(path, os.stat(path).st_mode | 0o070)
        return int(uid), gid, groups

    # -- status --------------------------------------------------------------------
    def compute_status(self) -> Obj:
        spec = self.pod.get("spec") or {}
        policy = spec.get("restartPolicy", "Always")
        ready = bool(self.containers) and all(c.ready for c in self.containers)
        if self.failed_reason:
            phase = "Failed"
        elif not self.initialized:
            phase = "Pending"
        elif all(c.done for c in self.containers) and policy != "Always":
            codes = [c.state.get("terminated", {}).get("exitCode", 1) for c in self.containers]
            phase = "Succeeded" if all(code == 0 for code in codes) else "Failed"
        elif any("running" in c.state or c.restart_count for c in self.containers):
            phase = "Running"
        else:
            phase = "Pending"
        conds = {
            "PodScheduled": True,
            "Initialized": self.initialized,
            "ContainersReady": ready,
            "Ready": ready,
        }
        conditions = [self._condition(t, v) for t, v in conds.items()]
        foreign = [
            c
            for c in (self.pod.get("status") or {}).get("conditions") or []
            if c.get("type") not in OUR_CONDITIONS
        ]
        status: Obj = {
            "phase": phase,
            "conditions": foreign + conditions,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": self.ip,
            "podIPs": [{"ip": self.ip}],
            "startTime": self.start_time,
            "containerStatuses": [c.status() for c in self.containers],
            # No qosClass: the API server computes it at creation and refuses changes.
        }
        if self.inits:
            status["initContainerStatuses"] = [c.status() for c in self.inits]
        if self.failed_reason:
            status["reason"], status["message"] = "Failed", self.failed_reason
        return status

    def _condition(self, ctype: str, value: bool) -> Obj:
        text = "True" if value else "False"
        prev = self._transitions.get(ctype)
        if prev is None or prev[0] != text:
            self._transitions[ctype] = (text, now())
        return {
            "type": ctype,
            "status": text,
            "lastTransitionTime": self._transitions[ctype][1],
            "lastProbeTime": None,
        }

    async def _status_writer(self) -> None:
        while True:
            await self.dirty.wait()
            await self.resumed.wait()
            self.dirty.clear()
            status = self.compute_status()
            if status == self._written:
                continue
            try:
                await asyncio.to_thread(
                    self.k.kube.patch, PODS, self.ns, self.name, {"status": status}, "status"
                )
                self._written = status
            except KubeError as e:
                if e.not_found:
                    return
                log.warning("pod %s/%s: status write failed: %s", self.ns, self.name, e)
                await asyncio.sleep(0.5)
                self.dirty.set()
            except Exception as e:  # the API may be restarting: retry, never die
                log.warning("pod %s/%s: status write failed: %r", self.ns, self.name, e)
                await asyncio.sleep(0.5)
                self.dirty.set()
            await asyncio.sleep(0.05)  # coalesce bursts

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
            await self._exec(run, list(handler["exec"].get("command") or []), timeout)
        elif "httpGet" in handler:
            await probe_mod.http_get(handler["httpGet"], self.ip, run.spec, timeout)
        elif "sleep" in handler:
            await asyncio.sleep(min(float(handler["sleep"].get("seconds", 0)), timeout))


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
