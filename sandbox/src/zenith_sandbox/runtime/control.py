"""The runtime's control API: local HTTP on 127.0.0.1 for tests and the sandbox CLI.

    GET  /healthz                 -> {"ok": true}
    GET  /v1/pods                 -> {"pods": [{namespace, name, uid, ip, containers: [...]}]}
    POST /v1/faults               <- {"kind", "namespace", "pod", "container"?, "port"?}
                                  -> {"ok": true, "kind", "pids": [...], "detail"}

Fault kinds (all act on processes of pods running on this node):
    kill-processes   SIGKILL every process of the pod (the kubelet restarts containers)
    kill-container   SIGKILL every process of one container
    kill-database    SIGKILL the postmaster (a `postgres` process whose parent is not
                     `postgres`) of the pod
    freeze / thaw    SIGSTOP / SIGCONT every process of the pod (or of `container`)
    freeze-agent     SIGSTOP only the main process of `container` (default zenith-ha)
    node-down        the pod's node dies: SIGSTOP all its processes (peers time out) and
                     its kubelet stops (no probes, restarts, status, deletes); after
                     `notReadyAfter` s (default 40) the pod is marked not Ready
    node-up          the node returns: `reboot` (default true) SIGKILLs the pod's
                     processes and the containers restart; reboot=false resumes them
    block-port / unblock-port
                     iptables DROP of TCP to podIP:port (needs root and iptables;
                     answers 501 otherwise)
Errors: 404 unknown pod/container/process, 400 bad request, 501 unsupported.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from typing import Any

from aiohttp import web

from zenith_operator import naming

from .containers import ContainerRun
from .kubelet import Kubelet
from .pod import PodWorker
from .processes import Group, ProcInfo, Reaper, scan

Obj = dict[str, Any]


class FaultError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def find_postmasters(members: dict[int, ProcInfo], table: dict[int, ProcInfo]) -> list[int]:
    out = []
    for p in members.values():
        parent = table.get(p.ppid)
        if p.comm == "postgres" and (parent is None or parent.comm != "postgres"):
            out.append(p.pid)
    return sorted(out)


def _groups(worker: PodWorker, container: str | None) -> list[tuple[ContainerRun, Group]]:
    runs = [r for r in worker.all_runs() if r.group is not None]
    if container:
        runs = [r for r in runs if r.name == container]
        if not runs:
            raise FaultError(404, f"pod {worker.name} has no running container {container!r}")
    return [(r, r.group) for r in runs if r.group is not None]


def _signal_all(pids: list[int], sig: int) -> list[int]:
    done = []
    for pid in pids:
        try:
            os.kill(pid, sig)
            done.append(pid)
        except (ProcessLookupError, PermissionError):
            pass
    return done


class Control:
    def __init__(self, kubelet: Kubelet, reaper: Reaper) -> None:
        self.kubelet = kubelet
        self.reaper = reaper
        self.rules: set[tuple[str, int]] = set()
        self._runner: web.AppRunner | None = None
        self.url = ""
        kubelet.on_release = self.unblock_ip

    async def unblock_ip(self, ip: str) -> None:
        """Lift every port block on ip (its pod is gone; the IP may be reused)."""
        for rule_ip, port in [r for r in self.rules if r[0] == ip]:
            await self._iptables("-D", rule_ip, port)
            self.rules.discard((rule_ip, port))

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/v1/pods", self._pods)
        app.router.add_post("/v1/faults", self._fault)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        for ip, port in list(self.rules):
            await self._iptables("-D", ip, port)
        if self._runner is not None:
            await self._runner.cleanup()

    # -- handlers ------------------------------------------------------------------
    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _pods(self, _: web.Request) -> web.Response:
        table = await asyncio.to_thread(scan)
        pods = []
        for w in list(self.kubelet.workers.values()):
            containers = []
            for r in w.all_runs():
                members = r.group.members(table) if r.group else {}
                containers.append(
                    {
                        "name": r.name,
                        "init": r.init,
                        "restartCount": r.restart_count,
                        "mainPid": r.group.main_pid if r.group else None,
                        "pids": sorted(members),
                        "ready": r.ready,
                        "frozen": r.frozen,
                        "state": next(iter(r.state), ""),
                        "suspended": w.suspended,
                        "log": str(w.log_dir / f"{r.name}.log"),
                    }
                )
            pods.append(
                {
                    "namespace": w.ns,
                    "name": w.name,
                    "uid": w.uid,
                    "ip": w.ip,
                    "dir": str(w.dir),
                    "stopping": w.stopping,
                    "containers": containers,
                }
            )
        return web.json_response({"pods": pods})

    async def _fault(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            result = await self.apply(body)
        except FaultError as e:
            return web.json_response({"ok": False, "error": str(e)}, status=e.status)
        except (ValueError, KeyError, TypeError) as e:
            return web.json_response({"ok": False, "error": f"bad request: {e}"}, status=400)
        return web.json_response({"ok": True, **result})

    # -- faults --------------------------------------------------------------------
    async def apply(self, body: Obj) -> Obj:
        kind = str(body["kind"])
        ns = str(body.get("namespace") or "default")
        worker = self.kubelet.find(ns, str(body["pod"]))
        if worker is None:
            raise FaultError(404, f"pod {ns}/{body['pod']} is not running on this node")
        container = body.get("container")
        await asyncio.to_thread(worker.note_shm)  # a SIGKILLed postmaster leaves its shm
        table = await asyncio.to_thread(scan)
        if kind in ("kill-processes", "kill-container"):
            if kind == "kill-container" and not container:
                raise FaultError(400, "kill-container needs 'container'")
            pids = self._pids(worker, container, table)
            return {"kind": kind, "pids": _signal_all(pids, signal.SIGKILL)}
        if kind == "kill-database":
            members = {pid: table[pid] for pid in self._pids(worker, container, table)}
            postmasters = find_postmasters(members, table)
            if not postmasters:
                raise FaultError(404, f"no postgres postmaster in pod {worker.name}")
            return {"kind": kind, "pids": _signal_all(postmasters, signal.SIGKILL)}
        if kind in ("freeze", "thaw"):
            sig = signal.SIGSTOP if kind == "freeze" else signal.SIGCONT
            for run, _ in _groups(worker, container):
                run.frozen = kind == "freeze"
            return {"kind": kind, "pids": _signal_all(self._pids(worker, container, table), sig)}
        if kind == "freeze-agent":
            name = container or naming.CONTAINER_NAME
            runs = _groups(worker, name)
            for run, _ in runs:
                run.frozen = True
            return {
                "kind": kind,
                "pids": _signal_all([g.main_pid for _, g in runs], signal.SIGSTOP),
            }
        if kind == "node-down":
            pids = self._pids(worker, None, table)
            worker.suspend(float(body.get("notReadyAfter", 40.0)))
            for run, _ in _groups(worker, None):
                run.frozen = True
            return {"kind": kind, "pids": _signal_all(pids, signal.SIGSTOP)}
        if kind == "node-up":
            pids = self._pids(worker, None, table)
            reboot = bool(body.get("reboot", True))
            done = _signal_all(pids, signal.SIGKILL if reboot else signal.SIGCONT)
            for run, _ in _groups(worker, None):
                run.frozen = False
            worker.resume()
            return {"kind": kind, "pids": done}
        if kind in ("block-port", "unblock-port"):
            port = int(body["port"])
            action = "-I" if kind == "block-port" else "-D"
            await self._iptables(action, worker.ip, port, strict=True)
            if kind == "block-port":
                self.rules.add((worker.ip, port))
            else:
                self.rules.discard((worker.ip, port))
            return {"kind": kind, "pids": [], "detail": f"{worker.ip}:{port}"}
        raise FaultError(400, f"unknown fault kind {kind!r}")

    def _pids(
        self, worker: PodWorker, container: str | None, table: dict[int, ProcInfo]
    ) -> list[int]:
        pids: set[int] = set()
        for _, group in _groups(worker, container):
            pids |= set(group.members(table))
        return sorted(pids)

    async def _iptables(self, action: str, ip: str, port: int, strict: bool = False) -> None:
        exe = shutil.which("iptables")
        if exe is None or os.geteuid() != 0:
            if strict:
                raise FaultError(501, "block-port needs iptables and root; not available here")
            return
        argv = [exe, action, "INPUT", "-d", ip, "-p", "tcp", "--dport", str(port), "-j", "DROP"]
        code = await self.reaper.run(argv, dict(os.environ), "/", 10.0)
        if code != 0 and strict:
            raise FaultError(
                501, f"iptables {action} failed (exit {code}): no NET_ADMIN capability?"
            )
