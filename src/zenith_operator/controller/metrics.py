"""The operator's Prometheus metrics (docs/monitoring.md), served on `/metrics`.

Per cluster (labels `namespace`, `name`): derived in `record_cycle` from what each HA
cycle already has — the status before and after the applied decision and the
observations — so `ha/` stays pure. Per process: API requests, reconcile duration, HA
cycle timing. Everything lives in `REGISTRY`, not prometheus_client's global one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from zenith_operator.api.status import ZenithClusterStatus
from zenith_operator.ha import times
from zenith_operator.ha.model import Observations
from zenith_operator.ha.states import SERVING_STATES, PendingKind, State

Key = tuple[str, str]  # (namespace, name)

REGISTRY = CollectorRegistry()
CLUSTER_LABELS = ("namespace", "name")
FAILOVER_REASONS = {
    "in-sync standby": "in-sync-standby",
    "failoverPolicy Availability": "availability",
}
SWITCHOVER_REASONS = ("annotation", "rollout", "scale-down")
ROLLOUT_REASONS = ("configuration",)
RENEWAL_RESULTS = ("ok", "error")
REPLICATION_MODES = ("sync", "async")
FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)

API_REQUESTS = Counter(
    "zenith_operator_api_requests",
    "Kubernetes API requests sent by the operator's own client (not kopf's watches)",
    ["verb", "code"],
    registry=REGISTRY,
)
API_ERRORS = Counter(
    "zenith_operator_api_request_errors",
    "Kubernetes API requests that failed, by kind (unreachable, throttled, server, "
    "conflict, not-found, invalid, client)",
    ["verb", "kind"],
    registry=REGISTRY,
)
RECONCILE = Histogram(
    "zenith_operator_reconcile_duration_seconds",
    "Time to reconcile a cluster's Kubernetes objects, by trigger",
    ["trigger"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
HA_CYCLE_JITTER = Histogram(
    "zenith_operator_ha_cycle_jitter_seconds",
    "How late an HA cycle started after its planned time (all clusters)",
    buckets=FAST,
    registry=REGISTRY,
)
HA_CYCLE = Histogram(
    "zenith_operator_ha_cycle_duration_seconds",
    "Time of one HA cycle: poll, decide, apply (all clusters)",
    buckets=FAST,
    registry=REGISTRY,
)
POLL = Histogram(
    "zenith_cluster_poll_duration_seconds",
    "Agent status poll latency (GET /v1/status), answered or not",
    CLUSTER_LABELS,
    buckets=FAST,
    registry=REGISTRY,
)


@dataclass
class ClusterMetrics:
    """What the exporter shows for one cluster; changed only through the functions below."""

    state: str | None = None
    replication_mode: str | None = None
    replication_degraded: bool = False
    active_ordinal: int | None = None
    failovers: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(FAILOVER_REASONS.values(), 0)
    )
    switchovers: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(SWITCHOVER_REASONS, 0)
    )
    rollouts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROLLOUT_REASONS, 0))
    state_seconds: dict[str, float] = field(default_factory=dict)  # non-Normal states only
    last_failover_seconds: float | None = None
    outage_started: float | None = None  # the active stopped serving (wall clock)
    last_cycle: float | None = None
    lease_expires: float | None = None  # wall clock; the active's lease as granted
    lease_ttl: float | None = None  # the TTL of that grant
    renewals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RENEWAL_RESULTS, 0))
    poll_errors: dict[str, int] = field(default_factory=dict)


def ordinal(instance: str | None) -> int | None:
    tail = (instance or "").rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def switchover_reason(reason: str) -> str:
    if reason.startswith("configuration rollout"):
        return "rollout"
    if reason.startswith("scale down"):
        return "scale-down"
    return "annotation"


def record_cycle(
    m: ClusterMetrics,
    old: ZenithClusterStatus,
    new: ZenithClusterStatus,
    obs: Observations,
    now: float,
) -> None:
    """Update `m` from one applied HA decision (old status -> new status)."""
    if m.last_cycle is not None and m.state not in (None, State.NORMAL.value):
        m.state_seconds[m.state] = m.state_seconds.get(m.state, 0.0) + max(0.0, now - m.last_cycle)
    m.last_cycle = now
    was, state = old.state, new.state
    if was in SERVING_STATES and state not in SERVING_STATES and state != State.STOPPED:
        # the active stopped serving: count from its last good answer when we have it
        seen = obs.get(old.active_instance)
        m.outage_started = min(now, seen.last_ok) if seen and seen.last_ok else now
    if state in SERVING_STATES:
        m.outage_started = None if new.active_instance == old.active_instance else m.outage_started
    pending = old.pending_action
    promoted = (
        pending is not None
        and new.active_instance == pending.target
        and new.active_instance != old.active_instance
    )
    if promoted and pending is not None and pending.kind == PendingKind.FAILOVER:
        reason = FAILOVER_REASONS.get(pending.reason, "other")
        m.failovers[reason] = m.failovers.get(reason, 0) + 1
        # an operator restarted mid-failover saw no outage start: the state's own start
        started = m.outage_started if m.outage_started is not None else times.parse(old.since)
        started = now if started is None else started
        m.last_failover_seconds = max(0.0, now - started)
        m.outage_started = None
    elif promoted and pending is not None and pending.kind == PendingKind.SWITCHOVER:
        reason = switchover_reason(pending.reason)
        m.switchovers[reason] = m.switchovers.get(reason, 0) + 1
    if old.rollout is None and new.rollout is not None:
        m.rollouts["configuration"] += 1
    m.state = state
    m.replication_mode = new.replication_mode
    m.replication_degraded = new.replication_degraded
    m.active_ordinal = ordinal(new.active_instance)


class ClusterCollector(Collector):
    """Yields every tracked cluster's series at scrape time."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clusters: dict[Key, ClusterMetrics] = {}
        self.lock = threading.Lock()
        self.clock = clock

    def track(self, key: Key) -> ClusterMetrics:
        with self.lock:
            return self.clusters.setdefault(key, ClusterMetrics())

    def forget(self, key: Key) -> None:
        with self.lock:
            self.clusters.pop(key, None)
        with contextlib.suppress(KeyError):
            POLL.remove(*key)

    def cycle(self, key: Key, old: ZenithClusterStatus, new: ZenithClusterStatus,
              obs: Observations, now: float) -> None:  # fmt: skip
        with self.lock:
            record_cycle(self.clusters.setdefault(key, ClusterMetrics()), old, new, obs, now)

    def lease_renewed(self, key: Key, sent: float, ttl: float, ok: bool) -> None:
        """A renewal sent at `sent` was answered (ok: a lease until sent + ttl) or not
        (then only the previous grant is certain)."""
        with self.lock:
            m = self.clusters.setdefault(key, ClusterMetrics())
            m.renewals["ok" if ok else "error"] += 1
            if ok:
                m.lease_expires, m.lease_ttl = sent + ttl, ttl

    def polled(self, key: Key, seconds: float, error_kind: str | None) -> None:
        POLL.labels(*key).observe(seconds)
        if error_kind is not None:
            with self.lock:
                m = self.clusters.setdefault(key, ClusterMetrics())
                m.poll_errors[error_kind] = m.poll_errors.get(error_kind, 0) + 1

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            snapshot = [(k, _copy(m)) for k, m in self.clusters.items()]
        yield from _families(snapshot, self.clock())


