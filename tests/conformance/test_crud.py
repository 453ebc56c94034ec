"""Create/read/update/delete and the metadata the server maintains."""

from __future__ import annotations

import re

import pytest
from kubernetes import client
from kubernetes.client import ApiClient

from .conftest import names, raw, statefulset
from .widget_crd import GROUP, PLURAL, VERSION, widget


def test_create_answers_201_with_server_metadata(api_client: ApiClient, ns: str) -> None:
    status, obj = raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"metadata": {"name": "a"}, "data": {"k": "v"}},
    )
    assert status == 201
    assert obj["apiVersion"] == "v1" and obj["kind"] == "ConfigMap"
    meta = obj["metadata"]
    assert meta["namespace"] == ns
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert meta["resourceVersion"].isdigit()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert "generation" not in meta


def test_generate_name(core: client.CoreV1Api, ns: str) -> None:
    names = {
        core.create_namespaced_config_map(ns, {"metadata": {"generateName": "gen-"}}).metadata.name
        for _ in range(3)
    }
    assert len(names) == 3
    assert all(re.fullmatch(r"gen-[a-z0-9]{5}", n) for n in names)


def test_resource_version_grows_and_noop_keeps_it(core: client.CoreV1Api, ns: str) -> None:
    a = core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}, "data": {"x": "1"}})
    b = core.patch_namespaced_config_map("a", ns, {"data": {"x": "2"}})
    assert int(b.metadata.resource_version) > int(a.metadata.resource_version)
    c = core.patch_namespaced_config_map("a", ns, {"data": {"x": "2"}})
    assert c.metadata.resource_version == b.metadata.resource_version
    assert c.metadata.uid == a.metadata.uid
    assert c.metadata.creation_timestamp == a.metadata.creation_timestamp


def test_get_and_list_carry_kind(api_client: ApiClient, ns: str) -> None:
    raw(api_client, "POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "a"}})
    status, obj = raw(api_client, "GET", f"/api/v1/namespaces/{ns}/configmaps/a")
    assert status == 200 and obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"
    status, lst = raw(api_client, "GET", f"/api/v1/namespaces/{ns}/configmaps")
    assert lst["kind"] == "ConfigMapList" and lst["apiVersion"] == "v1"
    assert lst["metadata"]["resourceVersion"].isdigit()
    assert names(lst["items"]) == ["a"]


def test_replace_with_put(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}, "data": {"x": "1"}})
    cm.data = {"y": "2"}
    out = core.replace_namespaced_config_map("a", ns, cm)
    assert out.data == {"y": "2"}
    # Without a resourceVersion the update is unconditional.
    out = core.replace_namespaced_config_map("a", ns, {"metadata": {"name": "a"}, "data": {}})
    assert not out.data


