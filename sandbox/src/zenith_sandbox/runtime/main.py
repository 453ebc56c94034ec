"""`zenith-operator runtime`: the local pod runtime of the sandbox.

One asyncio loop. Watches (pods, statefulsets, PVCs, PVs; resumed from the last
resourceVersion, relisted on 410 or error) only wake the reconcile pass; each pass
lists the objects afresh, so a lost event costs at most one resync period. A pass:
node heartbeat, bind unscheduled pods, provision PVCs, run the StatefulSet controller,
then hand the pods on this node to the kubelet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from .control import Control
from .kube import PODS, PVCS, PVS, STATEFULSETS, Kind, Kube, KubeError
from .kubelet import SESSIONS_FILE, Kubelet
from .node import Node
from .processes import Reaper, reap_leftovers, set_child_subreaper
from .statefulsets import StatefulSetController

Obj = dict[str, Any]
log = logging.getLogger("zenith.sandbox.runtime")

RESYNC_SECONDS = 1.0
HEARTBEAT_SECONDS = 10.0
STATE_FILE = "runtime.json"


def api_client(kubeconfig: str | None) -> k8s.ApiClient:
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig, client_configuration=configuration
    )
    configuration.connection_pool_maxsize = 32
    return k8s.ApiClient(configuration)


class Runtime:
    def __init__(
        self,
        api: k8s.ApiClient,
        state_dir: Path,
        node_name: str = "sandbox-node",
        namespaces: list[str] | None = None,
        control_port: int = 0,
        statefulsets: bool = True,
        scheduler: bool = True,
        provisioner: bool = True,
        shutdown_grace: float = 5.0,
        kubeconfig: str | None = None,
    ) -> None:
        self.kube = Kube(api)
        # recorded in runtime.json, so `sandbox fault delete-pod` finds the same API server
        self.kubeconfig = str(Path(kubeconfig).resolve()) if kubeconfig else None
        self.state_dir = state_dir.resolve()
        self.namespaces: list[str | None] = list(namespaces) if namespaces else [None]
        self.node = Node(self.kube, node_name, self.state_dir)
        self.reaper = Reaper()
        self.kubelet = Kubelet(self.kube, self.node, self.state_dir, self.reaper)
        self.sts = StatefulSetController(self.kube)
        self.control = Control(self.kubelet, self.reaper)
        self.control_port = control_port
        self.features = {
            "statefulsets": statefulsets,
            "scheduler": scheduler,
            "provisioner": provisioner,
        }
        self.shutdown_grace = shutdown_grace
        self._wake = asyncio.Event()
        self._stop_watch = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- watches -------------------------------------------------------------------
    def _wake_threadsafe(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _watch_thread(self, kind: Kind, namespace: str | None) -> None:
        rv = ""
        while not self._stop_watch.is_set():
            try:
                if not rv:
                    _, rv = self.kube.list(kind, namespace)
                    self._wake_threadsafe()
                for etype, obj in self.kube.watch(kind, namespace, rv, timeout_seconds=30):
                    if etype == "ERROR":
                        rv = ""  # 410 Gone: relist
                        break
                    rv = str((obj.get("metadata") or {}).get("resourceVersion", rv))
                    if etype != "BOOKMARK":
                        self._wake_threadsafe()
                    if self._stop_watch.is_set():
                        return
            except Exception as e:  # API restarting, network: relist after a pause
                if isinstance(e, KubeError) and e.status == 410:
                    rv = ""
                else:
                    log.debug("watch %s: %r", kind.plural, e)
                    rv = ""
                    self._stop_watch.wait(1.0)

    def _start_watches(self) -> None:
        kinds = [PODS, PVCS, STATEFULSETS]
        for kind in kinds:
            for ns in self.namespaces:
                threading.Thread(
                    target=self._watch_thread,
                    args=(kind, ns),
                    daemon=True,
                    name=f"watch-{kind.plural}-{ns or 'all'}",
                ).start()
        threading.Thread(
            target=self._watch_thread, args=(PVS, None), daemon=True, name="watch-pvs"
        ).start()

    # -- reconcile -----------------------------------------------------------------
    async def _list(self, kind: Kind) -> list[Obj]:
        if not kind.namespaced:
            items, _ = await asyncio.to_thread(self.kube.list, kind, None)
            return items
        out: list[Obj] = []
        for ns in self.namespaces:
            items, _ = await asyncio.to_thread(self.kube.list, kind, ns)
            out += items
        return out

    async def reconcile_once(self) -> None:
        """One pass; a stage that fails is reported and the later stages still run (a
        bad object must never stop the node for everyone)."""
        pods = await self._list(PODS)
        if self.features["scheduler"]:
            await self._stage("scheduler", self.node.bind(pods))
        pvcs = await self._list(PVCS)
        if self.features["provisioner"]:
            await self._stage("provisioner", self.node.provision(pvcs, await self._list(PVS)))
        if self.features["statefulsets"]:
            sets = await self._list(STATEFULSETS)
            await self._stage("statefulsets", self.sts.reconcile(sets, pods, pvcs))
        pods = await self._list(PODS)  # with this pass's bindings
        self.kubelet.sync(pods)

    @staticmethod
    async def _stage(name: str, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("%s stage failed: %r", name, e)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        set_child_subreaper()
        blocked = [
            p
            for p in (self.state_dir, *self.state_dir.parents)
            if p.exists() and not p.stat().st_mode & 0o001
        ]
        if blocked:
            log.warning(
                "%s is not traversable by other users: processes that drop root "
                "(PostgreSQL as `postgres`) cannot reach pod and volume directories "
                "below %s",
                blocked[-1],
                self.state_dir,
            )
        leftovers = reap_leftovers(self.state_dir / SESSIONS_FILE)
        if leftovers:
            log.warning("killed %d processes left by a previous runtime", leftovers)
        self.reaper.start()
        url = await self.control.start(self.control_port)
        (self.state_dir / STATE_FILE).write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "control": url,
                    "node": self.node.name,
                    "kubeconfig": self.kubeconfig,
                }
            )
        )
        log.info("runtime: node %s, control %s, state %s", self.node.name, url, self.state_dir)
        self._start_watches()
        last_heartbeat = 0.0
        try:
            while not stop.is_set():
                self._wake.clear()  # events from here on trigger the next pass
                try:
                    if time.monotonic() - last_heartbeat > HEARTBEAT_SECONDS:
                        await self.node.register()
                        last_heartbeat = time.monotonic()
                    await self.reconcile_once()
                except Exception as e:  # the loop never dies: report and resync
                    log.warning("reconcile pass failed: %r", e)
                    await asyncio.sleep(0.5)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wait_any(stop), RESYNC_SECONDS)
                await asyncio.sleep(0.05)  # coalesce event bursts
        finally:
            await self.shutdown()

    async def _wait_any(self, stop: asyncio.Event) -> None:
        waits = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def shutdown(self) -> None:
        log.info("runtime: shutting down, stopping %d pods", len(self.kubelet.workers))
        self._stop_watch.set()
        await self.kubelet.shutdown(self.shutdown_grace)
        await self.control.stop()
        self.reaper.reap_now()
        await self.reaper.stop()
        reap_leftovers(self.state_dir / SESSIONS_FILE)  # normally nothing is left
        with contextlib.suppress(OSError):
            (self.state_dir / STATE_FILE).unlink()


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="zenith-operator runtime",
        description="local pod runtime: StatefulSet controller, "
        "scheduler, volume provisioner and kubelet on 127.0.0.N",
    )
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    p.add_argument("--state-dir", default=".sandbox")
    p.add_argument("--node-name", default="sandbox-node")
    p.add_argument(
        "--namespace",
        action="append",
        dest="namespaces",
        help="watch only this namespace (repeatable; default: all)",
    )
    p.add_argument("--control-port", type=int, default=0)
    p.add_argument(
        "--shutdown-grace",
        type=float,
        default=5.0,
        help="seconds each container gets after SIGTERM when the runtime stops",
    )
    p.add_argument(
        "--no-statefulsets", action="store_true", help="a kube-controller-manager runs StatefulSets"
    )
    p.add_argument("--no-scheduler", action="store_true", help="a scheduler binds pods")
    p.add_argument("--no-provisioner", action="store_true", help="PVCs are bound by others")
    p.add_argument("--log-level", default=os.environ.get("ZENITH_LOG_LEVEL", "INFO"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv or [])
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    runtime = Runtime(
        api_client(args.kubeconfig),
        Path(args.state_dir),
        args.node_name,
        args.namespaces,
        args.control_port,
        not args.no_statefulsets,
        not args.no_scheduler,
        not args.no_provisioner,
        args.shutdown_grace,
        args.kubeconfig,
    )

    async def amain() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await runtime.run(stop)

    asyncio.run(amain())
    return 0
