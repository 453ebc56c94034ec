"""Fake agents at the HTTP level (wire protocol v1) with controllable state.

`FakePair` serves one agent per loopback address (127.0.0.2, 127.0.0.3, ...) on the
same port, in a background thread. The agents share a tiny replication model: a standby
streams while it follows a running active; the active reports it as a peer, `sync` when
the active's mode is sync with that standby. The active's lease is real: it fences
itself when the lease runs out (checked on every request and by a ticker).

Faults: `partition(name)` (the operator's connections are cut; the database keeps
running, so only the lease stops it), `crash(name)` (agent and database down),
`revive(name)` (agent back; an active comes back fenced).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from zenith_operator.wire import (
    AgentStatus,
    CommandResult,
    DatabaseState,
    ErrorBody,
    LeaseResponse,
    PeerReplication,
    ReplicationStatus,
    Role,
)


@dataclass
class FakeAgent:
    name: str
    host: str
    role: Role = Role.NONE
    running: bool = False
    fenced: bool = False
    alive: bool = True
    reachable: bool = True
    timeline: int = 0
    position: int = 0
    upstream: str | None = None
    mode: str = "async"
    sync_standby: str | None = None
    lease_until: float | None = None
    tokens: set[str] = field(default_factory=set)
    calls: list[tuple[float, str]] = field(default_factory=list)
    command_delay: float = 0.0  # seconds each command takes before it is applied

    @property
    def writable(self) -> bool:
        return self.alive and self.role == Role.ACTIVE and self.running and not self.fenced

    def count(self, command: str) -> int:
        return sum(1 for _, c in self.calls if c == command)

    def first(self, command: str) -> float | None:
        return next((t for t, c in self.calls if c == command), None)


AGENT = web.AppKey("agent", FakeAgent)


class FakePair:
    def __init__(self, names: list[str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.agents = {n: FakeAgent(n, f"127.0.0.{i + 2}") for i, n in enumerate(names)}
        self.lock = threading.RLock()
        self.fence_log: list[tuple[str, float]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runners: list[web.AppRunner] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakePair:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        for agent in self.agents.values():
            app = web.Application()
            app[AGENT] = agent
            app.router.add_get("/v1/status", self._status)
            app.router.add_post("/v1/lease", self._lease)
            for command in ("promote", "follow", "rebuild", "replication", "stop", "start"):
                app.router.add_post(f"/v1/{command}", self._command)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, agent.host, self.port, reuse_address=True).start()
            self._runners.append(runner)

    def stop(self) -> None:
        async def down() -> None:
            for r in self._runners:
                await r.cleanup()

        asyncio.run_coroutine_threadsafe(down(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # ------------------------------------------------------------------ faults / writes
    def partition(self, name: str) -> None:
        with self.lock:
            self.agents[name].reachable = False

    def heal(self, name: str) -> None:
        with self.lock:
            self.agents[name].reachable = True

    def crash(self, name: str) -> None:
        with self.lock:
            a = self.agents[name]
            a.alive, a.running, a.lease_until = False, False, None

    def revive(self, name: str) -> None:
        with self.lock:
            a = self.agents[name]
            a.alive, a.reachable = True, True
            if a.role == Role.ACTIVE:
                a.fenced = True  # no lease survives a restart
            a.running = a.timeline > 0

    def write(self, n: int = 100) -> None:
        """A client commits n bytes on the writable active, if any."""
        with self.lock:
            self._tick()
            for a in self.agents.values():
                if a.writable:
                    a.position += n
            self._replicate()

    # ------------------------------------------------------------------ model
    def _tick(self) -> None:
        now = time.monotonic()
        for a in self.agents.values():
            expired = a.lease_until is not None and now > a.lease_until
            if a.role == Role.ACTIVE and a.running and not a.fenced and expired:
                a.fenced = True
                self.fence_log.append((a.name, now))

    def _streaming(self, s: FakeAgent) -> FakeAgent | None:
        if not (s.alive and s.running and s.role == Role.STANDBY and s.upstream):
            return None
        up = self.agents.get(s.upstream)
        if up is None or not (up.alive and up.running and up.role == Role.ACTIVE):
            return None
        if s.timeline > up.timeline:
            return None
        return up

    def _replicate(self) -> None:
        for s in self.agents.values():
            up = self._streaming(s)
            if up is not None:
                s.position, s.timeline = up.position, up.timeline

    def report(self, a: FakeAgent) -> AgentStatus:
        peers = []
        if a.role == Role.ACTIVE:
            for s in self.agents.values():
                if s is not a and self._streaming(s) is a:
                    sync = a.mode == "sync" and a.sync_standby == s.name
                    peers.append(
                        PeerReplication(name=s.name, streaming=True, sync=sync, lag_bytes=0)
                    )
        up = self.agents.get(a.upstream or "")
        remaining = None
        if a.role == Role.ACTIVE and a.lease_until is not None:
            remaining = max(0.0, a.lease_until - time.monotonic())
        return AgentStatus(
            pod=a.name,
            role=a.role,
            database=DatabaseState.RUNNING if a.running else DatabaseState.STOPPED,
            fenced=a.fenced,
            timeline=a.timeline or None,
            position=a.position if a.timeline else None,
            replication=ReplicationStatus(
                mode=a.mode if a.role == Role.ACTIVE else None,
                sync_standby=a.sync_standby if a.role == Role.ACTIVE else None,
                peers=peers,
                upstream_host=up.host if up else None,
                upstream_port=self.port if up else None,
                receiving=self._streaming(a) is not None,
            ),
            lease_remaining=remaining,
            agent_version="fake",
            engine="fake",
        )

    # ------------------------------------------------------------------ HTTP
    def _gate(self, request: web.Request) -> FakeAgent:
        a: FakeAgent = request.app[AGENT]
        if not (a.alive and a.reachable):
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPServiceUnavailable()
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or len(auth) < 10:
            raise web.HTTPUnauthorized(
                text=ErrorBody(reason="Unauthorized", message="no token").model_dump_json(),
                content_type="application/json",
            )
        a.tokens.add(auth.removeprefix("Bearer "))
        return a

    async def _status(self, request: web.Request) -> web.Response:
        a = self._gate(request)
        with self.lock:
            self._tick()
            self._replicate()
            return web.json_response(self.report(a).model_dump(mode="json"))

    async def _lease(self, request: web.Request) -> web.Response:
        a = self._gate(request)
        body = await request.json()
        with self.lock:
            self._tick()
            a.calls.append((time.monotonic(), "lease"))
            a.lease_until = time.monotonic() + float(body["ttl"])
            resp = LeaseResponse(remaining=float(body["ttl"]), fenced=a.fenced)
            return web.json_response(resp.model_dump(mode="json"))

    async def _command(self, request: web.Request) -> web.Response:
        a = self._gate(request)
        command = request.path.rsplit("/", 1)[1]
        body: dict[str, Any] = await request.json() if request.can_read_body else {}
        if a.command_delay:
            await asyncio.sleep(a.command_delay)
        with self.lock:
            self._tick()
            a.calls.append((time.monotonic(), command))
            conflict = self._apply(a, command, body or {})
            if conflict:
                err = ErrorBody(reason="Conflict", message=conflict)
                return web.json_response(err.model_dump(mode="json"), status=409)
            self._replicate()
            result = CommandResult(changed=True, message=command, status=self.report(a))
            return web.json_response(result.model_dump(mode="json"))

    def _apply(self, a: FakeAgent, command: str, body: dict[str, Any]) -> str | None:
        now = time.monotonic()
        if command == "promote":
            for other in self.agents.values():
                if other is not a and other.writable:
                    raise AssertionError(f"promote {a.name} while {other.name} is writable")
            if not a.writable:
                a.timeline = max(x.timeline for x in self.agents.values()) + 1
            a.role, a.fenced, a.running, a.upstream = Role.ACTIVE, False, True, None
            a.mode, a.sync_standby = "async", None
            a.lease_until = now + float(body["lease_ttl"])
        elif command in ("follow", "rebuild"):
            if a.writable:
                return "a writable active cannot follow"
            up = self.agents[body["name"]]
            if command == "rebuild" or a.timeline == 0:
                a.position, a.timeline = up.position, up.timeline
            a.role, a.upstream, a.fenced, a.running = Role.STANDBY, up.name, False, True
            a.lease_until, a.mode, a.sync_standby = None, "async", None
        elif command == "replication":
            if a.role != Role.ACTIVE:
                return "replication mode is set on the active"
            a.mode, a.sync_standby = body["mode"], body.get("standby_name")
        elif command == "stop":
            a.running = False
        elif command == "start":
            a.running = a.timeline > 0
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