def test_delete_answers_status_or_object(api_client: ApiClient, ns: str) -> None:
    raw(api_client, "POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "a"}})
    status, body = raw(api_client, "DELETE", f"/api/v1/namespaces/{ns}/configmaps/a")
    assert status == 200
    assert body["kind"] == "Status" and body["status"] == "Success"
    assert body["details"]["name"] == "a" and body["details"]["kind"] == "configmaps"
    pod = {
        "metadata": {"name": "p"},
        "spec": {"schedulerName": "zconf-none", "containers": [{"name": "c", "image": "i"}]},
    }
    raw(api_client, "POST", f"/api/v1/namespaces/{ns}/pods", pod)
    status, body = raw(api_client, "DELETE", f"/api/v1/namespaces/{ns}/pods/p")
    assert status == 200 and body["kind"] == "Pod"


def test_delete_collection_with_selector(core: client.CoreV1Api, ns: str) -> None:
    for name, tier in (("a", "x"), ("b", "x"), ("c", "y")):
        core.create_namespaced_config_map(
            ns, {"metadata": {"name": name, "labels": {"tier": tier}}}
        )
    core.delete_collection_namespaced_config_map(ns, label_selector="tier=x")
    left = core.list_namespaced_config_map(ns, label_selector="tier").items
    assert [c.metadata.name for c in left] == ["c"]


def test_generation_tracks_spec_only(api_client: ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api_client)
    sts = statefulset(replicas=0)
    out = apps.create_namespaced_stateful_set(ns, sts)
    assert out.metadata.generation == 1
    out = apps.patch_namespaced_stateful_set("s", ns, {"metadata": {"labels": {"l": "1"}}})
    assert out.metadata.generation == 1
    out = apps.patch_namespaced_stateful_set("s", ns, {"spec": {"replicas": 2}})
    assert out.metadata.generation == 2
    out = apps.patch_namespaced_stateful_set_status("s", ns, {"status": {"replicas": 1}})
    assert out.metadata.generation == 2
    assert out.spec.replicas == 2 and out.status.replicas == 1


def test_pod_defaults(core: client.CoreV1Api, ns: str) -> None:
    pod = core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "p"},
            "spec": {
                "schedulerName": "zconf-none",
                "containers": [{"name": "c", "image": "busybox"}],
            },
        },
    )
    assert pod.status.phase == "Pending"
    assert pod.spec.restart_policy == "Always"
    assert pod.spec.containers[0].image_pull_policy == "Always"
    assert pod.spec.termination_grace_period_seconds == 30
    assert pod.status.qos_class == "BestEffort"
    assert {(t.key, t.effect, t.toleration_seconds) for t in pod.spec.tolerations} == {
        ("node.kubernetes.io/not-ready", "NoExecute", 300),
        ("node.kubernetes.io/unreachable", "NoExecute", 300),
    }


def test_pod_qos_class(core: client.CoreV1Api, ns: str) -> None:
    def make(name: str, resources: dict[str, object]) -> str:
        pod = core.create_namespaced_pod(
            ns,
            {
                "metadata": {"name": name},
                "spec": {
                    "schedulerName": "zconf-none",
                    "containers": [{"name": "c", "image": "i:1", "resources": resources}],
                },
            },
        )
        qos: str = pod.status.qos_class
        return qos

    both = {"cpu": "100m", "memory": "64Mi"}
    assert make("g", {"limits": both}) == "Guaranteed"
    assert make("g2", {"limits": both, "requests": both}) == "Guaranteed"
    assert make("b", {"requests": {"cpu": "100m"}}) == "Burstable"


def test_service_gets_cluster_ip(core: client.CoreV1Api, ns: str) -> None:
    svc = core.create_namespaced_service(
        ns,
        {
            "metadata": {"name": "s"},
            "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]},
        },
    )
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", svc.spec.cluster_ip)
    assert svc.spec.ports[0].protocol == "TCP"
    assert svc.spec.ports[0].target_port == 80
    headless = core.create_namespaced_service(
        ns,
        {
            "metadata": {"name": "h"},
            "spec": {"clusterIP": "None", "ports": [{"port": 80}]},
        },
    )
    assert headless.spec.cluster_ip == "None"


def test_cluster_scoped_and_namespace_defaults(core: client.CoreV1Api, ns: str) -> None:
    obj = core.read_namespace(ns)
    assert obj.status.phase == "Active"
    assert obj.spec.finalizers == ["kubernetes"]
    assert obj.metadata.labels["kubernetes.io/metadata.name"] == ns


@pytest.mark.usefixtures("widgets")
def test_custom_resource_delete_answers_status(api_client: ApiClient, ns: str) -> None:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}"
    _, obj = raw(api_client, "POST", base, widget("w"))
    status, body = raw(api_client, "DELETE", f"{base}/w")
    assert status == 200
    assert body["kind"] == "Status" and body["status"] == "Success"
    assert body["details"] == {
        "name": "w",
        "group": GROUP,
        "kind": PLURAL,
        "uid": obj["metadata"]["uid"],
    }


def test_dry_run_create_is_not_stored(api_client: ApiClient, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    status, obj = raw(
        api_client, "POST", path, {"metadata": {"name": "dry"}}, query={"dryRun": "All"}
    )
    assert status == 201 and obj["metadata"]["name"] == "dry" and obj["metadata"]["uid"]
    status, _ = raw(api_client, "GET", f"{path}/dry")
    assert status == 404
