"""Fixtures for the agent tests: real agents (subprocesses) over real PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from agent_harness import Pod, pg_bindir, pods, streaming_in_sync, wait_for

A_IP, B_IP = "127.0.0.2", "127.0.0.3"


@pytest.fixture
def need_pg() -> None:
    if pg_bindir() is None:
        pytest.skip("no PostgreSQL binaries (set ZENITH_PG_BINDIR or install postgresql)")


@pytest.fixture
def solo(need_pg: None) -> Iterator[Pod]:
    """One agent, started, database not yet initialised."""
    with pods(("solo-0", A_IP)) as (pod,):
        pod.start()
        yield pod


@pytest.fixture
def pair(need_pg: None) -> Iterator[tuple[Pod, Pod]]:
    """pair-0 active (lease 60 s), pair-1 its synchronous streaming standby."""
    with pods(("pair-0", A_IP), ("pair-1", B_IP)) as (a, b):
        a.start()
        b.start()
        a.call("/v1/promote", {"lease_ttl": 60})
        b.call("/v1/follow", a.address())
        a.call("/v1/replication", {"mode": "sync", "standby_name": "pair-1"})
        wait_for("pair-1 streaming in sync", lambda: streaming_in_sync(a, "pair-1"))
        yield a, b
