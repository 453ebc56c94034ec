"""The agent's Prometheus metrics, served on a port of their own without authentication.

`GET /metrics` on `$ZENITH_METRICS_PORT` (the pod port `agent-metrics`, 8009 by default; unset
or 0: not served). It shows no secret: roles, states, positions, lag, lease and command
durations only, read from what the agent already holds (the engine status it refreshes
every second), so a scrape never queries the database, as `/health` does not. Bearer
tokens stay on the agent port: Prometheus needs no per-cluster Secret.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

import structlog
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from zenith_operator import __version__
from zenith_operator.agent.engine import EngineStatus
from zenith_operator.wire import DatabaseState, Role

if TYPE_CHECKING:
    from zenith_operator.agent.engine import Engine
    from zenith_operator.agent.lease import Lease


class _State(Protocol):
    role: Role


class Agent(Protocol):
    """What the collector reads of the agent (agent/core.py's Agent)."""

    engine: Engine
    lease: Lease
    fenced: bool

    @property
    def state(self) -> _State: ...

    def engine_snapshot(self) -> tuple[EngineStatus | None, float]: ...


__all__ = ["AgentCollector", "disable_created_metrics", "make_metrics_app", "operation"]
log = structlog.get_logger("zenith.agent.metrics")

REGISTRY = CollectorRegistry()
OPERATIONS = Histogram(
    "zenith_agent_operation_duration_seconds",
    "Duration of the agent's long operations: promote (the engine's), rewind, clone",
    ["operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
for _op in ("promote", "rewind", "clone"):
    OPERATIONS.labels(_op)  # every series from the start, at 0


def operation(name: str, seconds: float) -> None:
    """Record one promote / rewind / clone."""
    OPERATIONS.labels(name).observe(seconds)


def _gauge(name: str, text: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, labels=list(labels))


class AgentCollector(Collector):
    """The agent's state at scrape time (no I/O)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        a = self.agent
        es, read_at = a.engine_snapshot()
        info = _gauge("zenith_agent_info", "Agent build and engine", ("version", "engine",
                      "engine_version"))  # fmt: skip
        info.add_metric([__version__, a.engine.name, (es.engine_version if es else None) or ""], 1)
        role = _gauge("zenith_agent_role", "1 for the instance's role", ("role",))
        for r in Role:
            role.add_metric([r.value], 1.0 if a.state.role == r else 0.0)
        db = _gauge("zenith_agent_database_state", "1 for the database's state", ("state",))
        for s in DatabaseState:
            current = es.database if es else DatabaseState.UNKNOWN
            db.add_metric([s.value], 1.0 if current == s else 0.0)
        fenced = _gauge("zenith_agent_fenced", "1 while an active is fenced (read-only)")
        fenced.add_metric([], 1.0 if a.fenced else 0.0)
        yield from (info, role, db, fenced)
        remaining = a.lease.remaining()
        if a.state.role == Role.ACTIVE and remaining is not None:
            lease = _gauge("zenith_agent_lease_remaining_seconds", "Seconds before the active "
                           "fences itself (agent clock)")  # fmt: skip
            lease.add_metric([], remaining)
            yield lease
        age = _gauge("zenith_agent_status_age_seconds", "Age of the engine status shown here")
        age.add_metric([], time.monotonic() - read_at if es else float("inf"))
        yield age
        if es is not None:
            yield from _engine(es)


def _engine(es: EngineStatus) -> Iterator[Metric]:
    if es.timeline is not None:
        tl = _gauge("zenith_agent_timeline", "Database timeline")
        tl.add_metric([], es.timeline)
        yield tl
    if es.position is not None:
        pos = _gauge("zenith_agent_wal_position_bytes", "Active: WAL write position; "
                     "standby: last replayed position")  # fmt: skip
        pos.add_metric([], es.position)
        yield pos
    repl = es.replication
    if repl.received_position is not None:
        rcv = _gauge("zenith_agent_wal_received_position_bytes", "Standby: WAL received")
        rcv.add_metric([], repl.received_position)
        yield rcv
    if not repl.peers:
        return
    labels = ("standby",)
    streaming = _gauge("zenith_agent_replication_streaming", "Active: 1 while the standby "
                       "streams", labels)  # fmt: skip
    sync = _gauge("zenith_agent_replication_sync", "Active: 1 while commits wait for the "
                  "standby", labels)  # fmt: skip
    lag = _gauge("zenith_agent_replication_lag_bytes", "Active: WAL written but not yet "
                 "flushed by the standby", labels)  # fmt: skip
    lag_s = _gauge("zenith_agent_replication_lag_seconds", "Active: the standby's replay "
                   "delay (0 when caught up)", labels)  # fmt: skip
    for p in repl.peers:
        streaming.add_metric([p.name], 1.0 if p.streaming else 0.0)
        sync.add_metric([p.name], 1.0 if p.sync else 0.0)
        if p.lag_bytes is not None:
            lag.add_metric([p.name], p.lag_bytes)
        if p.lag_seconds is not None or p.streaming:
            lag_s.add_metric([p.name], p.lag_seconds or 0.0)
    yield from (streaming, sync, lag, lag_s)


def make_metrics_app(agent: Agent) -> web.Application:
    registry = CollectorRegistry()
    registry.register(AgentCollector(agent))

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(registry) + generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


async def serve_metrics(agent: Agent, host: str, port: int) -> web.AppRunner | None:
    """Start the metrics listener; None (logged) when the port cannot be bound."""
    runner = web.AppRunner(make_metrics_app(agent), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host=host, port=port, reuse_address=True).start()
    except OSError as exc:
        log.warning("metrics not served", host=host, port=port, error=str(exc))
        await runner.cleanup()
        return None
    log.info("metrics listening", host=host, port=port)
    return runner
