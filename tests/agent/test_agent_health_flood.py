"""Issue 16 item 3: an unauthenticated /health flood must not make the agent look dead."""

from __future__ import annotations

import time

import pytest
import requests
from agent_harness import Pod

from zenith_sandbox.flood import Flood

pytestmark = pytest.mark.integration

CLIENTS, SECONDS = 64, 10.0


def test_health_flood_does_not_starve_the_probe_or_the_operator(solo: Pod) -> None:
    solo.call("/v1/promote", {"lease_ttl": 60})
    probes: list[float] = []  # seconds each liveness-style probe took (inf: failed)
    polls: list[float] = []
    backends = 0  # PostgreSQL processes seen during the flood
    with Flood(f"{solo.url}/health", CLIENTS, SECONDS + 5) as flood:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:  # the kubelet's liveness probe: timeoutSeconds 1
                ok = requests.get(f"{solo.url}/health", timeout=1).status_code == 200
            except requests.RequestException:
                ok = False
            probes.append(time.monotonic() - t0 if ok else float("inf"))
            t0 = time.monotonic()
            status = requests.get(f"{solo.url}/v1/status", headers=solo.headers(), timeout=2)
            assert status.status_code == 200 and status.json()["role"] == "active"
            polls.append(time.monotonic() - t0)
            backends = max(backends, len(solo.pg_pids()))
            time.sleep(0.2)
        answered = flood.stop()
    print(
        f"\nflood answers {answered}; probe max {max(probes):.3f}s over {len(probes)},"
        f" status max {max(polls):.3f}s"
    )
    assert max(probes) < 1.0, "a liveness probe failed or timed out under the flood"
    assert answered > 1000, "the flood did not reach the agent"
    assert max(polls) < 2.0
    assert backends < 16, f"{backends} PostgreSQL processes: /health opens connections"
