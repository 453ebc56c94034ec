"""A Kubernetes API server emulator on localhost (aiohttp), faithful for what we use.

srv = ApiServer(host="127.0.0.1", port=0)
srv.start()                 # background thread with its own loop
srv.write_kubeconfig(path)
srv.stop()
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from .crds import CrdManager
from .endpoints import EndpointsController
from .gc import Collector
from .protection import StorageProtection
from .pvcresize import PvcResize
from .resources import Registry
from .rest import Api, Ctx
from .rootca import RootCAPublisher
from .rules import RULES
from .server import App
from .storage import Store

__all__ = ["ApiServer"]

BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class ApiServer:
    """The emulator; serve it from a thread (`start`) or inside a loop (`start_async`)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        history_size: int = 1000,
        bookmark_interval: float = 60.0,
        storage_protection: bool = True,
        tokens: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.store = Store(history_size=history_size)
        self.registry = Registry()
        self.api = Api(self.store, self.registry)
        self.collector = Collector(self.api)
        self.crds = CrdManager(self.api)
        self.api.prepare_hooks.update(RULES)
        self.endpoints = EndpointsController(self.api)
        if storage_protection:  # pvc-protection / pv-protection finalizers, as kube adds
            self.protection = StorageProtection(self.api)
        self.pvc_resize = PvcResize(self.api)  # PVC update rules and resize admission
        self.root_ca = RootCAPublisher(self.api)  # kube-root-ca.crt in every namespace
        # tokens: static bearer token -> user name (RBAC applies); other tokens are admin
        self.app = App(self.api, bookmark_interval, tokens)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bootstrapped = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _bootstrap(self) -> None:
        if self._bootstrapped:
            return
        self._bootstrapped = True
        ns = self.registry.get("", "v1", "namespaces")
        assert ns is not None
        for name in BOOTSTRAP_NAMESPACES:
            self.api.create(ns, "", {"metadata": {"name": name}}, Ctx())

    async def start_async(self) -> None:
        """Listen on the running loop (returns once the socket is bound)."""
        self._loop = asyncio.get_running_loop()
        self._bootstrap()
        self._runner = web.AppRunner(self.app.web, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server  # the bound socket tells us the port when port=0
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        self.app.address = f"{self.host}:{self.port}"

    async def stop_async(self) -> None:
        self.store.close_watchers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> None:
        """Serve from a background thread with its own event loop."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as e:
                errors.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=run, name="zenith-apiserver", daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            raise errors[0]

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None

    def pause(self) -> None:
        """New requests hang until `resume` (watch streams stay open, idle)."""
        self.call(self.app.pause)

    def resume(self) -> None:
        self.call(self.app.resume)

    def call(self, fn: Any) -> Any:
        """Run `fn()` on the server's loop thread and return its result (for tests)."""
        assert self._loop is not None
        if self._thread is None:
            return fn()

        async def wrapper() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(10)

    def kubeconfig(self) -> dict[str, Any]:
        name = "zenith-sandbox"
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": name, "cluster": {"server": self.url, "insecure-skip-tls-verify": True}}
            ],
            "users": [{"name": name, "user": {"token": "zenith-sandbox-token"}}],
            "contexts": [
                {"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}
            ],
            "current-context": name,
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.kubeconfig(), sort_keys=False))
        return path
