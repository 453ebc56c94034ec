"""Growing a PersistentVolumeClaim (what storageSize growth relies on), as kube-apiserver
1.36 answers: only a bound claim, only up, only with an expandable StorageClass."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient

from .conftest import raw

MERGE = "application/merge-patch+json"


@pytest.fixture
def classes(api_client: ApiClient) -> Iterator[dict[bool, str]]:
    """Two StorageClasses, with and without allowVolumeExpansion (deleted afterwards)."""
    storage = client.StorageV1Api(api_client)
    suffix = uuid.uuid4().hex[:6]
    names = {True: f"conformance-exp-{suffix}", False: f"conformance-noexp-{suffix}"}
    for expandable, name in names.items():
        body: dict[str, Any] = {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
        if expandable:
            body["allowVolumeExpansion"] = True
        storage.create_storage_class(body)
    try:
        yield names
    finally:
        for name in names.values():
            storage.delete_storage_class(name)


def _claim(api_client: ApiClient, ns: str, name: str, sc: str, bound: bool) -> str:
    path = f"/api/v1/namespaces/{ns}/persistentvolumeclaims"
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": sc,
        "resources": {"requests": {"storage": "1Gi"}},
    }
    if bound:
        spec["volumeName"] = f"pv-{name}"
    body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}}
    status, created = raw(api_client, "POST", path, {**body, "spec": spec})
    assert status == 201, created
    if bound:  # as the PV controller would (the test cluster may run none)
        status, answer = raw(
            api_client,
            "PATCH",
            f"{path}/{name}/status",
            {"status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}},
            MERGE,
        )
        assert status == 200, answer
    return f"{path}/{name}"


def _grow(api_client: ApiClient, url: str, size: str) -> tuple[int, Any]:
    patch = {"spec": {"resources": {"requests": {"storage": size}}}}
    return raw(api_client, "PATCH", url, patch, MERGE)


def test_pvc_resize(api_client: ApiClient, ns: str, classes: dict[bool, str]) -> None:
    # a claim that is not bound cannot change its spec at all
    url = _claim(api_client, ns, "unbound", classes[True], bound=False)
    status, answer = _grow(api_client, url, "2Gi")
    assert status == 422, answer
    assert answer["message"].startswith(
        'PersistentVolumeClaim "unbound" is invalid: spec: Forbidden: spec is immutable after '
        "creation except resources.requests and volumeAttributesClassName for bound claims"
    ), answer["message"]
    # bound, StorageClass without allowVolumeExpansion: the admission plugin says no
    url = _claim(api_client, ns, "fixed", classes[False], bound=True)
    status, answer = _grow(api_client, url, "2Gi")
    assert status == 403, answer
    assert answer["reason"] == "Forbidden"
    assert answer["message"] == (
        'persistentvolumeclaims "fixed" is forbidden: only dynamically provisioned pvc can be '
        "resized and the storageclass that provisions the pvc must support resize"
    )
    # bound and expandable: the request grows (status.capacity follows from the resizer)
    url = _claim(api_client, ns, "grows", classes[True], bound=True)
    status, answer = _grow(api_client, url, "2Gi")
    assert status == 200, answer
    assert answer["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert answer["status"]["capacity"]["storage"] == "1Gi"
    # never below the capacity
    status, answer = _grow(api_client, url, "512Mi")
    assert status == 422, answer
    assert answer["message"] == (
        'PersistentVolumeClaim "grows" is invalid: spec.resources.requests.storage: '
        "Forbidden: field can not be less than status.capacity"
    )
