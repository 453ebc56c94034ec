"""Watch: resourceVersion semantics, selectors, timeoutSeconds, bookmarks, 410 Gone."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client import ApiClient

from .conftest import PUBLISHED, raw, watch_events


def _names(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, name) of each event, except those of the ConfigMaps controllers publish in
    every namespace (maybe after the test's first write)."""
    return [
        (e["type"], e["object"]["metadata"]["name"])
        for e in events
        if e["object"]["metadata"]["name"] not in PUBLISHED
    ]


def test_watch_replays_after_resource_version(
    api_client: ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "before"}})
    listed = core.list_namespaced_config_map(ns)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    core.patch_namespaced_config_map("a", ns, {"data": {"x": "1"}})
    core.delete_namespaced_config_map("a", ns)
    events = watch_events(
        api_client,
        f"/api/v1/namespaces/{ns}/configmaps",
        {"resourceVersion": listed.metadata.resource_version, "timeoutSeconds": "5"},
        until=lambda ev: len(_names(ev)) >= 3,
    )
    assert _names(events) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    events = [e for e in events if e["object"]["metadata"]["name"] == "a"]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3
    assert events[1]["object"]["data"] == {"x": "1"}
    assert events[0]["object"]["kind"] == "ConfigMap"


def test_watch_without_resource_version_starts_with_state(
    api_client: ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    for name in ("a", "b"):
        core.create_namespaced_config_map(ns, {"metadata": {"name": name}})
    for rv in (None, "0"):
        query = {"timeoutSeconds": "5"}
        if rv is not None:
            query["resourceVersion"] = rv
        events = watch_events(
            api_client,
            f"/api/v1/namespaces/{ns}/configmaps",
            query,
            until=lambda ev: len(_names(ev)) >= 2,
        )
        assert sorted(_names(events)) == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_ends_at_timeout(api_client: ApiClient, core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    events = watch_events(
        api_client,
        f"/api/v1/namespaces/{ns}/configmaps",
        {"resourceVersion": rv, "timeoutSeconds": "1"},
        timeout=20,
    )
    assert _names(events) == []


def test_watch_bookmarks(api_client: ApiClient, core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    events = watch_events(
        api_client,
        f"/api/v1/namespaces/{ns}/configmaps",
        {"resourceVersion": rv, "timeoutSeconds": "4", "allowWatchBookmarks": "true"},
        until=lambda ev: any(e["type"] == "BOOKMARK" for e in ev),
        timeout=30,
    )
    bookmark = next(e for e in events if e["type"] == "BOOKMARK")
    assert bookmark["object"]["kind"] == "ConfigMap"
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(rv)


def test_watch_with_label_selector_sees_transitions(
    api_client: ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    core.patch_namespaced_config_map("a", ns, {"metadata": {"labels": {"w": "1"}}})
    core.patch_namespaced_config_map("a", ns, {"data": {"k": "v"}})
    core.patch_namespaced_config_map("a", ns, {"metadata": {"labels": {"w": None}}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "b"}})
    events = watch_events(
        api_client,
        f"/api/v1/namespaces/{ns}/configmaps",
        {"resourceVersion": rv, "labelSelector": "w=1", "timeoutSeconds": "3"},
        until=lambda ev: len(ev) >= 3,
    )
    assert _names(events) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_watch_with_field_selector(api_client: ApiClient, core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "b"}})
    events = watch_events(
        api_client,
        f"/api/v1/namespaces/{ns}/configmaps",
        {"resourceVersion": rv, "fieldSelector": "metadata.name=b", "timeoutSeconds": "3"},
        until=lambda ev: len(ev) >= 1,
    )
    assert _names(events) == [("ADDED", "b")]


def test_watch_too_old_resource_version_is_410(api_client: ApiClient, ns: str) -> None:
    # resourceVersion 1 is long compacted on a real server and predates the emulator's start.
    events = watch_events(
        api_client,
        f"/api/v1/namespaces/{ns}/configmaps",
        {"resourceVersion": "1", "timeoutSeconds": "5"},
        until=lambda ev: len(ev) >= 1,
    )
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["kind"] == "Status" and status["status"] == "Failure"
    assert status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith("too old resource version: 1 (")


def test_watch_from_the_future_waits(
    api_client: ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    """kube-apiserver 1.36 answers 200 and sends nothing until the resourceVersion exists or
    timeoutSeconds ends the stream (older servers answered 504 like a LIST does)."""
    current = int(core.list_namespaced_config_map(ns).metadata.resource_version)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "now"}})
    events = watch_events(
        api_client,
        f"/api/v1/namespaces/{ns}/configmaps",
        {"resourceVersion": str(current + 10**9), "timeoutSeconds": "1"},
    )
    assert events == []  # not even the published ConfigMaps: they predate that version


def test_list_from_the_future_is_504(
    api_client: ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    current = int(core.list_namespaced_config_map(ns).metadata.resource_version)
    status, body = raw(
        api_client,
        "GET",
        f"/api/v1/namespaces/{ns}/configmaps",
        query={"resourceVersion": str(current + 10**9)},
    )
    assert status == 504 and body["reason"] == "Timeout"
    status, _ = raw(
        api_client,
        "GET",
        f"/api/v1/namespaces/{ns}/configmaps",
        query={"resourceVersion": str(current)},
    )
    assert status == 200
