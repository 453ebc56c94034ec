"""Discovery documents that kopf, the kubernetes client and kubectl read."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client import ApiClient

from .conftest import raw
from .widget_crd import GROUP, VERSION


def _resources(api_client: ApiClient, path: str) -> dict[str, dict[str, Any]]:
    status, body = raw(api_client, "GET", path)
    assert status == 200
    assert body["kind"] == "APIResourceList"
    return {r["name"]: r for r in body["resources"]}


def test_core_versions(api_client: ApiClient) -> None:
    status, body = raw(api_client, "GET", "/api")
    assert status == 200 and body["kind"] == "APIVersions" and body["versions"] == ["v1"]


def test_core_resources(api_client: ApiClient) -> None:
    res = _resources(api_client, "/api/v1")
    pods = res["pods"]
    assert pods["kind"] == "Pod" and pods["namespaced"] is True
    assert pods["singularName"] == "pod" and "po" in pods["shortNames"]
    assert set(pods["verbs"]) >= {
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    }
    assert set(res["pods/status"]["verbs"]) == {"get", "patch", "update"}
    assert res["pods/binding"]["verbs"] == ["create"]
    assert res["namespaces"]["namespaced"] is False
    for name in (
        "nodes",
        "services",
        "endpoints",
        "configmaps",
        "secrets",
        "events",
        "persistentvolumeclaims",
        "persistentvolumes",
    ):
        assert name in res


@pytest.mark.parametrize(
    ("group_version", "names"),
    [
        ("apps/v1", ["statefulsets", "statefulsets/status", "statefulsets/scale", "deployments"]),
        ("policy/v1", ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        ("coordination.k8s.io/v1", ["leases"]),
        ("storage.k8s.io/v1", ["storageclasses"]),
        ("events.k8s.io/v1", ["events"]),
        (
            "apiextensions.k8s.io/v1",
            ["customresourcedefinitions", "customresourcedefinitions/status"],
        ),
    ],
)
def test_group_resources(api_client: ApiClient, group_version: str, names: list[str]) -> None:
    res = _resources(api_client, f"/apis/{group_version}")
    for name in names:
        assert name in res, name


def test_scale_subresource_kind(api_client: ApiClient) -> None:
    scale = _resources(api_client, "/apis/apps/v1")["statefulsets/scale"]
    assert scale["kind"] == "Scale"
    assert scale["group"] == "autoscaling" and scale["version"] == "v1"


def test_group_list(api_client: ApiClient) -> None:
    status, body = raw(api_client, "GET", "/apis")
    assert status == 200 and body["kind"] == "APIGroupList"
    groups = {g["name"]: g for g in body["groups"]}
    assert groups["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}


@pytest.mark.usefixtures("widgets")
def test_crd_resources_are_discoverable(api_client: ApiClient) -> None:
    res = _resources(api_client, f"/apis/{GROUP}/{VERSION}")
    assert res["widgets"]["kind"] == "Widget" and res["widgets"]["namespaced"] is True
    assert res["widgets"]["shortNames"] == ["wdg"]
    assert "widgets/status" in res
    assert res["gadgets"]["namespaced"] is False and "gadgets/status" not in res
    _, body = raw(api_client, "GET", "/apis")
    assert GROUP in {g["name"] for g in body["groups"]}


def test_version(api_client: ApiClient) -> None:
    status, body = raw(api_client, "GET", "/version")
    assert status == 200 and body["major"] == "1" and body["gitVersion"].startswith("v1.")
