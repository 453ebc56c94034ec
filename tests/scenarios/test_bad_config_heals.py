"""Issue 12 item 7: a cluster whose database never starts (a setting PostgreSQL refuses)
says why in its status and Events, and heals as soon as the configuration is fixed:
the pods that never served are replaced at once, without waiting for Normal."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from zenith_operator import naming
from zenith_sandbox.polling import wait_for
from zenith_sandbox.scenario import Cluster, load_example
from zenith_sandbox.stack import Sandbox

pytestmark = pytest.mark.integration

_names = itertools.count()
FAST = {"pollingInterval": 1, "unreachableTimeout": 5}


@pytest.fixture
def broken(sandbox: Sandbox) -> Iterator[tuple[Cluster, str]]:
    """A pair whose dbConfigMap holds `wal_level = bogus`."""
    n = next(_names)
    cm = f"bad-db-config-{n}"
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": cm},
        "data": {"zenith.conf": "wal_level = bogus\n"},
    }
    body = load_example("pair", **FAST, dbConfigMap=[cm])
    cluster = Cluster(sandbox.api, sandbox.namespace, f"badcfg-{n}")
    cluster.create(body, [doc])
    try:
        yield cluster, cm
    finally:
        if cluster.get() is not None:
            cluster.delete()
        wait_for(f"{cluster.name} gone", lambda: not cluster.pod_ips(), 60)
        cluster.core.delete_namespaced_config_map(cm, cluster.namespace)


def _uids(cluster: Cluster) -> dict[str, str]:
    pods = cluster.core.list_namespaced_pod(
        cluster.namespace, label_selector=f"{naming.CLUSTER_LABEL}={cluster.name}"
    )
    return {
        str(p.metadata.name): str(p.metadata.uid)
        for p in pods.items
        if p.metadata and not p.metadata.deletion_timestamp
    }


def _reasons(cluster: Cluster) -> list[str]:
    events = cluster.core.list_namespaced_event(cluster.namespace)
    return [
        e.reason or ""
        for e in events.items
        if e.involved_object is not None and e.involved_object.name == cluster.name
    ]


def test_a_bad_configuration_is_reported_and_heals_by_fixing_it(
    broken: tuple[Cluster, str],
) -> None:
    cluster, cm = broken
    st = wait_for(
        "the start error in status.message",
        lambda: (
            (s := cluster.status()).get("state") == "Initializing"
            and "exited with code" in (s.get("message") or "")
            and s
        ),
        120,
    )
    print(f"\nstuck: {st['message']}")
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert "last error" in ready["message"]
    assert "DatabaseStartFailed" in _reasons(cluster)
    before = _uids(cluster)
    assert len(before) == 2

    t0 = time.monotonic()
    cluster.core.patch_namespaced_config_map(
        cm, cluster.namespace, {"data": {"zenith.conf": "work_mem = '8MB'\n"}}
    )
    cluster.wait_normal(timeout=180)
    healed = time.monotonic() - t0
    after = _uids(cluster)
    print(f"healed: Normal in sync {healed:.1f}s after the fix")
    assert all(after[name] != uid for name, uid in before.items()), "every pod replaced"
    reasons = _reasons(cluster)
    assert "RolloutReplaceUninitialized" in reasons, reasons
    assert cluster.status().get("rollout") is None
