"""Benchmark double of the zenith agent (NOT the product's agent): `make bench-scale`.

One process serves many agents, each on its own loopback address and the same port,
speaking the real wire protocol (zenith_operator.wire) over HTTP. Each cluster is a
pair with a tiny model (an active that serves, a standby that follows it in sync); the
double records when each agent was polled and every command it received, so the
benchmark can measure poll jitter and the reaction to a crash from outside the operator.

    python bench/agent_double.py --hosts-file HOSTS --port P --control-port C

HOSTS: one line per agent, "CLUSTER POD IP". Control API on 127.0.0.1:C:
    POST /crash {"cluster"}        the active reports database=crashed (answers the time)
    POST /blackhole {"clusters"}   those clusters' agents accept connections, never answer
    GET  /stats                    polls and commands per agent (unix times)
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from zenith_operator.wire import (
    AgentStatus,
    CommandResult,
    DatabaseState,
    LeaseResponse,
    PeerReplication,
    ReplicationStatus,
    Role,
)


@dataclass
class Agent:
    cluster: str
    pod: str
    ip: str
    role: Role = Role.NONE
    database: DatabaseState = DatabaseState.STOPPED
    timeline: int = 0
    upstream: str | None = None
    mode: str = "async"
    sync_standby: str | None = None
    lease_until: float = 0.0
    blackhole: bool = False
    polls: list[float] = field(default_factory=list)  # unix time of each GET /status
    commands: list[tuple[float, str]] = field(default_factory=list)


class Doubles:
    def __init__(self, hosts: list[tuple[str, str, str]], port: int) -> None:
        self.port = port
        self.by_ip = {ip: Agent(c, p, ip) for c, p, ip in hosts}
        self.by_cluster: dict[str, list[Agent]] = {}
        for a in self.by_ip.values():
            self.by_cluster.setdefault(a.cluster, []).append(a)
        self.hang = asyncio.Event()  # never set: black-holed requests wait forever

    def peer(self, a: Agent) -> Agent | None:
        return next((b for b in self.by_cluster[a.cluster] if b is not a), None)

    def report(self, a: Agent) -> AgentStatus:
        peer = self.peer(a)
        peers = []
        streaming = (
            peer is not None
            and peer.role == Role.STANDBY
            and peer.upstream == a.pod
            and a.database == DatabaseState.RUNNING
        )
        if a.role == Role.ACTIVE and peer is not None and streaming:
            sync = a.mode == "sync" and a.sync_standby == peer.pod
            peers.append(PeerReplication(name=peer.pod, streaming=True, sync=sync, lag_bytes=0))
        receiving = (
            a.role == Role.STANDBY
            and peer is not None
            and peer.role == Role.ACTIVE
            and peer.database == DatabaseState.RUNNING
        )
        fenced = a.role == Role.ACTIVE and time.monotonic() > a.lease_until
        return AgentStatus(
            pod=a.pod,
            role=a.role,
            database=a.database,
            fenced=fenced,
            timeline=a.timeline or None,
            position=1000 * a.timeline if a.timeline else None,
            replication=ReplicationStatus(
                mode=a.mode if a.role == Role.ACTIVE else None,  # type: ignore[arg-type]
                sync_standby=a.sync_standby if a.role == Role.ACTIVE else None,
                peers=peers,
                upstream_host=peer.ip if a.role == Role.STANDBY and peer else None,
                upstream_port=self.port if a.role == Role.STANDBY else None,
                receiving=receiving,
            ),
            lease_remaining=max(0.0, a.lease_until - time.monotonic())
            if a.role == Role.ACTIVE
            else None,
            agent_version="bench-double",
            engine="bench-double",
        )

    def apply(self, a: Agent, command: str, body: dict[str, Any]) -> None:
        if command == "promote":
            a.timeline = max(x.timeline for x in self.by_cluster[a.cluster]) + 1
            a.role, a.database, a.upstream = Role.ACTIVE, DatabaseState.RUNNING, None
            a.mode, a.sync_standby = "async", None
            a.lease_until = time.monotonic() + float(body["lease_ttl"])
        elif command in ("follow", "rebuild"):
            up = next(x for x in self.by_cluster[a.cluster] if x.pod == body["name"])
            a.role, a.upstream, a.database = Role.STANDBY, up.pod, DatabaseState.RUNNING
            a.timeline = up.timeline
        elif command == "replication":
            a.mode, a.sync_standby = body["mode"], body.get("standby_name")
        elif command == "stop":
            a.database = DatabaseState.STOPPED
        elif command == "start":
            a.database = DatabaseState.RUNNING

    # ------------------------------------------------------------------ HTTP
    async def _agent(self, request: web.Request) -> Agent:
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        a = self.by_ip[sock[0]] if sock else None
        if a is None:
            raise web.HTTPNotFound()
        if a.blackhole:
            await self.hang.wait()
        return a

    async def status(self, request: web.Request) -> web.Response:
        a = await self._agent(request)
        a.polls.append(time.time())
        return web.json_response(self.report(a).model_dump(mode="json"))

    async def lease(self, request: web.Request) -> web.Response:
        a = await self._agent(request)
        ttl = float((await request.json())["ttl"])
        a.lease_until = time.monotonic() + ttl
        return web.json_response(LeaseResponse(remaining=ttl, fenced=False).model_dump())

    async def command(self, request: web.Request) -> web.Response:
        a = await self._agent(request)
        name = request.path.rsplit("/", 1)[1]
        body = await request.json() if request.can_read_body else {}
        a.commands.append((time.time(), name))
        self.apply(a, name, body or {})
        result = CommandResult(changed=True, message=name, status=self.report(a))
        return web.json_response(result.model_dump(mode="json"))

    # ------------------------------------------------------------------ control
    async def crash(self, request: web.Request) -> web.Response:
        cluster = (await request.json())["cluster"]
        active = next(a for a in self.by_cluster[cluster] if a.role == Role.ACTIVE)
        active.database = DatabaseState.CRASHED
        return web.json_response({"at": time.time(), "pod": active.pod})

    async def blackhole(self, request: web.Request) -> web.Response:
        for cluster in (await request.json())["clusters"]:
            for a in self.by_cluster[cluster]:
                a.blackhole = True
        return web.json_response({"ok": True})

    async def stats(self, _: web.Request) -> web.Response:
        out = {
            a.pod: {"cluster": a.cluster, "polls": a.polls, "commands": a.commands}
            for a in self.by_ip.values()
        }
        return web.json_response(out)


async def serve(hosts: list[tuple[str, str, str]], port: int, control_port: int) -> None:
    doubles = Doubles(hosts, port)
    app = web.Application()
    app.router.add_get("/v1/status", doubles.status)
    app.router.add_post("/v1/lease", doubles.lease)
    for command in ("promote", "follow", "rebuild", "replication", "stop", "start"):
        app.router.add_post(f"/v1/{command}", doubles.command)
    runner = web.AppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    for ip in doubles.by_ip:
        await web.TCPSite(runner, ip, port, reuse_address=True, backlog=64).start()
    control = web.Application()
    control.router.add_post("/crash", doubles.crash)
    control.router.add_post("/blackhole", doubles.blackhole)
    control.router.add_get("/stats", doubles.stats)
    crunner = web.AppRunner(control, access_log=None)
    await crunner.setup()
    await web.TCPSite(crunner, "127.0.0.1", control_port).start()
    print("doubles ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--hosts-file", type=Path, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--control-port", type=int, required=True)
    args = p.parse_args()
    hosts = [
        (c, pod, ip)
        for c, pod, ip in (line.split() for line in args.hosts_file.read_text().splitlines())
    ]
    asyncio.run(serve(hosts, args.port, args.control_port))


if __name__ == "__main__":
    main()
