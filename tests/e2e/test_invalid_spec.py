"""The API server itself rejects invalid specs (CRD schema and CEL rules), naming the
field: nothing invalid ever reaches the operator."""

from __future__ import annotations

from typing import Any

import pytest

from . import manifests, timeouts
from .conftest import E2E

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(timeouts.TEST)]

NAME = "invalid"

CASES: dict[str, tuple[dict[str, Any], str]] = {
    "replicas-3": ({"replicas": 3}, "spec.zenithSpec.replicas"),
    "polling-interval-0": ({"pollingInterval": 0}, "spec.zenithSpec.pollingInterval"),
    "unreachable-equal-polling": (
        {"pollingInterval": 10, "unreachableTimeout": 10},
        "spec.zenithSpec.unreachableTimeout",
    ),
    "unreachable-below-polling": (
        {"pollingInterval": 10, "unreachableTimeout": 5},
        "spec.zenithSpec.unreachableTimeout",
    ),
}


def cluster_with(e2e: E2E, zenith_spec: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return manifests.zenith_cluster(NAME, image=e2e.image, extra_zenith_spec=zenith_spec, **kwargs)


def test_valid_spec_is_accepted(e2e: E2E) -> None:
    """The control: the base manifest of the cases below passes the same checks."""
    result = e2e.kube.apply(cluster_with(e2e, {}), namespace=e2e.ns, dry_run=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_spec_is_rejected(e2e: E2E, case: str) -> None:
    change, field = CASES[case]
    result = e2e.kube.apply(cluster_with(e2e, change), namespace=e2e.ns, dry_run=True, check=False)
    assert result.returncode != 0, f"{case}: accepted"
    assert field in result.stderr, result.stderr


def test_storage_class_change_is_rejected(e2e: E2E) -> None:
    """A CEL transition rule: storageClassName is immutable once the cluster exists."""
    kube, ns = e2e.kube, e2e.ns
    objects = manifests.cluster_objects(
        NAME, image=e2e.image, storage_class="standard", stopped=True
    )
    kube.apply(*objects, namespace=ns)
    changed = cluster_with(e2e, {}, storage_class="other", stopped=True)
    result = kube.apply(changed, namespace=ns, check=False)
    assert result.returncode != 0, "storageClassName change accepted"
    assert "spec.zenithSpec.storageClassName" in result.stderr, result.stderr
    assert "immutable" in result.stderr, result.stderr
    stored = kube.get("zenithclusters.huawei.cloudb.com", NAME, namespace=ns)
    assert stored["spec"]["zenithSpec"]["storageClassName"] == "standard"
