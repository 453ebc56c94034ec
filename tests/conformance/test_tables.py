"""Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`."""

from __future__ import annotations

import json

from kubernetes import client
from kubernetes.client import ApiClient

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def _get(api_client: ApiClient, path: str) -> dict[str, object]:
    method, url, headers, _, _ = api_client.param_serialize(
        "GET", path, header_params={"Accept": TABLE}, auth_settings=["BearerToken"]
    )
    resp = api_client.call_api(method, url, header_params=headers)
    resp.read()
    assert resp.status == 200
    body: dict[str, object] = json.loads(resp.data)
    return body


def test_pod_table(api_client: ApiClient, core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "p"},
            "spec": {"schedulerName": "zconf-none", "containers": [{"name": "c", "image": "i:1"}]},
        },
    )
    table = _get(api_client, f"/api/v1/namespaces/{ns}/pods")
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    names = [c["name"] for c in table["columnDefinitions"]]  # type: ignore[attr-defined]
    assert names[:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    row = table["rows"][0]  # type: ignore[index]
    assert row["cells"][:4] == ["p", "0/1", "Pending", 0] or row["cells"][:4] == [
        "p",
        "0/1",
        "Pending",
        "0",
    ]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "p"


def test_configmap_table_single_object(
    api_client: ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}, "data": {"x": "1"}})
    table = _get(api_client, f"/api/v1/namespaces/{ns}/configmaps/a")
    names = [c["name"] for c in table["columnDefinitions"]]  # type: ignore[attr-defined]
    assert names == ["Name", "Data", "Age"]
    assert table["rows"][0]["cells"][:2] == ["a", 1]  # type: ignore[index]