def _copy(m: ClusterMetrics) -> ClusterMetrics:
    return ClusterMetrics(
        **{
            **m.__dict__,
            **{k: dict(v) for k, v in m.__dict__.items() if isinstance(v, dict)},
        }
    )


def _families(clusters: list[tuple[Key, ClusterMetrics]], now: float) -> Iterator[Metric]:
    labels = list(CLUSTER_LABELS)
    state = GaugeMetricFamily(
        "zenith_cluster_state", "1 for the cluster's current state, 0 for the others",
        labels=[*labels, "state"],
    )  # fmt: skip
    mode = GaugeMetricFamily(
        "zenith_cluster_replication_mode", "1 for the active's replication mode (sync, async)",
        labels=[*labels, "mode"],
    )  # fmt: skip
    degraded = GaugeMetricFamily(
        "zenith_cluster_replication_degraded", "1 while the active runs async for lack of an "
        "in-sync standby", labels=labels,
    )  # fmt: skip
    active = GaugeMetricFamily(
        "zenith_cluster_active_ordinal", "Ordinal of the active instance (NAME-i)", labels=labels
    )
    failovers = CounterMetricFamily(
        "zenith_cluster_failovers", "Completed failovers, by reason", labels=[*labels, "reason"]
    )
    switchovers = CounterMetricFamily(
        "zenith_cluster_switchovers", "Completed switchovers, by reason (annotation, rollout, "
        "scale-down)", labels=[*labels, "reason"],
    )  # fmt: skip
    rollouts = CounterMetricFamily(
        "zenith_cluster_rollouts", "Configuration rollouts started", labels=[*labels, "reason"]
    )
    seconds = CounterMetricFamily(
        "zenith_cluster_state_seconds", "Time spent in each non-Normal state",
        labels=[*labels, "state"],
    )  # fmt: skip
    last_failover = GaugeMetricFamily(
        "zenith_cluster_last_failover_duration_seconds",
        "Last failover: from the old active's last good answer to the new active serving",
        labels=labels,
    )
    renewals = CounterMetricFamily(
        "zenith_cluster_lease_renewals", "Lease renewals sent to the active, by result",
        labels=[*labels, "result"],
    )  # fmt: skip
    remaining = GaugeMetricFamily(
        "zenith_cluster_lease_remaining_seconds",
        "Seconds left of the active's lease, as last granted by this operator",
        labels=labels,
    )
    ttl = GaugeMetricFamily(
        "zenith_cluster_lease_ttl_seconds", "TTL of the active's last lease grant", labels=labels
    )
    errors = CounterMetricFamily(
        "zenith_cluster_poll_errors", "Agent status polls that failed, by kind",
        labels=[*labels, "kind"],
    )  # fmt: skip
    for (ns, name), m in clusters:
        key = [ns, name]
        for s in State:
            state.add_metric([*key, s.value], 1.0 if m.state == s.value else 0.0)
        for md in REPLICATION_MODES:
            mode.add_metric([*key, md], 1.0 if m.replication_mode == md else 0.0)
        degraded.add_metric(key, 1.0 if m.replication_degraded else 0.0)
        if m.active_ordinal is not None:
            active.add_metric(key, float(m.active_ordinal))
        for reason, n in m.failovers.items():
            failovers.add_metric([*key, reason], n)
        for reason, n in m.switchovers.items():
            switchovers.add_metric([*key, reason], n)
        for reason, n in m.rollouts.items():
            rollouts.add_metric([*key, reason], n)
        for st, total in m.state_seconds.items():
            seconds.add_metric([*key, st], total)
        if m.last_failover_seconds is not None:
            last_failover.add_metric(key, m.last_failover_seconds)
        for result, n in m.renewals.items():
            renewals.add_metric([*key, result], n)
        if m.lease_expires is not None:
            remaining.add_metric(key, max(0.0, m.lease_expires - now))
        if m.lease_ttl is not None:
            ttl.add_metric(key, m.lease_ttl)
        for kind, n in m.poll_errors.items():
            errors.add_metric([*key, kind], n)
    yield from (state, mode, degraded, active, failovers, switchovers, rollouts, seconds,
                last_failover, renewals, remaining, ttl, errors)  # fmt: skip


