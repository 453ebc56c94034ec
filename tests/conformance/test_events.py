"""core/v1 and events.k8s.io/v1 Events are one resource seen through two schemas."""

from __future__ import annotations

from kubernetes.client import ApiClient

from .conftest import raw, watch_events


def test_events_share_storage(api_client: ApiClient, ns: str) -> None:
    core_path = f"/api/v1/namespaces/{ns}/events"
    new_path = f"/apis/events.k8s.io/v1/namespaces/{ns}/events"
    status, created = raw(
        api_client,
        "POST",
        new_path,
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "e1"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "zconf.example/ctl",
            "reportingInstance": "ctl-1",
            "action": "Testing",
            "reason": "Tested",
            "type": "Normal",
            "note": "hello",
            "regarding": {"kind": "ConfigMap", "name": "x", "namespace": ns},
        },
    )
    assert status == 201, created
    assert created["apiVersion"] == "events.k8s.io/v1" and created["note"] == "hello"
    status, as_core = raw(api_client, "GET", f"{core_path}/e1")
    assert status == 200
    assert as_core["message"] == "hello"
    assert as_core["involvedObject"]["name"] == "x"
    assert as_core["reportingComponent"] == "zconf.example/ctl"
    assert as_core["metadata"]["uid"] == created["metadata"]["uid"]

    _, listed = raw(api_client, "GET", new_path)
    rv = listed["metadata"]["resourceVersion"]
    status, _ = raw(
        api_client,
        "POST",
        core_path,
        {
            "metadata": {"name": "e2"},
            "message": "from core",
            "reason": "Core",
            "type": "Normal",
            "involvedObject": {"kind": "ConfigMap", "name": "y", "namespace": ns},
        },
    )
    assert status == 201
    events = watch_events(
        api_client,
        new_path,
        {"resourceVersion": rv, "timeoutSeconds": "5"},
        until=lambda ev: len(ev) >= 1,
    )
    assert events[0]["type"] == "ADDED"
    assert events[0]["object"]["note"] == "from core"
    assert events[0]["object"]["regarding"]["name"] == "y"
