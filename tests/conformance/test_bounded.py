"""Bounded memory as behaviour: the history ring and watcher set stay at their bounds."""

from __future__ import annotations

import pytest
from kubernetes import client

from zenith_sandbox.apiserver import ApiServer

from .conftest import REAL, names, poll, watch_events

pytestmark = pytest.mark.skipif(bool(REAL), reason="inspects the emulator's internals")


def test_history_ring_stays_at_bound(apiserver: ApiServer, core: client.CoreV1Api, ns: str) -> None:
    bound = apiserver.store.history.maxlen
    assert bound is not None
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    for i in range(bound + 50):
        core.patch_namespaced_config_map("a", ns, {"data": {"i": str(i)}})
    assert len(apiserver.store.history) == bound
    # Only live objects are kept: one ConfigMap, however many versions it had.
    assert names(apiserver.store.list_objs(("", "configmaps"), ns)) == ["a"]


def test_finished_watches_leave_no_watchers(
    apiserver: ApiServer, core: client.CoreV1Api, ns: str
) -> None:
    for _ in range(3):
        watch_events(
            core.api_client, f"/api/v1/namespaces/{ns}/configmaps", {"timeoutSeconds": "1"}
        )
    assert apiserver.call(lambda: len(apiserver.store.watchers)) == 0


def test_deleted_objects_leave_no_index_entries(
    apiserver: ApiServer, core: client.CoreV1Api, ns: str
) -> None:
    before = apiserver.call(lambda: len(apiserver.store.uids))
    for i in range(20):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"c{i}"}})
    core.delete_collection_namespaced_config_map(ns)
    assert apiserver.call(lambda: len(apiserver.store.uids)) == before


def test_gc_index_is_emptied_after_churn(
    apiserver: ApiServer, core: client.CoreV1Api, ns: str
) -> None:
    for i in range(5):
        owner = core.create_namespaced_config_map(ns, {"metadata": {"name": f"o{i}"}})
        ref = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": owner.metadata.name,
            "uid": owner.metadata.uid,
        }
        core.create_namespaced_config_map(
            ns, {"metadata": {"name": f"d{i}", "ownerReferences": [ref]}}
        )
        core.delete_namespaced_config_map(f"o{i}", ns)
    poll(lambda: not names(core.list_namespaced_config_map(ns).items), what="all collected")
    assert apiserver.call(lambda: len(apiserver.collector.dependents)) == 0


def test_evicted_history_answers_410(apiserver: ApiServer, core: client.CoreV1Api, ns: str) -> None:
    bound = apiserver.store.history.maxlen
    assert bound is not None
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    start = cm.metadata.resource_version
    for i in range(bound + 5):
        core.patch_namespaced_config_map("a", ns, {"data": {"i": str(i)}})
    events = watch_events(
        core.api_client,
        f"/api/v1/namespaces/{ns}/configmaps",
        {"resourceVersion": start, "timeoutSeconds": "5"},
        until=lambda ev: len(ev) >= 1,
    )
    assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410
