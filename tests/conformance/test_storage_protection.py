"""PVC/PV in-use protection finalizers (StorageObjectInUseProtection and its controllers)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from .conftest import poll


def _gone(read: Any) -> bool:
    try:
        read()
    except client.ApiException as e:
        return e.status == 404
    return False


def _claim(core: client.CoreV1Api, ns: str, name: str) -> Any:
    return core.create_namespaced_persistent_volume_claim(
        ns,
        {
            "metadata": {"name": name},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "zconf-none",
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )


def _pod_mounting(core: client.CoreV1Api, ns: str, name: str, claim: str, **spec: Any) -> None:
    volume = {"name": "d", "persistentVolumeClaim": {"claimName": claim}}
    body = {"containers": [{"name": "c", "image": "i:1"}], "volumes": [volume], **spec}
    core.create_namespaced_pod(ns, {"metadata": {"name": name}, "spec": body})


def test_pvc_protected_while_a_scheduled_pod_mounts_it(core: client.CoreV1Api, ns: str) -> None:
    """Only pods scheduled to a node hold a claim (pvc-protection-controller 1.36 checks
    spec.nodeName): an unscheduled pod's claim goes at once."""
    pvc = _claim(core, ns, "data")
    assert "kubernetes.io/pvc-protection" in pvc.metadata.finalizers
    _claim(core, ns, "free")
    _pod_mounting(core, ns, "p", "data", nodeName="zconf-no-such-node")
    _pod_mounting(core, ns, "u", "free", schedulerName="zconf-none")
    core.delete_namespaced_persistent_volume_claim("data", ns)
    held = core.read_namespaced_persistent_volume_claim("data", ns)
    assert held.metadata.deletion_timestamp is not None
    core.delete_namespaced_persistent_volume_claim("free", ns)
    poll(
        lambda: _gone(lambda: core.read_namespaced_persistent_volume_claim("free", ns)),
        what="a claim only an unscheduled pod mounts released",
    )
    assert core.read_namespaced_persistent_volume_claim("data", ns).metadata.deletion_timestamp
    core.delete_namespaced_pod("p", ns, grace_period_seconds=0)
    poll(
        lambda: _gone(lambda: core.read_namespaced_persistent_volume_claim("data", ns)),
        what="claim released once no pod uses it",
    )


def test_pv_protected_while_bound(core: client.CoreV1Api, ns: str) -> None:
    pv = core.create_persistent_volume(
        {
            "metadata": {"generateName": "zconf-pv-"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "hostPath": {"path": "/tmp/zconf-none"},
                "persistentVolumeReclaimPolicy": "Retain",
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": ns,
                    "name": "data",
                },
            },
        }
    )
    name = pv.metadata.name
    assert "kubernetes.io/pv-protection" in pv.metadata.finalizers
    try:
        core.create_namespaced_persistent_volume_claim(
            ns,
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "",
                    "volumeName": name,
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )
        # A PV controller binds them (the emulator has none: the sandbox runtime is one).
        core.patch_persistent_volume_status(name, {"status": {"phase": "Bound"}})
        core.delete_persistent_volume(name)
        assert core.read_persistent_volume(name).metadata.deletion_timestamp is not None
        core.delete_namespaced_persistent_volume_claim("data", ns)
        poll(
            lambda: _gone(lambda: core.read_namespaced_persistent_volume_claim("data", ns)),
            what="claim deleted",
        )
        try:  # what the PV controller does once the claim is gone
            core.patch_persistent_volume_status(name, {"status": {"phase": "Released"}})
        except client.ApiException as e:
            assert e.status == 404
        poll(
            lambda: _gone(lambda: core.read_persistent_volume(name)),
            what="volume released once not bound",
        )
    finally:
        if not _gone(lambda: core.read_persistent_volume(name)):
            core.patch_persistent_volume(name, {"metadata": {"finalizers": None}})
