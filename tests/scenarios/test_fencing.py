"""Fencing under the two interleavings of issue 9 that broke it on a real database.

Each runs the writer (synchronous_commit on), a writability checker that samples every
pod of the cluster (terminating ones too) and a client pinned to the old active with
`synchronous_commit = local`. Pass: no sample with two writable instances, no write
acknowledged by the old active after another instance was writable, no acknowledged
write of the writer lost.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import pytest

from zenith_sandbox.scenario import Cluster, wait_for
from zenith_sandbox.stack import Sandbox
from zenith_sandbox.workload import (
    WritabilityChecker,
    Writer,
    missing_acknowledged,
    pinned_writer,
)

pytestmark = pytest.mark.integration


@dataclass
class Outcome:
    double_writable: int
    late_pinned: list[float]  # pinned acks after another instance was writable (s)
    lost: set[int]
    new_active: str
    longest_gap: float


def _under_load(cluster: Cluster, fault: Callable[[str], None], timeout: float) -> Outcome:
    creds = cluster.credentials()
    status = cluster.wait_normal(timeout=120)
    old = status["activeInstance"]
    old_ip = cluster.pod_ips()[old]
    writer = Writer(cluster.active_lookup(), creds)
    pinned = pinned_writer(old_ip, creds)
    checker = WritabilityChecker(lambda: list(cluster.pod_ips().values()), creds)
    for t in (writer, pinned, checker):
        t.start()
    try:
        try:
            wait_for("first writes", lambda: len(writer.acks) >= 20 and len(pinned.acks) >= 5, 30)
        except TimeoutError as exc:
            raise AssertionError(
                f"{exc}: writer {len(writer.acks)} acks {len(writer.failures)} failures, "
                f"pinned {len(pinned.acks)} acks {len(pinned.failures)} failures, "
                f"status {cluster.status().get('message')}"
            ) from None
        t0 = time.monotonic()
        fault(old)

        def writing_again() -> bool:
            failed = writer.first_failure_after(t0)
            return failed is not None and writer.first_ack_after(failed) is not None

        wait_for("writes accepted again", writing_again, timeout, 0.2)
        final = cluster.wait_normal(timeout=timeout, in_sync=False)
        count = len(writer.acks)
        wait_for("writes after recovery", lambda: len(writer.acks) >= count + 5, 30)
    finally:
        for t in (writer, pinned, checker):
            t.stop()
    new = final["activeInstance"]
    new_ip = cluster.pod_ips()[new]
    others = [at for host, at in checker.first_writable.items() if host != old_ip]
    moment = min(others) if others else float("inf")
    late = [a.at - moment for a in pinned.acks if a.at > moment]
    times = [a.at for a in writer.acks if a.at > t0 - 1]
    gap = max((b - a for a, b in itertools.pairwise(times)), default=0.0)
    outcome = Outcome(
        double_writable=len(checker.violations),
        late_pinned=late,
        lost=missing_acknowledged(new_ip, creds, writer.acked_ids),
        new_active=new,
        longest_gap=gap,
    )
    print(
        f"\n{cluster.name}: active {old} -> {new}, longest write gap {gap:.1f}s,"
        f" samples {checker.samples}, two writable {outcome.double_writable},"
        f" pinned acks after the new active {len(late)}, lost {len(outcome.lost)}"
    )
    return outcome


def _assert_safe(o: Outcome) -> None:
    assert o.double_writable == 0, "two instances were writable at once"
    assert not o.late_pinned, f"the old active acknowledged writes {o.late_pinned[:3]} s late"
    assert not o.lost, f"acknowledged writes lost: {sorted(o.lost)[:10]}"


def test_timeout_lowered_live_then_the_active_agent_hangs(
    sandbox: Sandbox, make_cluster: Callable[..., Cluster]
) -> None:
    """Pods created with unreachableTimeout 60 keep its slow liveness probe (a hung agent
    is killed after ~30 s); the user lowers the timeout to 5; the active's agent hangs
    with its database running. Promotion must wait for the probe the pod really has."""
    cluster = make_cluster("pair", pollingInterval=1, unreachableTimeout=60)
    cluster.wait_normal(timeout=120)
    cluster.patch_spec({"unreachableTimeout": 5})
    wait_for(
        "the operator to read the new timeout",
        lambda: (
            (cluster.status().get("observedGeneration") or 0)
            >= (cluster.get() or {}).get("metadata", {}).get("generation", 0)
        ),
        30,
    )
    outcome = _under_load(cluster, lambda pod: sandbox.faults.freeze_agent(pod), timeout=150)
    _assert_safe(outcome)


SLOW_RECOVERY = {
    "zenith.conf": "max_wal_size = '8GB'\ncheckpoint_timeout = '1h'\nwal_compression = off\n"
}


def test_lease_runs_out_during_crash_recovery(
    sandbox: Sandbox, make_cluster: Callable[..., Cluster]
) -> None:
    """The active's database crashes with ~1 GB of WAL to replay; the operator's
    start runs crash recovery past the lease (timers 1/4). The standby may be promoted,
    but the old active must never open writes afterwards."""
    cm_name = f"slow-recovery-{int(time.time() * 1000) % 10**8}"
    sandbox_core = Cluster(sandbox.api, sandbox.namespace, "unused").core
    sandbox_core.create_namespaced_config_map(
        sandbox.namespace,
        {"metadata": {"name": cm_name}, "data": SLOW_RECOVERY},  # type: ignore[arg-type]
    )
    try:
        cluster = make_cluster(
            "pair", pollingInterval=1, unreachableTimeout=4, dbConfigMap=[cm_name]
        )
        cluster.wait_normal(timeout=120)

        def crash_with_wal(pod: str) -> None:
            creds = cluster.credentials()
            ip = cluster.pod_ips()[pod]
            with psycopg.connect(creds.conninfo(ip, timeout=5), autocommit=True) as conn:
                conn.execute("SET synchronous_commit TO local")
                conn.execute("CREATE TABLE IF NOT EXISTS wal_filler (x int, pad text)")
                conn.execute(
                    "INSERT INTO wal_filler SELECT g, repeat('x', 40)"
                    " FROM generate_series(1, 8000000) g"
                )
            sandbox.faults.kill_database(pod)

        outcome = _under_load(cluster, crash_with_wal, timeout=150)
        _assert_safe(outcome)
    finally:
        sandbox_core.delete_namespaced_config_map(cm_name, sandbox.namespace)
