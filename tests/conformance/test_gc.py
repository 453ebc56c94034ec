"""ownerReference garbage collection and namespace deletion (asynchronous: poll)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from .conftest import ROOT_CA, poll, raw


def _owned(name: str, owner: Any, block: bool = False) -> dict[str, Any]:
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner.metadata.name,
        "uid": owner.metadata.uid,
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return {"metadata": {"name": name, "ownerReferences": [ref]}}


def _exists(core: client.CoreV1Api, ns: str, name: str) -> bool:
    try:
        core.read_namespaced_config_map(name, ns)
    except client.ApiException as e:
        if e.status == 404:
            return False
        raise
    return True


def test_background_deletion_collects_dependents(core: client.CoreV1Api, ns: str) -> None:
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map(ns, _owned("dep", owner))
    core.delete_namespaced_config_map("owner", ns, propagation_policy="Background")
    poll(lambda: not _exists(core, ns, "dep"), what="dependent collected")


def test_dependent_with_another_live_owner_survives(core: client.CoreV1Api, ns: str) -> None:
    a = core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    b = core.create_namespaced_config_map(ns, {"metadata": {"name": "b"}})
    body = _owned("dep", a)
    body["metadata"]["ownerReferences"] += _owned("x", b)["metadata"]["ownerReferences"]
    core.create_namespaced_config_map(ns, body)
    core.delete_namespaced_config_map("a", ns)

    def unlinked() -> bool:
        refs = core.read_namespaced_config_map("dep", ns).metadata.owner_references or []
        return [r.name for r in refs] == ["b"]

    poll(unlinked, what="owner reference removed")


def test_foreground_deletion_waits_for_dependents(core: client.CoreV1Api, ns: str) -> None:
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map(ns, _owned("dep", owner, block=True))
    status, seen = raw(
        core.api_client,
        "DELETE",
        f"/api/v1/namespaces/{ns}/configmaps/owner",
        {"propagationPolicy": "Foreground"},
    )
    assert status == 200 and seen["kind"] == "ConfigMap"
    assert seen["metadata"]["deletionTimestamp"]
    assert "foregroundDeletion" in seen["metadata"]["finalizers"]
    poll(lambda: not _exists(core, ns, "dep"), what="dependent deleted")
    poll(lambda: not _exists(core, ns, "owner"), what="owner deleted after dependents")


def test_orphan_deletion_keeps_dependents(core: client.CoreV1Api, ns: str) -> None:
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map(ns, _owned("dep", owner))
    core.delete_namespaced_config_map("owner", ns, propagation_policy="Orphan")
    poll(lambda: not _exists(core, ns, "owner"), what="owner deleted")
    dep = core.read_namespaced_config_map("dep", ns)
    assert not dep.metadata.owner_references


def test_namespace_deletion_cascades(core: client.CoreV1Api) -> None:
    ns = core.create_namespace({"metadata": {"generateName": "zconf-cascade-"}}).metadata.name
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "held", "finalizers": ["x.example/f"]}}
    )
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "p"},
            "spec": {"schedulerName": "zconf-none", "containers": [{"name": "c", "image": "i:1"}]},
        },
    )
    core.delete_namespace(ns)
    assert core.read_namespace(ns).status.phase == "Terminating"
    poll(lambda: not _exists(core, ns, "a"), what="namespace contents deleted")
    poll(lambda: not core.list_namespaced_pod(ns).items, what="pods deleted")
    held = core.read_namespaced_config_map("held", ns)
    assert held.metadata.deletion_timestamp is not None
    try:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "new"}})
        raise AssertionError("created content in a terminating namespace")
    except client.ApiException as e:
        assert e.status == 403
    core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})

    def ns_gone() -> bool:
        try:
            core.read_namespace(ns)
        except client.ApiException as e:
            return e.status == 404
        return False

    poll(ns_gone, timeout=120, interval=0.2, what="namespace removed")


def test_namespace_finalize_subresource(core: client.CoreV1Api) -> None:
    """A namespace finalized before its DELETE stays Terminating (the namespace controller
    skips finalized namespaces, kube-apiserver's namespace registry only marks it on the
    first DELETE); a second DELETE removes it. Seen on kube-apiserver 1.36."""
    ns = core.create_namespace({"metadata": {"generateName": "zconf-fin-"}}).metadata.name
    body = core.read_namespace(ns)
    body.spec.finalizers = []
    out = core.replace_namespace_finalize(ns, body)
    assert not out.spec.finalizers
    assert out.status.phase == "Active"
    core.delete_namespace(ns)
    terminating = core.read_namespace(ns)
    assert terminating.status.phase == "Terminating" and terminating.metadata.deletion_timestamp
    core.delete_namespace(ns)

    def gone() -> bool:
        try:
            core.read_namespace(ns)
        except client.ApiException as e:
            return e.status == 404
        return False

    poll(gone, timeout=120, interval=0.2, what="namespace removed")


def test_root_ca_configmap_is_published_and_restored(core: client.CoreV1Api, ns: str) -> None:
    """kube-controller-manager's root-ca-cert-publisher: `kube-root-ca.crt` in every
    namespace, recreated when deleted."""

    def published() -> Any:
        try:
            return core.read_namespaced_config_map(ROOT_CA, ns)
        except client.ApiException as e:
            if e.status == 404:
                return None
            raise

    first = poll(published, what="kube-root-ca.crt published")
    assert list(first.data) == ["ca.crt"]
    assert first.metadata.annotations["kubernetes.io/description"].startswith(
        "Contains a CA bundle that can be used to verify the kube-apiserver"
    )
    core.delete_namespaced_config_map(ROOT_CA, ns)
    again = poll(
        lambda: (cm := published()) is not None and cm.metadata.uid != first.metadata.uid and cm,
        what="kube-root-ca.crt recreated",
    )
    assert again.data == first.data
