"""The HTTP layer in-process over an in-memory engine: auth, errors, busy, health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from zenith_operator.agent.auth import TokenFile
from zenith_operator.agent.config import AgentConfig
from zenith_operator.agent.core import Agent
from zenith_operator.agent.engine import EngineStatus, RunMode, always
from zenith_operator.agent.server import make_app
from zenith_operator.wire import (
    AgentStatus,
    CommandResult,
    DatabaseState,
    ErrorBody,
    HealthStatus,
    PeerAddress,
    ReplicationMode,
)

pytestmark = pytest.mark.integration

TOKEN = "tok-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class MemoryEngine:
    """Engine double: a database that is just three fields."""

    name = "memory"

    def __init__(self) -> None:
        self.data = False
        self.mode: RunMode | None = None
        self.writable_guard: Callable[[], bool] = always
        self.gate = asyncio.Event()
        self.gate.set()

    def has_data(self) -> bool:
        return self.data

    def running(self) -> bool:
        return self.mode is not None

    def writable(self) -> bool:
        return self.mode == RunMode.WRITABLE

    def process_dir(self) -> Path | None:
        return None

    def kill(self) -> bool:
        self.mode = None
        return True

    def config_hash(self) -> str | None:
        return "h1"

    def retry(self) -> None:
        return None

    async def init(self) -> None:
        self.data = True

    async def start(self, mode: RunMode, upstream: PeerAddress | None = None) -> None:
        self.mode = mode

    async def stop(self) -> None:
        self.mode = None

    async def fence(self) -> None:
        if self.mode is not None:
            self.mode = RunMode.READ_ONLY

    async def promote(self) -> None:
        self.mode = RunMode.WRITABLE

    async def follow(self, upstream: PeerAddress) -> None:
        self.data, self.mode = True, RunMode.STANDBY

    async def rebuild(self, upstream: PeerAddress) -> str:
        await self.gate.wait()
        self.data, self.mode = True, RunMode.STANDBY
        return "memory"

    async def status(self) -> EngineStatus:
        if self.mode is None:
            return EngineStatus(DatabaseState.STOPPED)
        return EngineStatus(DatabaseState.RUNNING, writable=self.mode == RunMode.WRITABLE)

    async def apply_config(self) -> tuple[str, str]:
        return "h1", "applied"

    async def set_replication_mode(self, mode: ReplicationMode, standby: str | None) -> None:
        pass


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "agent-token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
async def client(tmp_path: Path, token_file: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    config = AgentConfig(
        pod_name="p-0",
        pod_ip="127.0.0.1",
        config_dir=tmp_path / "config",
        data_dir=tmp_path / "data",
        agent_port=1,
        listen_port=2,
        replication_port=3,
        token_file=token_file,
    )
    agent = Agent(config, MemoryEngine())
    await agent.boot()
    async with TestClient(TestServer(make_app(agent, TokenFile(token_file)))) as c:
        c.agent = agent  # type: ignore[attr-defined]
        yield c
    await agent.shutdown()


async def error(resp, status: int) -> ErrorBody:  # type: ignore[no-untyped-def]
    assert resp.status == status, await resp.text()
    return ErrorBody.model_validate(await resp.json())


async def test_auth(client: TestClient, token_file: Path) -> None:  # type: ignore[type-arg]
    assert (await error(await client.get("/v1/status"), 401)).reason == "Unauthorized"
    bad = {"Authorization": "Bearer nope"}
    assert (await error(await client.get("/v1/status", headers=bad), 401)).reason == "Unauthorized"
    basic = {"Authorization": f"Basic {TOKEN}"}
    await error(await client.get("/v1/status", headers=basic), 401)
    resp = await client.get("/v1/status", headers=AUTH)
    assert resp.status == 200
    AgentStatus.model_validate(await resp.json())
    # /health needs no token
    assert (await client.get("/health")).status == 200
    # rotation: the new token is used as soon as the file changes
    token_file.write_text("tok-2-longer")
    await error(await client.get("/v1/status", headers=AUTH), 401)
    new = {"Authorization": "Bearer tok-2-longer"}
    assert (await client.get("/v1/status", headers=new)).status == 200


async def test_bad_requests(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.post("/v1/lease", data="{nope", headers=AUTH)
    assert (await error(resp, 400)).reason == "MalformedJSON"
    resp = await client.post("/v1/lease", json=[1], headers=AUTH)
    assert (await error(resp, 400)).reason == "MalformedJSON"
    body = await error(await client.post("/v1/lease", json={"ttl": -1}, headers=AUTH), 400)
    assert body.reason == "Invalid" and "field ttl" in body.message
    body = await error(
        await client.post("/v1/follow", json={"host": "h", "port": 70000}, headers=AUTH), 400
    )
    assert "field port" in body.message
    body = await error(await client.post("/v1/promote", json={}, headers=AUTH), 400)
    assert "field lease_ttl" in body.message
    body = await error(
        await client.post("/v1/replication", json={"mode": "sync"}, headers=AUTH), 400
    )
    assert "field standby_name" in body.message
    body = await error(await client.get("/v1/nope", headers=AUTH), 404)
    assert body.reason == "NotFound"
    body = await error(await client.get("/v1/promote", headers=AUTH), 405)
    assert body.reason == "MethodNotAllowed" and "POST" in body.message


async def test_commands_and_conflicts(client: TestClient) -> None:  # type: ignore[type-arg]
    # no data yet: start is a conflict, promote initialises
    assert (await error(await client.post("/v1/start", headers=AUTH), 409)).reason == "Conflict"
    resp = await client.post("/v1/promote", json={"lease_ttl": 10}, headers=AUTH)
    result = CommandResult.model_validate(await resp.json())
    assert result.changed and result.status and result.status.role == "active"
    resp = await client.post("/v1/promote", json={"lease_ttl": 10}, headers=AUTH)
    assert CommandResult.model_validate(await resp.json()).changed is False
    peer = {"host": "127.0.0.9", "port": 5432}
    await error(await client.post("/v1/follow", json=peer, headers=AUTH), 409)
    await error(await client.post("/v1/rebuild", json=peer, headers=AUTH), 409)
    resp = await client.post("/v1/lease", json={"ttl": 5}, headers=AUTH)
    assert (await resp.json())["fenced"] is False
    resp = await client.post("/v1/stop", headers=AUTH)
    assert CommandResult.model_validate(await resp.json()).changed is True
    resp = await client.post("/v1/stop", headers=AUTH)
    assert CommandResult.model_validate(await resp.json()).changed is False
    # a stopped active may follow (the switchover path)
    resp = await client.post("/v1/follow", json=peer, headers=AUTH)
    assert resp.status == 200
    body = await error(
        await client.post("/v1/replication", json={"mode": "async"}, headers=AUTH), 409
    )
    assert "active" in body.message


async def test_busy_rebuild_does_not_block_reads(client: TestClient) -> None:  # type: ignore[type-arg]
    engine: MemoryEngine = client.agent.engine  # type: ignore[attr-defined]
    engine.gate.clear()
    peer = {"host": "127.0.0.9", "port": 5432}
    rebuild = asyncio.ensure_future(client.post("/v1/rebuild", json=peer, headers=AUTH))
    for _ in range(200):
        status = AgentStatus.model_validate(
            await (await client.get("/v1/status", headers=AUTH)).json()
        )
        if status.busy == "rebuild":
            break
        await asyncio.sleep(0.01)
    assert status.busy == "rebuild"
    assert (await client.get("/health")).status == 200
    resp = await client.post("/v1/stop", headers=AUTH)
    body = await error(resp, 503)
    assert body.reason == "Busy" and "rebuild" in body.message
    assert (await client.post("/v1/lease", json={"ttl": 5}, headers=AUTH)).status == 200
    engine.gate.set()
    assert (await rebuild).status == 200


async def test_health(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/health?ready=1")
    health = HealthStatus.model_validate(await resp.json())
    assert resp.status == 503 and health.alive and not health.ready
    await client.post("/v1/promote", json={"lease_ttl": 10}, headers=AUTH)
    assert (await client.get("/health?ready=1")).status == 200
    client.agent.last_tick -= 60  # type: ignore[attr-defined]  # a wedged loop
    client.agent._watcher.cancel()  # type: ignore[attr-defined]
    resp = await client.get("/health")
    health = HealthStatus.model_validate(await resp.json())
    assert resp.status == 503 and not health.alive


async def test_health_answers_from_memory_even_when_the_engine_hangs(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    """/health is cheap and bounded: no engine query per request, and an agent whose
    engine does not answer (busy, slow) still looks alive."""
    agent: Agent = client.agent  # type: ignore[attr-defined]
    engine: MemoryEngine = agent.engine  # type: ignore[assignment]
    calls = 0
    hang = asyncio.Event()
    real_status = engine.status

    async def counted() -> EngineStatus:
        nonlocal calls
        calls += 1
        await hang.wait()
        return await real_status()

    engine.status = counted  # type: ignore[method-assign]
    health = asyncio.gather(*(client.get("/health") for _ in range(200)))
    answers = await asyncio.wait_for(health, 5)
    assert [r.status for r in answers] == [200] * 200
    assert calls <= 1, "at most the agent's own refresh reads the engine"
    reads = [asyncio.ensure_future(client.get("/v1/status", headers=AUTH)) for _ in range(20)]
    await asyncio.sleep(0.1)
    assert calls <= 1, "concurrent /v1/status calls share one engine read"
    hang.set()
    assert {r.status for r in await asyncio.gather(*reads)} == {200}
