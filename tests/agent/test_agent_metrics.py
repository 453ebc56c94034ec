"""The agent's /metrics: what it shows from the agent's state, on its own port."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from zenith_operator.agent import metrics
from zenith_operator.agent.config import ConfigError, load_config
from zenith_operator.agent.engine import EngineStatus
from zenith_operator.agent.lease import Lease
from zenith_operator.wire import DatabaseState, PeerReplication, ReplicationStatus, Role


def fake_agent(role: Role, es: EngineStatus | None, lease: Lease | None = None) -> Any:
    """The attributes AgentCollector reads, nothing else."""
    return SimpleNamespace(
        state=SimpleNamespace(role=role),
        fenced=False,
        lease=lease or Lease(),
        engine=SimpleNamespace(name="postgres"),
        engine_snapshot=lambda: (es, time.monotonic()),
    )


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


async def scrape(agent: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with TestClient(TestServer(metrics.make_metrics_app(agent))) as client:
        resp = await client.get("/metrics")
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        return values(await resp.text())


async def test_an_active_shows_role_lease_positions_and_its_standby_lag() -> None:
    lease = Lease()
    lease.grant(4.0, "test")
    peer = PeerReplication(name="pair-1", streaming=True, sync=True, lag_bytes=128,
                           lag_seconds=None)  # fmt: skip
    es = EngineStatus(
        DatabaseState.RUNNING, writable=True, timeline=3, position=5000,
        replication=ReplicationStatus(mode="sync", peers=[peer]), engine_version="15",
    )  # fmt: skip
    v = await scrape(fake_agent(Role.ACTIVE, es, lease))
    assert v[("zenith_agent_role", (("role", "active"),))] == 1
    assert v[("zenith_agent_role", (("role", "standby"),))] == 0
    assert v[("zenith_agent_database_state", (("state", "running"),))] == 1
    assert v[("zenith_agent_fenced", ())] == 0
    assert 3.0 < v[("zenith_agent_lease_remaining_seconds", ())] <= 4.0
    assert v[("zenith_agent_timeline", ())] == 3
    assert v[("zenith_agent_wal_position_bytes", ())] == 5000
    assert v[("zenith_agent_replication_lag_bytes", (("standby", "pair-1"),))] == 128
    # streaming and caught up: PostgreSQL's replay_lag is NULL, shown as 0
    assert v[("zenith_agent_replication_lag_seconds", (("standby", "pair-1"),))] == 0
    assert v[("zenith_agent_replication_sync", (("standby", "pair-1"),))] == 1
    assert ("zenith_agent_operation_duration_seconds_count", (("operation", "clone"),)) in v


async def test_a_standby_before_its_first_status_read_shows_no_secret_and_no_lease() -> None:
    v = await scrape(fake_agent(Role.STANDBY, None))
    assert v[("zenith_agent_database_state", (("state", "unknown"),))] == 1
    assert ("zenith_agent_lease_remaining_seconds", ()) not in v
    assert not any("token" in name or "password" in name for name, _ in v)


async def test_operation_durations_are_recorded() -> None:
    metrics.operation("rewind", 0.7)
    v = await scrape(fake_agent(Role.STANDBY, None))
    assert v[("zenith_agent_operation_duration_seconds_count", (("operation", "rewind"),))] >= 1


def test_metrics_port_from_the_environment(tmp_path: Any) -> None:
    env = {"POD_NAME": "p-0", "ZENITH_CONFIG_DIR": str(tmp_path)}
    assert load_config(env, token_given=True).metrics_port is None
    assert load_config({**env, "ZENITH_METRICS_PORT": "0"}, token_given=True).metrics_port is None
    assert (
        load_config({**env, "ZENITH_METRICS_PORT": "8009"}, token_given=True).metrics_port == 8009
    )
    try:
        load_config({**env, "ZENITH_METRICS_PORT": "x"}, token_given=True)
    except ConfigError as exc:
        assert "ZENITH_METRICS_PORT" in str(exc)
    else:
        raise AssertionError("a bad port must be refused")
