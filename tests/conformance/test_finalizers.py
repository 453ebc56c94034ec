"""Finalizers, deletionTimestamp, and pod deletion that waits for a kubelet."""

from __future__ import annotations

from kubernetes import client
from kubernetes.client import ApiClient

from .conftest import poll, raw, statefulset


def _gone(read: object) -> bool:
    try:
        read()  # type: ignore[operator]
    except client.ApiException as e:
        if e.status == 404:
            return True
        raise
    return False


def test_delete_with_finalizer_marks_then_removes(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "a", "finalizers": ["x.example/f"]}}
    )
    core.delete_namespaced_config_map("a", ns)
    cm = core.read_namespaced_config_map("a", ns)
    assert cm.metadata.deletion_timestamp is not None
    assert cm.metadata.deletion_grace_period_seconds == 0
    assert cm.metadata.finalizers == ["x.example/f"]
    # Other edits are still allowed while terminating.
    core.patch_namespaced_config_map("a", ns, {"data": {"k": "v"}})
    core.patch_namespaced_config_map("a", ns, {"metadata": {"finalizers": None}})
    assert _gone(lambda: core.read_namespaced_config_map("a", ns))


def test_no_new_finalizers_while_deleting(
    api_client: ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "a", "finalizers": ["x.example/f"]}}
    )
    core.delete_namespaced_config_map("a", ns)
    status, body = raw(
        api_client,
        "PATCH",
        f"/api/v1/namespaces/{ns}/configmaps/a",
        {"metadata": {"finalizers": ["x.example/f", "x.example/g"]}},
        "application/merge-patch+json",
    )
    assert status == 422
    assert body["details"]["causes"][0]["field"] == "metadata.finalizers"
    assert "no new finalizers can be added if the object is being deleted" in body["message"]
    core.patch_namespaced_config_map("a", ns, {"metadata": {"finalizers": None}})


def test_generation_bumps_when_deletion_starts(api_client: ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_stateful_set(ns, statefulset(finalizers=["x.example/f"]))
    apps.delete_namespaced_stateful_set("s", ns)
    sts = apps.read_namespaced_stateful_set("s", ns)
    assert sts.metadata.generation == 2
    apps.patch_namespaced_stateful_set("s", ns, {"metadata": {"finalizers": None}})


def _pod(name: str, node: str | None = None) -> dict[str, object]:
    spec: dict[str, object] = {
        "schedulerName": "zconf-none",
        "containers": [{"name": "c", "image": "i:1"}],
    }
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name}, "spec": spec}


def test_unscheduled_pod_is_deleted_at_once(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, _pod("p"))
    core.delete_namespaced_pod("p", ns)
    assert _gone(lambda: core.read_namespaced_pod("p", ns))


def test_bound_pod_waits_for_kubelet(core: client.CoreV1Api, ns: str) -> None:
    """A pod on a node is only marked; its kubelet deletes it with gracePeriodSeconds=0."""
    core.create_namespaced_pod(ns, _pod("p", node="zconf-no-such-node"))
    core.delete_namespaced_pod("p", ns)
    pod = core.read_namespaced_pod("p", ns)
    assert pod.metadata.deletion_timestamp is not None
    assert pod.metadata.deletion_grace_period_seconds == 30
    core.delete_namespaced_pod("p", ns, grace_period_seconds=0)
    assert _gone(lambda: core.read_namespaced_pod("p", ns))


def test_bound_pod_with_finalizer(core: client.CoreV1Api, ns: str) -> None:
    body = _pod("p", node="zconf-no-such-node")
    body["metadata"] = {"name": "p", "finalizers": ["x.example/f"]}
    core.create_namespaced_pod(ns, body)
    core.delete_namespaced_pod("p", ns, grace_period_seconds=0)
    pod = core.read_namespaced_pod("p", ns)
    assert pod.metadata.deletion_grace_period_seconds == 0
    core.patch_namespaced_pod("p", ns, {"metadata": {"finalizers": None}})
    poll(lambda: _gone(lambda: core.read_namespaced_pod("p", ns)), what="pod removal")


def test_delete_preconditions(api_client: ApiClient, core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    status, body = raw(
        api_client,
        "DELETE",
        f"/api/v1/namespaces/{ns}/configmaps/a",
        {"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}},
    )
    assert status == 409 and body["reason"] == "Conflict"
    uid = core.read_namespaced_config_map("a", ns).metadata.uid
    assert body["message"] == (
        'Operation cannot be fulfilled on ConfigMap "a": the UID in the precondition '
        f"(00000000-0000-0000-0000-000000000000) does not match the UID in record ({uid}). "
        "The object might have been deleted and then recreated"
    )
    status, body = raw(
        api_client,
        "DELETE",
        f"/api/v1/namespaces/{ns}/configmaps/a",
        {"preconditions": {"resourceVersion": "1"}},
    )
    assert status == 409
    assert "the ResourceVersion in the precondition (1) does not match" in body["message"]
