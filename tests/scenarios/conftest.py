"""End-to-end scenarios on the local sandbox: the real operator process, the API
emulator, the pod runtime and real PostgreSQL on 127.0.0.N.

One sandbox serves the whole module set; each test makes its own cluster and deletes it.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from zenith_sandbox.scenario import Cluster, fresh_state_dir, load_example, wait_for
from zenith_sandbox.stack import Sandbox, start_sandbox

_names = itertools.count()

# Short timers keep the suite quick; the state machine does not depend on their size.
FAST = {"pollingInterval": 1, "unreachableTimeout": 5}


def _have_postgres() -> bool:
    return bool(
        shutil.which("postgres") or list(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    )


pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    if not _have_postgres():
        pytest.skip("sandbox scenarios: no PostgreSQL server binaries (make install)")
    state = fresh_state_dir("scenarios")
    sb = start_sandbox(state)
    try:
        yield sb
    finally:
        sb.stop()
        print(f"sandbox logs kept in {state / 'logs'}")


@pytest.fixture
def make_cluster(sandbox: Sandbox) -> Iterator[object]:
    made: list[Cluster] = []

    def make(example: str = "pair", **zenith_spec: object) -> Cluster:
        cluster = Cluster(sandbox.api, sandbox.namespace, f"{example}-{next(_names)}")
        cluster.create(load_example(example, **{**FAST, **zenith_spec}))
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        if cluster.get() is not None:
            cluster.delete()
        wait_for(f"{cluster.name} gone", lambda c=cluster: not c.pod_ips(), 60)
