"""The operator's watch-fed caches (reflector.py) against the server: list, then follow
adds, changes and deletions through a label selector; resume after the server ends a
watch; list again when the watch's history is gone (410)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from zenith_operator import naming
from zenith_operator.controller import reflector as reflector_module
from zenith_operator.controller.cache import POD_SELECTOR, pod_entry
from zenith_operator.controller.observe import PodInfo
from zenith_operator.controller.reconcile_kube import Kube, KubeError, collection_path
from zenith_operator.controller.reflector import Cache, Gone, Reflector

from .conftest import poll


def _pod(name: str, cluster: str | None, **labels: str) -> dict[str, Any]:
    if cluster is not None:
        labels = {"app.kubernetes.io/name": "zenith", "app.kubernetes.io/instance": cluster,
                  **labels}  # fmt: skip
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [{"name": "database", "image": "i:1"}],
        },
    }


def _create(core: client.CoreV1Api, ns: str, body: dict[str, Any]) -> None:
    """Create a pod; a new namespace's default ServiceAccount may come a moment later."""

    def created() -> bool:
        try:
            core.create_namespaced_pod(ns, body)
        except client.ApiException as e:
            if e.status == 403 and "serviceaccount" in str(e.body):
                return False
            raise
        return True

    poll(created, what=f"pod {body['metadata']['name']} created")


async def _until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _names(cache: Cache[PodInfo], ns: str, cluster: str) -> list[str]:
    return sorted(p.name for p in cache.get((ns, cluster), ()))


def test_reflector_follows_the_selected_pods(
    kubeconfig_path: Path, core: client.CoreV1Api, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reflector_module, "WATCH_SECONDS", 2)  # resumes several times
    kube = Kube.from_kubeconfig(kubeconfig_path)
    _create(core, ns, _pod("c-0", "c"))
    _create(core, ns, _pod("other-0", None, app="other"))

    async def follow() -> list[tuple[str, str | None]]:
        woken: list[tuple[str, str | None]] = []
        cache = Cache[PodInfo](lambda key, pod: woken.append((pod.name, pod.role_label)))
        path = collection_path("v1", "Pod", ns)
        r = Reflector(kube, path, POD_SELECTOR, pod_entry, cache)
        r.start()
        try:
            await asyncio.wait_for(r.synced.wait(), 30)
            assert _names(cache, ns, "c") == ["c-0"] and len(cache) == 1
            await asyncio.sleep(3)  # past the first watch's end
            await asyncio.to_thread(_create, core, ns, _pod("c-1", "c"))
            await _until(lambda: _names(cache, ns, "c") == ["c-0", "c-1"], "c-1 added")
            patch = {"metadata": {"labels": {naming.ROLE_LABEL: "active"}}}
            await asyncio.to_thread(core.patch_namespaced_pod, "c-0", ns, patch)
            await _until(lambda: ("c-0", "active") in woken, "c-0 labelled")
            await asyncio.to_thread(core.delete_namespaced_pod, "c-1", ns, grace_period_seconds=0)
            await _until(lambda: _names(cache, ns, "c") == ["c-0"], "c-1 deleted")
            await asyncio.to_thread(core.delete_namespaced_pod, "c-0", ns, grace_period_seconds=0)
            await _until(lambda: len(cache) == 0, "the cluster's key dropped")
        finally:
            r.stop()
        return woken

    woken = asyncio.run(follow())
    assert all(name.startswith("c-") for name, _ in woken)  # never the unselected pod
    kube.close()


def test_a_watch_from_a_compacted_version_asks_for_a_new_list(
    kubeconfig_path: Path, ns: str
) -> None:
    kube = Kube.from_kubeconfig(kubeconfig_path)
    path = collection_path("v1", "Pod", ns)

    async def watch() -> None:
        r = Reflector(kube, path, POD_SELECTOR, pod_entry, Cache[PodInfo]())
        r.start()
        r.stop()  # only its loop is wanted, for the thread's hand-over
        with pytest.raises(Gone):
            await asyncio.to_thread(r._watch, "1")

    asyncio.run(watch())
    with pytest.raises(KubeError):
        list(kube.watch(f"{path}-no-such-kind", {}, 1))
    kube.close()
