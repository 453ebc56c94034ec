"""Status, scale and binding subresources; status kept apart from the main resource."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client import ApiClient

from .conftest import raw, statefulset
from .widget_crd import GROUP, PLURAL, VERSION, widget

MERGE = "application/merge-patch+json"


@pytest.mark.usefixtures("widgets")
def test_custom_status_kept_apart(api_client: ApiClient, ns: str) -> None:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}"
    body = widget("w", size=2)
    body["status"] = {"ignored": True}
    status, obj = raw(api_client, "POST", base, body)
    assert status == 201
    assert "status" not in obj  # status is dropped on create
    assert obj["metadata"]["generation"] == 1
    status, obj = raw(
        api_client, "PATCH", f"{base}/w", {"spec": {"size": 3}, "status": {"phase": "x"}}, MERGE
    )
    assert obj["spec"]["size"] == 3 and "status" not in obj
    assert obj["metadata"]["generation"] == 2
    status, obj = raw(
        api_client,
        "PATCH",
        f"{base}/w/status",
        {"spec": {"size": 4}, "status": {"phase": "ok"}, "metadata": {"labels": {"l": "1"}}},
        MERGE,
    )
    assert status == 200
    assert obj["spec"]["size"] == 3 and obj["status"] == {"phase": "ok"}
    assert obj["metadata"]["generation"] == 2
    assert "labels" not in obj["metadata"]
    status, obj = raw(api_client, "GET", f"{base}/w/status")
    assert status == 200 and obj["status"] == {"phase": "ok"}
    obj["status"] = {"phase": "put"}
    status, obj = raw(api_client, "PUT", f"{base}/w/status", obj)
    assert status == 200 and obj["status"] == {"phase": "put"}


@pytest.mark.usefixtures("widgets")
def test_custom_without_status_subresource(api_client: ApiClient) -> None:
    base = f"/apis/{GROUP}/{VERSION}/gadgets"
    name = f"g-{ns_suffix(api_client)}"
    status, obj = raw(
        api_client,
        "POST",
        base,
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Gadget",
            "metadata": {"name": name},
            "spec": {"a": 1},
            "status": {"s": 1},
        },
    )
    try:
        assert status == 201 and obj["status"] == {"s": 1}
        _, obj = raw(api_client, "PATCH", f"{base}/{name}", {"status": {"s": 2}}, MERGE)
        assert obj["status"] == {"s": 2}
        assert obj["metadata"]["generation"] == 2  # any non-metadata change counts
        status, _ = raw(api_client, "GET", f"{base}/{name}/status")
        assert status == 404
    finally:
        raw(api_client, "DELETE", f"{base}/{name}")


def ns_suffix(api_client: ApiClient) -> str:
    import uuid

    del api_client
    return uuid.uuid4().hex[:6]


def test_pod_status_subresource(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "p"},
            "spec": {"schedulerName": "zconf-none", "containers": [{"name": "c", "image": "i:1"}]},
        },
    )
    pod = core.patch_namespaced_pod("p", ns, {"status": {"phase": "Running"}})
    assert pod.status.phase == "Pending"
    pod = core.patch_namespaced_pod_status(
        "p", ns, {"status": {"phase": "Running", "podIP": "10.1.2.3"}}
    )
    assert pod.status.phase == "Running" and pod.status.pod_ip == "10.1.2.3"
    assert core.read_namespaced_pod_status("p", ns).status.phase == "Running"


def test_statefulset_scale(api_client: ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_stateful_set(ns, statefulset(replicas=1))
    scale = apps.read_namespaced_stateful_set_scale("s", ns)
    assert scale.spec.replicas == 1 and scale.status.selector == "app=s"
    scale = apps.patch_namespaced_stateful_set_scale("s", ns, {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3
    sts = apps.read_namespaced_stateful_set("s", ns)
    assert sts.spec.replicas == 3 and sts.metadata.generation == 2


def test_pod_binding(api_client: ApiClient, core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "p"},
            "spec": {"schedulerName": "zconf-none", "containers": [{"name": "c", "image": "i:1"}]},
        },
    )
    body = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"},
    }
    status, _ = raw(api_client, "POST", f"/api/v1/namespaces/{ns}/pods/p/binding", body)
    assert status == 201
    assert core.read_namespaced_pod("p", ns).spec.node_name == "node-a"
    status, res = raw(api_client, "POST", f"/api/v1/namespaces/{ns}/pods/p/binding", body)
    assert status == 409 and res["reason"] == "Conflict"
    assert res["message"] == (
        'Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node '
        '"node-a"'
    )
    # A bound pod is deleted by its kubelet (grace period 0).
    core.delete_namespaced_pod("p", ns, grace_period_seconds=0)


@pytest.mark.usefixtures("widgets")
def test_custom_scale_subresource(api_client: ApiClient, ns: str) -> None:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}"
    raw(api_client, "POST", base, widget("w", size=2))
    raw(
        api_client,
        "PATCH",
        f"{base}/w/status",
        {"status": {"replicas": 1, "selector": "app=w"}},
        MERGE,
    )
    status, scale = raw(api_client, "GET", f"{base}/w/scale")
    assert status == 200
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"] == {"replicas": 1, "selector": "app=w"}
    status, scale = raw(api_client, "PATCH", f"{base}/w/scale", {"spec": {"replicas": 3}}, MERGE)
    assert status == 200 and scale["spec"]["replicas"] == 3
    _, obj = raw(api_client, "GET", f"{base}/w")
    assert obj["spec"]["size"] == 3 and obj["metadata"]["generation"] == 2
    status, body = raw(api_client, "PATCH", f"{base}/w/scale", {"spec": {"replicas": 0}}, MERGE)
    assert status == 422
    assert any(c["field"] == "spec.size" for c in body["details"]["causes"])


def test_status_writes_and_metadata(api_client: ApiClient, core: client.CoreV1Api, ns: str) -> None:
    """Built-in /status subresources (pods, StatefulSets) let metadata edits through (their
    status strategies reset only spec); a custom resource's /status drops them."""
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "p"},
            "spec": {"schedulerName": "zconf-none", "containers": [{"name": "c", "image": "i:1"}]},
        },
    )
    pod = core.patch_namespaced_pod_status(
        "p", ns, {"metadata": {"labels": {"seen": "yes"}}, "status": {"phase": "Running"}}
    )
    assert pod.metadata.labels == {"seen": "yes"} and pod.status.phase == "Running"
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_stateful_set(ns, statefulset(replicas=0))
    sts = apps.patch_namespaced_stateful_set_status(
        "s",
        ns,
        {
            "metadata": {"labels": {"seen": "yes"}},
            "status": {"replicas": 0, "observedGeneration": 1},
        },
    )
    assert sts.metadata.labels == {"seen": "yes"} and sts.status.observed_generation == 1
