"""Merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge and server-side apply."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client import ApiClient

from .conftest import raw
from .widget_crd import GROUP, PLURAL, VERSION, widget

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
SMP = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def _pod(name: str = "p") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"a": "1", "b": "2"}},
        "spec": {
            "schedulerName": "zconf-none",
            "containers": [
                {
                    "name": "main",
                    "image": "img:1",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 80}],
                },
                {"name": "side", "image": "side:1"},
            ],
            "tolerations": [{"key": "k", "operator": "Exists"}],
        },
    }


def _cm(api_client: ApiClient, ns: str) -> str:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    raw(
        api_client,
        "POST",
        path,
        {
            "metadata": {"name": "a", "labels": {"x": "1", "y": "2"}},
            "data": {"k1": "v1", "k2": "v2"},
        },
    )
    return f"{path}/a"


def test_merge_patch_null_deletes(api_client: ApiClient, ns: str) -> None:
    path = _cm(api_client, ns)
    status, obj = raw(
        api_client,
        "PATCH",
        path,
        {"metadata": {"labels": {"x": None, "z": "3"}}, "data": {"k1": None}},
        MERGE,
    )
    assert status == 200
    assert obj["metadata"]["labels"] == {"y": "2", "z": "3"}
    assert obj["data"] == {"k2": "v2"}


def test_json_patch_ops(api_client: ApiClient, ns: str) -> None:
    path = _cm(api_client, ns)
    ops = [
        {"op": "test", "path": "/data/k1", "value": "v1"},
        {"op": "add", "path": "/data/k3", "value": "v3"},
        {"op": "remove", "path": "/data/k2"},
        {"op": "replace", "path": "/metadata/labels/x", "value": "9"},
        {"op": "copy", "from": "/data/k1", "path": "/data/k4"},
        {"op": "move", "from": "/data/k4", "path": "/data/k5"},
    ]
    status, obj = raw(api_client, "PATCH", path, ops, JSON)
    assert status == 200
    assert obj["data"] == {"k1": "v1", "k3": "v3", "k5": "v1"}
    assert obj["metadata"]["labels"]["x"] == "9"


def test_json_patch_failed_test_is_422(api_client: ApiClient, ns: str) -> None:
    path = _cm(api_client, ns)
    _, before = raw(api_client, "GET", path)
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
        {"op": "replace", "path": "/data/k1", "value": "changed"},
    ]
    status, body = raw(api_client, "PATCH", path, ops, JSON)
    assert status == 422
    assert body["reason"] == "Invalid"
    assert body["message"] == "the server rejected our request due to an error in our request"
    _, after = raw(api_client, "GET", path)
    assert after["data"] == before["data"]


def test_json_patch_kopf_style_finalizer_guard(api_client: ApiClient, ns: str) -> None:
    path = _cm(api_client, ns)
    _, obj = raw(api_client, "GET", path)
    rv = obj["metadata"]["resourceVersion"]
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x.example/f"]},
    ]
    status, obj = raw(api_client, "PATCH", path, ops, JSON)
    assert status == 200 and obj["metadata"]["finalizers"] == ["x.example/f"]
    raw(api_client, "PATCH", path, [{"op": "remove", "path": "/metadata/finalizers"}], JSON)


def test_json_patch_inapplicable_is_422(api_client: ApiClient, ns: str) -> None:
    path = _cm(api_client, ns)
    status, body = raw(api_client, "PATCH", path, [{"op": "remove", "path": "/data/nope"}], JSON)
    assert status == 422 and body["reason"] == "Invalid"


def _sts(api_client: ApiClient, ns: str) -> str:
    base = f"/apis/apps/v1/namespaces/{ns}/statefulsets"
    pod = _pod()
    sts = {
        "metadata": {"name": "s", "labels": pod["metadata"]["labels"]},
        "spec": {
            "replicas": 0,
            "serviceName": "s",
            "selector": {"matchLabels": {"app": "s"}},
            "template": {"metadata": {"labels": {"app": "s"}}, "spec": pod["spec"]},
        },
    }
    status, body = raw(api_client, "POST", base, sts)
    assert status == 201, body
    return f"{base}/s"


def test_strategic_merge_keyed_lists(api_client: ApiClient, ns: str) -> None:
    path = _sts(api_client, ns)
    patch = {
        "metadata": {"labels": {"a": None}},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "img:2",
                            "env": [{"name": "B", "value": "22"}, {"name": "C", "value": "3"}],
                        },
                    ],
                    "tolerations": [{"key": "other", "operator": "Exists"}],
                }
            }
        },
    }
    status, obj = raw(api_client, "PATCH", path, patch, SMP)
    assert status == 200, obj
    pod_spec = obj["spec"]["template"]["spec"]
    containers = pod_spec["containers"]
    assert [c["name"] for c in containers] == ["main", "side"]
    assert containers[0]["image"] == "img:2"
    assert containers[0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "22"},
        {"name": "C", "value": "3"},
    ]
    assert containers[0]["ports"][0]["containerPort"] == 80
    assert pod_spec["tolerations"] == [{"key": "other", "operator": "Exists"}]
    assert obj["metadata"]["labels"] == {"b": "2"}


def test_strategic_merge_on_pod_image(api_client: ApiClient, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/pods"
    raw(api_client, "POST", base, _pod())
    patch = {"spec": {"containers": [{"name": "side", "image": "side:2"}]}}
    status, obj = raw(api_client, "PATCH", f"{base}/p", patch, SMP)
    assert status == 200, obj
    assert [c["image"] for c in obj["spec"]["containers"]] == ["img:1", "side:2"]


def test_strategic_merge_directives(api_client: ApiClient, ns: str) -> None:
    path = _sts(api_client, ns)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "side", "$patch": "delete"},
                        {"name": "main", "env": [{"name": "A", "$patch": "delete"}]},
                    ]
                }
            }
        }
    }
    status, obj = raw(api_client, "PATCH", path, patch, SMP)
    assert status == 200, obj
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main"]
    assert containers[0]["env"] == [{"name": "B", "value": "2"}]
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "o:1"}]}
            }
        }
    }
    status, obj = raw(api_client, "PATCH", path, patch, SMP)
    assert status == 200, obj
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["only"]


@pytest.mark.usefixtures("widgets")
def test_strategic_merge_on_custom_resource_is_415(api_client: ApiClient, ns: str) -> None:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}"
    raw(api_client, "POST", base, widget("w"))
    status, body = raw(api_client, "PATCH", f"{base}/w", {"spec": {"size": 2}}, SMP)
    assert status == 415
    assert body["reason"] == "UnsupportedMediaType"
    assert "application/merge-patch+json" in body["message"]


def test_apply_creates_then_merges(api_client: ApiClient, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/applied"
    manifest = (
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"},'
        ' "data": {"a": "1"}}'
    )
    status, obj = raw(api_client, "PATCH", path, manifest, APPLY, {"fieldManager": "conf"})
    assert status == 201 and obj["data"] == {"a": "1"}
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  b: '2'\n"
    status, obj = raw(api_client, "PATCH", path, manifest, APPLY, {"fieldManager": "other"})
    assert status == 200 and obj["data"]["b"] == "2"


def test_apply_needs_field_manager(api_client: ApiClient, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/applied"
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n"
    status, body = raw(api_client, "PATCH", path, manifest, APPLY)
    assert status == 422
    assert "fieldManager: Required value: is required for apply patch" in body["message"]


def test_patch_missing_object_is_404(api_client: ApiClient, ns: str) -> None:
    status, body = raw(
        api_client, "PATCH", f"/api/v1/namespaces/{ns}/configmaps/nope", {"data": {}}, MERGE
    )
    assert status == 404 and body["message"] == 'configmaps "nope" not found'


def test_apply_removes_fields_the_manager_stopped_applying(api_client: ApiClient, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/owned"

    def apply(manager: str, data: dict[str, str]) -> dict[str, Any]:
        manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "owned"},
            "data": data,
        }
        status, obj = raw(
            api_client, "PATCH", path, json.dumps(manifest), APPLY, {"fieldManager": manager}
        )
        assert status in (200, 201), obj
        return obj

    apply("one", {"a": "1", "b": "2"})
    apply("two", {"c": "3"})
    obj = apply("one", {"a": "1"})
    assert obj["data"] == {"a": "1", "c": "3"}