CLUSTERS = ClusterCollector()
REGISTRY.register(CLUSTERS)


def api_error_kind(status: int) -> str:
    if status == 0:
        return "unreachable"
    if status == 429:
        return "throttled"
    if status >= 500:
        return "server"
    return {404: "not-found", 409: "conflict", 422: "invalid"}.get(status, "client")


def api_request(verb: str, status: int) -> None:
    """Count one request of the operator's API client; `status` 0 when nothing answered."""
    code = "none" if status == 0 else f"{status // 100}xx" if status < 400 else str(status)
    API_REQUESTS.labels(verb, code).inc()
    if status == 0 or status >= 400:
        API_ERRORS.labels(verb, api_error_kind(status)).inc()


def parse_address(value: str, default_host: str = "0.0.0.0") -> tuple[str, int]:
    """`HOST:PORT` or `PORT` -> (host, port). Raises ValueError."""
    host, _, port = value.rpartition(":")
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(f"port {number} out of range")
    return host or default_host, number


def serve(address: str) -> tuple[str, int]:
    """Serve REGISTRY on http://ADDRESS/metrics in a daemon thread; returns (host, port)."""
    host, port = parse_address(address)
    disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twins of every counter and histogram
    server, _ = start_http_server(port, host, registry=REGISTRY)
    bound = server.server_address
    return str(bound[0]), int(bound[1])
