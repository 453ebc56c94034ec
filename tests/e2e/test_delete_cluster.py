"""Deleting a ZenithCluster removes what the operator made and honours
spec.retentionPolicy.pvcs: Retain (the default) keeps the data PVCs, Delete removes
them. The user's own Secret and ConfigMap are left alone."""

from __future__ import annotations

from functools import partial

import pytest

from zenith_operator import naming

from . import manifests, timeouts
from .conftest import E2E
from .kube import ZC, wait_for, wait_normal

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(timeouts.TEST)]

KEEP = "keep"  # retentionPolicy not set: Retain
DROP = "drop"  # retentionPolicy.pvcs: Delete


def owned_objects(e2e: E2E, name: str) -> list[str]:
    """The operator's objects of cluster `name` that still exist."""
    candidates = [
        ("statefulset", naming.statefulset_name(name)),
        ("service", naming.headless_service_name(name)),
        ("service", naming.rw_service_name(name)),
        ("service", naming.ro_service_name(name)),
        ("poddisruptionbudget", naming.pdb_name(name)),
        ("pod", naming.pod_name(name, 0)),
    ]
    return [
        f"{kind}/{obj}"
        for kind, obj in candidates
        if e2e.kube.get_or_none(kind, obj, namespace=e2e.ns) is not None
    ]


def all_gone(e2e: E2E, name: str) -> bool:
    return not owned_objects(e2e, name)


def test_delete_honours_retention_policy(e2e: E2E) -> None:
    kube, ns = e2e.kube, e2e.ns
    e2e.create_cluster(KEEP, replicas=1)
    e2e.create_cluster(DROP, replicas=1, retention="Delete")
    for name in (KEEP, DROP):
        wait_normal(kube, ns, name, replicas=1)
        assert kube.get("pvc", manifests.data_pvc_name(name, 0), namespace=ns)
    assert kube.get(ZC, KEEP, namespace=ns)["spec"]["retentionPolicy"]["pvcs"] == "Retain"

    kube(
        "delete",
        ZC,
        KEEP,
        DROP,
        "--wait=true",
        f"--timeout={timeouts.DELETE}s",
        namespace=ns,
        timeout=timeouts.DELETE + 10,
    )
    for name in (KEEP, DROP):
        wait_for(
            partial(all_gone, e2e, name), timeouts.DELETE, f"the objects of {name} to be deleted"
        )

    kept = kube.get("pvc", manifests.data_pvc_name(KEEP, 0), namespace=ns)
    assert not kept["metadata"].get("deletionTimestamp"), "Retain: the PVC is being deleted"
    wait_for(
        lambda: kube.get_or_none("pvc", manifests.data_pvc_name(DROP, 0), namespace=ns) is None,
        timeouts.DELETE,
        f"Delete: {manifests.data_pvc_name(DROP, 0)} removed",
    )
    for name in (KEEP, DROP):
        kube.get("secret", manifests.db_secret_name(name), namespace=ns)
        kube.get("configmap", manifests.db_config_name(name), namespace=ns)
