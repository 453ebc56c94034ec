"""Built-in validation that catches manifest bugs (names, ports, mounts, keys)."""

from __future__ import annotations

from typing import Any

from kubernetes.client import ApiClient

from .conftest import raw


def _causes(body: Any) -> dict[str, str]:
    return {c["field"]: c["message"] for c in body["details"]["causes"]}


def test_pod_container_rules(api_client: ApiClient, ns: str) -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "schedulerName": "zconf-none",
            "containers": [
                {
                    "name": "c",
                    "image": "i:1",
                    "ports": [{"containerPort": 0}, {"containerPort": 70000}],
                    "env": [{"name": "A=B", "value": "x"}],
                    "volumeMounts": [{"name": "missing", "mountPath": "/data"}],
                },
                {"name": "c", "image": "i:1"},
                {"name": "Bad_Name", "image": "i:1"},
            ],
        },
    }
    status, body = raw(api_client, "POST", f"/api/v1/namespaces/{ns}/pods", pod)
    assert status == 422
    causes = _causes(body)
    assert causes["spec.containers[0].ports[0].containerPort"] == "Required value"
    assert causes["spec.containers[0].ports[1].containerPort"] == (
        "Invalid value: 70000: must be between 1 and 65535, inclusive"
    )
    assert causes["spec.containers[0].env[0].name"].startswith(
        'Invalid value: "A=B": a valid environment variable name must consist'
    )
    assert causes["spec.containers[0].volumeMounts[0].name"] == 'Not found: "missing"'
    assert causes["spec.containers[1].name"] == 'Duplicate value: "c"'
    assert causes["spec.containers[2].name"].startswith(
        'Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of'
    )


def test_statefulset_mounts_claim_templates(api_client: ApiClient, ns: str) -> None:
    sts = {
        "metadata": {"name": "s"},
        "spec": {
            "replicas": 0,
            "serviceName": "s",
            "selector": {"matchLabels": {"app": "s"}},
            "template": {
                "metadata": {"labels": {"app": "s"}},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "i:1",
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }
    status, body = raw(api_client, "POST", f"/apis/apps/v1/namespaces/{ns}/statefulsets", sts)
    assert status == 201, body


def test_service_ports(api_client: ApiClient, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    status, body = raw(
        api_client, "POST", base, {"metadata": {"name": "a"}, "spec": {"selector": {"x": "y"}}}
    )
    assert status == 422 and _causes(body) == {"spec.ports": "Required value"}
    status, body = raw(
        api_client,
        "POST",
        base,
        {"metadata": {"name": "b"}, "spec": {"ports": [{"port": 80}, {"port": 81}]}},
    )
    assert status == 422 and "spec.ports[0].name" in _causes(body)
    status, _ = raw(
        api_client, "POST", base, {"metadata": {"name": "h"}, "spec": {"clusterIP": "None"}}
    )
    assert status == 201


def test_config_keys(api_client: ApiClient, ns: str) -> None:
    status, body = raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"metadata": {"name": "a"}, "data": {"bad key": "v"}},
    )
    assert status == 422
    assert _causes(body)["data[bad key]"].startswith(
        'Invalid value: "bad key": a valid config key must consist of alphanumeric characters'
    )


def test_secret_data_must_be_base64(api_client: ApiClient, ns: str) -> None:
    status, body = raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{ns}/secrets",
        {"metadata": {"name": "s"}, "data": {"k": "not base64!"}},
    )
    assert status == 400
    assert body["message"].startswith(
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data'
    )
    status, obj = raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{ns}/secrets",
        {"metadata": {"name": "t"}, "stringData": {"k": "v"}},
    )
    assert status == 201 and obj["data"] == {"k": "dg=="} and "stringData" not in obj
