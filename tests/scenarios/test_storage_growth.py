"""Issue 12 item 6: storageSize grows the PVCs (StorageClass with allowVolumeExpansion),
progress in the VolumeExpansion condition; shrinking is refused at admission; a class
without expansion is reported, not retried in a loop; no pod is restarted for it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from kubernetes import client

from zenith_operator import naming
from zenith_sandbox.polling import wait_for
from zenith_sandbox.scenario import Cluster
from zenith_sandbox.stack import Sandbox

pytestmark = pytest.mark.integration


@pytest.fixture
def storage_class(sandbox: Sandbox) -> Iterator[Callable[[bool], str]]:
    api = client.StorageV1Api(sandbox.api)
    made: list[str] = []

    def make(expandable: bool) -> str:
        name = f"growth-{'exp' if expandable else 'fixed'}-{uuid.uuid4().hex[:6]}"
        body: dict[str, object] = {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name},
            "provisioner": "zenith.sandbox/hostpath",
            "allowVolumeExpansion": expandable,
        }
        api.create_storage_class(body)
        made.append(name)
        return name

    yield make
    for name in made:
        api.delete_storage_class(name)


def _claims(cluster: Cluster) -> dict[str, tuple[str, str]]:
    """data PVCs: name -> (requested, capacity)."""
    out: dict[str, tuple[str, str]] = {}
    for c in cluster.core.list_namespaced_persistent_volume_claim(cluster.namespace).items:
        name = c.metadata.name if c.metadata else ""
        if not name or not name.startswith(f"data-{cluster.name}-"):
            continue
        requested = (c.spec.resources.requests or {}).get("storage", "") if c.spec else ""
        capacity = ((c.status.capacity or {}) if c.status else {}).get("storage", "")
        out[name] = (requested, capacity)
    return out


def _condition(cluster: Cluster) -> dict[str, str]:
    for c in cluster.status().get("conditions") or []:
        if c.get("type") == "VolumeExpansion":
            return {k: str(v) for k, v in c.items()}
    return {}


def _pod_uids(cluster: Cluster) -> set[str]:
    pods = cluster.core.list_namespaced_pod(
        cluster.namespace, label_selector=f"{naming.CLUSTER_LABEL}={cluster.name}"
    )
    return {str(p.metadata.uid) for p in pods.items if p.metadata}


def test_storage_size_growth_expands_the_pvcs_and_shrinking_is_refused(
    make_cluster: Callable[..., Cluster], storage_class: Callable[[bool], str]
) -> None:
    cluster = make_cluster("pair", storageClassName=storage_class(True), storageSize="1Gi")
    cluster.wait_normal(timeout=180)
    pods = _pod_uids(cluster)
    cluster.patch_spec({"storageSize": "2Gi"})

    def grown() -> bool:
        claims = _claims(cluster)
        return len(claims) == 2 and all(c == ("2Gi", "2Gi") for c in claims.values())

    wait_for("the PVCs grown to 2Gi", grown, 90)
    cond = wait_for(
        "VolumeExpansion True",
        lambda: (c := _condition(cluster)) and c.get("status") == "True" and c,
        120,
    )
    assert cond["reason"] == "Expanded"
    assert _pod_uids(cluster) == pods, "growing the volumes restarts no pod"
    status = cluster.wait_normal(timeout=30)
    resources = next(c for c in status["conditions"] if c["type"] == "ResourcesReady")
    assert resources["status"] == "True", resources  # the claim template stays as created

    with pytest.raises(client.ApiException) as refused:
        cluster.patch_spec({"storageSize": "1Gi"})
    assert refused.value.status == 422
    assert "storageSize cannot shrink: a volume can only grow" in str(refused.value.body)


def test_growth_without_volume_expansion_is_reported(
    make_cluster: Callable[..., Cluster], storage_class: Callable[[bool], str]
) -> None:
    cluster = make_cluster("single", storageClassName=storage_class(False), storageSize="1Gi")
    cluster.wait_normal(timeout=180)
    cluster.patch_spec({"storageSize": "2Gi"})
    cond = wait_for(
        "VolumeExpansion False",
        lambda: (c := _condition(cluster)) and c.get("status") == "False" and c,
        60,
    )
    assert cond["reason"] == "ExpansionNotAllowed", cond
    assert "does not allow volume expansion" in cond["message"], cond
    assert all(req == "1Gi" for req, _cap in _claims(cluster).values())
    cluster.wait_normal(timeout=30)
