"""The operator's metrics: derived from status transitions, exported per cluster."""

from __future__ import annotations

import socket

import aiohttp
from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from zenith_operator.api.status import PendingAction, RolloutStatus, ZenithClusterStatus
from zenith_operator.controller import metrics
from zenith_operator.controller.agent_client import AgentClient
from zenith_operator.controller.metrics import ClusterCollector, ClusterMetrics, record_cycle
from zenith_operator.ha.model import InstanceObservation, Observations, Settings
from zenith_operator.ha.times import fmt

T0 = 1_800_000_000.0
KEY = ("ns", "pair")


def st(state: str, active: str = "pair-0", **kw: object) -> ZenithClusterStatus:
    return ZenithClusterStatus(state=state, active_instance=active, **kw)  # type: ignore[arg-type]


def obs(last_ok: float | None = None) -> Observations:
    a = InstanceObservation(name="pair-0", ordinal=0, last_ok=last_ok)
    b = InstanceObservation(name="pair-1", ordinal=1)
    return Observations(settings=Settings(), instances=(a, b))


def samples(collector: ClusterCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in collector.collect():
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_failover_counts_once_with_its_reason_and_duration_from_the_last_good_answer() -> None:
    m = ClusterMetrics()
    failover = PendingAction(kind="Failover", target="pair-1", source="pair-0",
                             reason="in-sync standby")  # fmt: skip
    record_cycle(m, st("Normal"), st("Normal"), obs(T0), T0)
    # the active went silent at T0 + 1; counted down at T0 + 6
    record_cycle(m, st("Normal"), st("ActiveDown"), obs(T0 + 1), T0 + 6)
    record_cycle(m, st("ActiveDown"), st("Failover", pending_action=failover), obs(), T0 + 6.2)
    done = st("StandbyDown", "pair-1")
    record_cycle(m, st("Failover", pending_action=failover), done, obs(), T0 + 6.5)
    record_cycle(m, done, done, obs(), T0 + 7)
    assert m.failovers == {"in-sync-standby": 1, "availability": 0}
    assert m.last_failover_seconds == 5.5
    assert m.active_ordinal == 1
    assert m.switchovers == {"annotation": 0, "rollout": 0, "scale-down": 0}
    assert abs(m.state_seconds["ActiveDown"] - 0.2) < 1e-6
    assert abs(m.state_seconds["StandbyDown"] - 0.5) < 1e-6
    assert "Normal" not in m.state_seconds


def test_a_restarted_operator_times_a_failover_from_the_recorded_state_start() -> None:
    m = ClusterMetrics()  # no outage seen by this process
    failover = PendingAction(kind="Failover", target="pair-1", reason="in-sync standby")
    old = st("Failover", pending_action=failover, since=fmt(T0))
    record_cycle(m, old, st("StandbyDown", "pair-1"), obs(), T0 + 2)
    assert m.last_failover_seconds == 2
    assert m.failovers["in-sync-standby"] == 1


def test_an_active_that_comes_back_is_no_failover() -> None:
    m = ClusterMetrics()
    record_cycle(m, st("Normal"), st("ActiveDown"), obs(T0), T0 + 5)
    record_cycle(m, st("ActiveDown"), st("Normal"), obs(T0 + 6), T0 + 6)
    assert m.failovers["in-sync-standby"] == 0
    assert m.outage_started is None and m.last_failover_seconds is None


def test_switchover_reasons_and_rollouts() -> None:
    m = ClusterMetrics()
    for reason, label in [
        ("requested by annotation", "annotation"),
        ("configuration rollout of 1234", "rollout"),
        ("scale down to 1 replica(s) (pair-1 would be removed)", "scale-down"),
    ]:
        pending = PendingAction(kind="Switchover", target="pair-1", reason=reason)
        record_cycle(m, st("Switchover", pending_action=pending), st("StandbyPartiallyDown",
                     "pair-1"), obs(), T0)  # fmt: skip
        assert m.switchovers[label] == 1
    rollout = RolloutStatus(target_hash="h", step="RestartStandby")
    record_cycle(m, st("Normal"), st("Normal", rollout=rollout), obs(), T0)
    record_cycle(m, st("Normal", rollout=rollout), st("Normal", rollout=rollout), obs(), T0)
    assert m.rollouts == {"configuration": 1}
    assert m.failovers["in-sync-standby"] == 0


def test_exported_series_per_cluster_and_forgotten_with_it() -> None:
    c = ClusterCollector(clock=lambda: T0 + 1)
    c.track(KEY)
    c.cycle(KEY, st("Normal"), st("StandbyDown", replication_mode="async",
            replication_degraded=True), obs(), T0)  # fmt: skip
    c.lease_renewed(KEY, T0, 4.0, ok=True)
    c.lease_renewed(KEY, T0 + 0.5, 4.0, ok=False)  # a failed renewal does not extend it
    c.polled(KEY, 0.01, None)
    c.polled(KEY, 2.0, "timeout")
    s = samples(c)
    labels = (("name", "pair"), ("namespace", "ns"))
    assert s[("zenith_cluster_state", (*labels, ("state", "StandbyDown")))] == 1
    assert s[("zenith_cluster_state", (*labels, ("state", "Normal")))] == 0
    assert s[("zenith_cluster_replication_mode", (("mode", "async"), *labels))] == 1
    assert s[("zenith_cluster_replication_degraded", labels)] == 1
    assert s[("zenith_cluster_lease_remaining_seconds", labels)] == 3
    assert s[("zenith_cluster_lease_ttl_seconds", labels)] == 4
    assert s[("zenith_cluster_lease_renewals_total", (*labels, ("result", "error")))] == 1
    assert s[("zenith_cluster_poll_errors_total", (("kind", "timeout"), *labels))] == 1
    assert s[("zenith_cluster_failovers_total", (*labels, ("reason", "in-sync-standby")))] == 0
    c.forget(KEY)
    assert not any(labels[0] in k[1] for k in samples(c))


def test_api_requests_by_verb_and_code() -> None:
    def count(name: str, **labels: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    before = count("zenith_operator_api_requests_total", verb="PATCH", code="409")
    errors = count("zenith_operator_api_request_errors_total", verb="PATCH", kind="conflict")
    metrics.api_request("PATCH", 409)
    metrics.api_request("GET", 200)
    metrics.api_request("GET", 0)
    assert count("zenith_operator_api_requests_total", verb="PATCH", code="409") == before + 1
    assert count("zenith_operator_api_request_errors_total", verb="PATCH", kind="conflict") == (
        errors + 1
    )
    assert count("zenith_operator_api_requests_total", verb="GET", code="2xx") >= 1
    assert count("zenith_operator_api_request_errors_total", verb="GET", kind="unreachable") >= 1


def test_the_registry_renders_as_prometheus_text() -> None:
    metrics.CLUSTERS.track(("x", "y"))
    try:
        text = generate_latest(metrics.REGISTRY).decode()
    finally:
        metrics.CLUSTERS.forget(("x", "y"))
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {
        "zenith_cluster_state",
        "zenith_cluster_failovers",
        "zenith_operator_api_requests",
    } <= names


def test_parse_address() -> None:
    assert metrics.parse_address("0.0.0.0:8081") == ("0.0.0.0", 8081)
    assert metrics.parse_address("9000") == ("0.0.0.0", 9000)
    assert metrics.parse_address("[::1]:9000")[1] == 9000


async def test_agent_client_reports_each_poll_with_the_kind_of_its_failure() -> None:
    async def unauthorized(_: web.Request) -> web.Response:
        return web.json_response({"reason": "Unauthorized", "message": "no"}, status=401)

    app = web.Application()
    app.router.add_get("/v1/status", unauthorized)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    seen: list[tuple[float, str | None]] = []
    async with aiohttp.ClientSession() as session:
        client = AgentClient(session, "t")
        client.on_status = lambda seconds, kind: seen.append((seconds, kind))
        await client.status("127.0.0.1", port)
        await client.status("127.0.0.1", closed)
    await runner.cleanup()
    assert [k for _, k in seen] == ["unauthorized", "connection"]
    assert all(seconds >= 0 for seconds, _ in seen)


def test_a_metrics_port_in_use_is_logged_not_fatal() -> None:
    from zenith_operator.controller.run import start_metrics

    warnings: list[dict[str, object]] = []

    class Log:
        def warning(self, event: str, **kw: object) -> None:
            warnings.append({"event": event, **kw})

        def info(self, event: str, **kw: object) -> None:
            pass

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        start_metrics(f"127.0.0.1:{taken.getsockname()[1]}", Log())
    start_metrics("127.0.0.1:notaport", Log())
    assert [w["event"] for w in warnings] == ["metrics not served"] * 2
