"""The Kubernetes API away (SIGSTOP of the emulator) while the pair is healthy.

The operator keeps renewing the active's lease from its cached view, so the writer
sees no gap at all; nothing changes state. Prints the longest gap between acknowledged
writes (issue 16 item 2: 7.9 s of failed writes before).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from zenith_sandbox.scenario import Cluster, wait_for
from zenith_sandbox.stack import Sandbox
from zenith_sandbox.workload import WritabilityChecker, Writer, missing_acknowledged

pytestmark = pytest.mark.integration

API_PAUSE = 12.0  # seconds; more than twice the scenarios' unreachableTimeout (5 s)
NO_GAP = 1.0  # a gap longer than this means writes stopped


def test_api_pause_costs_no_write(sandbox: Sandbox, make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    creds = cluster.credentials()
    writer = Writer(cluster.active_lookup(), creds)
    checker = WritabilityChecker(lambda: list(cluster.pod_ips().values()), creds)
    writer.start()
    checker.start()
    try:
        wait_for("the writer's first writes", lambda: len(writer.acks) >= 20, 30)
        t0 = time.monotonic()
        sandbox.pause_api()
        try:
            wait_for(
                f"{API_PAUSE:g} s of API pause",
                lambda: time.monotonic() - t0 >= API_PAUSE,
                API_PAUSE + 5,
                0.1,
            )
        finally:
            sandbox.resume_api()
        t1 = time.monotonic()
        count = len(writer.acks)
        wait_for("writes after the pause", lambda: len(writer.acks) >= count + 20, 30)
    finally:
        writer.stop()
        checker.stop()
    gap = writer.longest_gap(t0, t1)
    failed = [f for f in writer.failures if f >= t0]
    print(f"\nAPI pause {API_PAUSE:g}s: longest write gap {gap:.2f}s, failed writes {len(failed)}")
    assert not failed, f"{len(failed)} writes failed during the API pause"
    assert gap < NO_GAP, f"writes stopped for {gap:.2f}s during the API pause"
    assert not checker.violations, "two instances were writable at once"
    final = cluster.wait_normal(timeout=60)
    assert final["activeInstance"] == status["activeInstance"], "the active changed"
    active_ip = cluster.pod_ips()[final["activeInstance"]]
    assert not missing_acknowledged(active_ip, creds, writer.acked_ids)
