"""The Kubernetes API away (SIGSTOP of the emulator) while the pair is healthy.

The operator keeps renewing the active's lease from its cached view, so the writer
sees no gap at all; nothing changes state. Prints the longest gap between acknowledged
writes (issue 16 item 2: 7.9 s of failed writes before).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zenith_sandbox.scenario import Cluster, run_api_pause
from zenith_sandbox.stack import Sandbox

pytestmark = pytest.mark.integration

API_PAUSE = 12.0  # seconds; more than twice the scenarios' unreachableTimeout (5 s)
NO_GAP = 1.0  # a gap longer than this means writes stopped


def test_api_pause_costs_no_write(sandbox: Sandbox, make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster("pair")
    status = cluster.wait_normal(timeout=120)
    run = run_api_pause(cluster, sandbox.pause_api, sandbox.resume_api, API_PAUSE)
    gap = run.max_gap or 0.0
    print(
        f"\nAPI pause {API_PAUSE:g}s: longest write gap {gap:.2f}s, failed write: {run.recovered}"
    )
    assert run.recovered is None, "a write failed during the API pause"
    assert gap < NO_GAP, f"writes stopped for {gap:.2f}s during the API pause"
    assert run.double_writable == 0, "two instances were writable at once"
    assert run.new_active == status["activeInstance"], "the active changed"
    assert not run.lost
