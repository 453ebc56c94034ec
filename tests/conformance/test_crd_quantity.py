"""The Kubernetes CEL quantity library, through ZenithCluster's own storageSize rule
(grow, never shrink) on a small CRD of its own: `sizes.conformance.zenith.example`."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes.client import ApiClient

from zenith_operator.api.crd import crd

from .conftest import _ensure_crd, raw
from .widget_crd import GROUP, VERSION

PLURAL = "sizes"


def _storage_size_schema() -> dict[str, Any]:
    version = crd()["spec"]["versions"][0]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    node: dict[str, Any] = spec["properties"]["zenithSpec"]["properties"]["storageSize"]
    return copy.deepcopy(node)


SIZE_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "size", "kind": "Size"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"storageSize": _storage_size_schema()},
                            }
                        },
                    }
                },
            }
        ],
    },
}

SHRINK = "storageSize cannot shrink: a volume can only grow"


@pytest.fixture
def sizes(api_client: ApiClient) -> None:
    _ensure_crd(api_client, SIZE_CRD)


@pytest.mark.usefixtures("sizes")
def test_storage_size_may_grow_never_shrink(api_client: ApiClient, ns: str) -> None:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}"
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Size",
        "metadata": {"name": "s"},
        "spec": {"storageSize": "1Gi"},
    }
    status, created = raw(api_client, "POST", base, body)
    assert status == 201, created
    merge = "application/merge-patch+json"

    def patch(value: Any) -> tuple[int, Any]:
        return raw(api_client, "PATCH", f"{base}/s", {"spec": {"storageSize": value}}, merge)

    # growth, in any unit, and an equal value in other words are accepted
    for value in ("2Gi", 3221225472, "3Gi", "3.5Gi"):
        status, answer = patch(value)
        assert status == 200, (value, answer)
    # anything smaller is refused, strings quoted, integers bare (as kube-apiserver 1.36)
    for value, shown in (("1Gi", '"1Gi"'), ("3G", '"3G"'), (1024, "1024")):
        status, answer = patch(value)
        assert status == 422, (value, answer)
        assert answer["message"].endswith(
            f"is invalid: spec.storageSize: Invalid value: {shown}: {SHRINK}"
        ), answer["message"]
