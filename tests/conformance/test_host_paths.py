"""Host paths may not climb out with `..` (validatePathNoBacksteps, kube-apiserver 1.36)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client import ApiClient

from .conftest import raw


def test_a_pod_host_path_may_not_climb(api_client: ApiClient, ns: str) -> None:
    body = {
        "metadata": {"name": "p"},
        "spec": {
            "schedulerName": "zconf-none",
            "containers": [{"name": "c", "image": "i:1"}],
            "volumes": [{"name": "h", "hostPath": {"path": "/var/../etc"}}],
        },
    }
    status, res = raw(
        api_client, "POST", f"/api/v1/namespaces/{ns}/pods", body, query={"dryRun": "All"}
    )
    assert status == 422, res
    assert res["message"] == (
        'Pod "p" is invalid: spec.volumes[0].hostPath.path: Invalid value: "/var/../etc": '
        "must not contain '..'"
    )


@pytest.mark.parametrize("source", ["hostPath", "local"])
def test_a_persistent_volume_path_may_not_climb(
    api_client: ApiClient, ns: str, source: str
) -> None:
    spec: dict[str, Any] = {
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteOnce"],
        source: {"path": "/mnt/../etc"},
    }
    if source == "local":
        term = {"key": "kubernetes.io/hostname", "operator": "In", "values": ["zconf-none"]}
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [term]}]}}
    body = {"metadata": {"name": f"{ns}-climb"}, "spec": spec}
    status, res = raw(
        api_client, "POST", "/api/v1/persistentvolumes", body, query={"dryRun": "All"}
    )
    assert status == 422, res
    assert res["message"] == (
        f'PersistentVolume "{ns}-climb" is invalid: spec.{source}.path: Invalid value: '
        "\"/mnt/../etc\": must not contain '..'"
    )
