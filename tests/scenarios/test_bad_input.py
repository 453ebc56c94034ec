"""Bad input against the sandbox (emulator + pod runtime + the real operator): every bad
manifest of bad_manifests.py is refused at admission with its message, or reported as
SpecValid=False + a Warning Event naming the field; nothing else stops: a good cluster
created next to them still reaches Normal on the same node."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from bad_manifests import INVALID, REJECTED, Invalid, Rejected
from kubernetes import client

from zenith_operator import naming
from zenith_sandbox.scenario import Cluster, wait_for
from zenith_sandbox.stack import Sandbox

pytestmark = pytest.mark.integration

ONE_RECONCILE = 20.0  # seconds: create -> condition, with every bad cluster at once


def body(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{naming.GROUP}/{naming.VERSION}",
        "kind": naming.KIND,
        "metadata": {"name": name},
        "spec": copy.deepcopy(spec),
    }


@pytest.mark.parametrize("case", REJECTED, ids=[c.id for c in REJECTED])
def test_rejected_at_admission(sandbox: Sandbox, case: Rejected) -> None:
    custom = client.CustomObjectsApi(sandbox.api)
    name = case.name or f"rej-{case.id}"
    with pytest.raises(client.ApiException) as caught:
        custom.create_namespaced_custom_object(
            naming.GROUP, naming.VERSION, sandbox.namespace, naming.PLURAL, body(case.body, name)
        )
    assert caught.value.status == 422, caught.value.body
    message = str(caught.value.body)
    for fragment in case.fragments:
        assert fragment in message, message


@pytest.fixture(scope="module")
def invalid_clusters(sandbox: Sandbox) -> Iterator[dict[str, Cluster]]:
    """Every INVALID case created at once (the operator handles them side by side)."""
    core = client.CoreV1Api(sandbox.api)
    made: dict[str, Cluster] = {}
    extras: list[tuple[str, str]] = []
    try:
        for case in INVALID:
            for doc in case.extra:
                if doc["kind"] == "ConfigMap":
                    core.create_namespaced_config_map(sandbox.namespace, doc)
                elif doc["kind"] == "PersistentVolume":
                    core.create_persistent_volume(doc)
                else:
                    core.create_namespaced_secret(sandbox.namespace, doc)
                extras.append((doc["kind"], doc["metadata"]["name"]))
            cluster = Cluster(sandbox.api, sandbox.namespace, f"bad-{case.id}")
            cluster.create(body(case.body, cluster.name))
            made[case.id] = cluster
        yield made
    finally:
        for cluster in made.values():
            if cluster.get() is not None:
                cluster.delete()
        for kind, name in extras:
            if kind == "ConfigMap":
                core.delete_namespaced_config_map(name, sandbox.namespace)
            elif kind == "PersistentVolume":
                core.delete_persistent_volume(name)
            else:
                core.delete_namespaced_secret(name, sandbox.namespace)
        for cluster in made.values():
            wait_for(f"{cluster.name} gone", lambda c=cluster: c.get() is None, 60)


def _spec_valid(cluster: Cluster) -> dict[str, Any] | None:
    for cond in cluster.status().get("conditions") or []:
        if cond.get("type") == "SpecValid" and cond.get("status") == "False":
            return dict(cond)
    return None


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_reported_in_status_and_event(
    sandbox: Sandbox, invalid_clusters: dict[str, Cluster], case: Invalid
) -> None:
    cluster = invalid_clusters[case.id]
    cond = wait_for(f"{cluster.name} SpecValid=False", lambda: _spec_valid(cluster), ONE_RECONCILE)
    assert cond["reason"] == "InvalidSpec"
    assert cond["message"].startswith(case.field + ": "), cond["message"]
    core = client.CoreV1Api(sandbox.api)

    def warned() -> bool:
        events = core.list_namespaced_event(sandbox.namespace).items
        return any(
            e.involved_object.name == cluster.name
            and e.type == "Warning"
            and e.reason == "InvalidSpec"
            and (e.message or "").startswith(case.field + ": ")
            for e in events
        )

    wait_for(f"{cluster.name} Warning Event", warned, ONE_RECONCILE)
    apps = client.AppsV1Api(sandbox.api)
    names = [s.metadata.name for s in apps.list_namespaced_stateful_set(sandbox.namespace).items]
    assert cluster.name not in names  # nothing half-built from a bad spec


def test_good_cluster_still_reaches_normal_next_to_bad_ones(
    sandbox: Sandbox, invalid_clusters: dict[str, Cluster], make_cluster: Any
) -> None:
    for cluster in invalid_clusters.values():
        wait_for(f"{cluster.name} reported", lambda c=cluster: _spec_valid(c), ONE_RECONCILE)
    good: Cluster = make_cluster("pair")
    good.wait_normal(timeout=120)
    assert set(good.pod_ips()) == {f"{good.name}-0", f"{good.name}-1"}
