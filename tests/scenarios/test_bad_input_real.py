"""The admission half of the bad-input table against a real kube-apiserver.

Runs only when ZENITH_REAL_KUBECONFIG names a kubeconfig (a shared server: nothing of
anyone else's is touched). The generated CRD is installed under a scratch API group, so
the real `zenithclusters.huawei.cloudb.com` is left alone; every REJECTED manifest is
then created with a server-side dry run in a scratch namespace and must be refused with
the same fragments as on the emulator.
"""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from bad_manifests import REJECTED, Rejected

from zenith_operator import naming
from zenith_operator.api import crd
from zenith_operator.controller.reconcile_kube import Kube, KubeError
from zenith_sandbox.polling import wait_for

REAL = os.environ.get("ZENITH_REAL_KUBECONFIG")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not REAL, reason="set ZENITH_REAL_KUBECONFIG to check a real server"),
]
GROUP = f"bad-input-{uuid.uuid4().hex[:6]}.zenith.test"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def explicit_defaults(obj: dict[str, Any]) -> dict[str, Any]:
    """The CRD with complete nested defaults (the real server checks CEL rules against a
    default without applying the defaults nested in it)."""
    obj = copy.deepcopy(obj)
    spec = obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    zenith = spec["properties"]["zenithSpec"]
    ports = zenith["properties"]["ports"]
    ports["default"] = {k: v["default"] for k, v in ports["properties"].items()}
    zenith["default"] = {k: v["default"] for k, v in zenith["properties"].items() if "default" in v}
    return obj


def scratch_crd() -> dict[str, Any]:
    obj = explicit_defaults(crd.crd())
    obj["metadata"]["name"] = f"{naming.PLURAL}.{GROUP}"
    obj["spec"]["group"] = GROUP
    obj["spec"]["names"].pop("shortNames", None)
    obj["spec"]["names"].pop("categories", None)
    return obj


@pytest.fixture(scope="module")
def real() -> Iterator[tuple[Kube, str]]:
    kube = Kube.from_kubeconfig(REAL)
    ns = f"bad-input-{uuid.uuid4().hex[:6]}"
    kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    made = scratch_crd()
    kube.request("POST", CRDS, made)  # the generated schema, accepted by the real server
    path = f"/apis/{GROUP}/{naming.VERSION}/namespaces/{ns}/{naming.PLURAL}"
    try:
        wait_for("scratch CRD served", lambda: _served(kube, path), 60)
        yield kube, path
    finally:
        kube.request("DELETE", f"{CRDS}/{made['metadata']['name']}")
        kube.request("DELETE", f"/api/v1/namespaces/{ns}")


def _served(kube: Kube, path: str) -> bool:
    try:
        kube.request("GET", path)
    except KubeError:
        return False
    return True


def test_a_good_manifest_passes(real: tuple[Kube, str]) -> None:
    kube, path = real
    body = {"apiVersion": f"{GROUP}/{naming.VERSION}", "kind": naming.KIND}
    body["metadata"] = {"name": "good"}
    body["spec"] = {"zenithSpec": {"replicas": 2, "storageSize": "5G"}}
    kube.request("POST", path, body, query={"dryRun": "All"})


@pytest.mark.parametrize("case", REJECTED, ids=[c.id for c in REJECTED])
def test_rejected_on_a_real_server(real: tuple[Kube, str], case: Rejected) -> None:
    kube, path = real
    body = {
        "apiVersion": f"{GROUP}/{naming.VERSION}",
        "kind": naming.KIND,
        "metadata": {"name": case.name or f"rej-{case.id}"},
        "spec": copy.deepcopy(case.body),
    }
    with pytest.raises(KubeError) as caught:
        kube.request("POST", path, body, query={"dryRun": "All"})
    assert caught.value.status == 422, caught.value
    for fragment in case.fragments:
        assert fragment in caught.value.message, caught.value.message
