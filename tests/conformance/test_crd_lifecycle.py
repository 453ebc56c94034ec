"""A CRD's life: served once created, updated schema applies, deletion removes its objects."""

from __future__ import annotations

import uuid
from typing import Any

from kubernetes.client import ApiClient

from .conftest import poll, raw

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _crd(group: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"probes.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "probes", "singular": "probe", "kind": "Probe"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "properties": props}},
                        }
                    },
                }
            ],
        },
    }


def test_crd_lifecycle(api_client: ApiClient, ns: str) -> None:
    group = f"g{uuid.uuid4().hex[:8]}.conformance.zenith.example"
    status, crd = raw(api_client, "POST", CRDS, _crd(group, {"a": {"type": "string"}}))
    assert status == 201, crd
    name = crd["metadata"]["name"]
    base = f"/apis/{group}/v1/namespaces/{ns}/probes"
    try:

        def served() -> bool:
            return raw(api_client, "GET", base)[0] == 200

        poll(served, what="custom resource served")
        body = {
            "apiVersion": f"{group}/v1",
            "kind": "Probe",
            "metadata": {"name": "p"},
            "spec": {"a": "x", "b": 1},
        }
        status, obj = raw(api_client, "POST", base, body)
        assert status == 201 and obj["spec"] == {"a": "x"}  # b pruned
        _, crd = raw(api_client, "GET", f"{CRDS}/{name}")
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
            "b"
        ] = {"type": "integer"}
        status, _ = raw(api_client, "PUT", f"{CRDS}/{name}", crd)
        assert status == 200

        def b_kept() -> bool:
            body["metadata"]["name"] = f"p{uuid.uuid4().hex[:6]}"
            status, obj = raw(api_client, "POST", base, body)
            return status == 201 and obj["spec"].get("b") == 1

        poll(b_kept, what="updated schema in effect")
    finally:
        raw(api_client, "DELETE", f"{CRDS}/{name}")

    def crd_gone() -> bool:
        return raw(api_client, "GET", f"{CRDS}/{name}")[0] == 404

    poll(crd_gone, timeout=60, what="CRD deleted")
    status, _ = raw(api_client, "GET", base)
    assert status == 404
    assert group not in {g["name"] for g in raw(api_client, "GET", "/apis")[1]["groups"]}
