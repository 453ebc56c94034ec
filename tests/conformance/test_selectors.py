"""Label and field selectors on list (and, in test_watch, on watch)."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client import ApiClient

from .conftest import names, raw

LABELS = {
    "a": {"env": "prod", "tier": "web"},
    "b": {"env": "dev", "tier": "web"},
    "c": {"env": "test"},
    "d": {},
}


@pytest.fixture
def labelled(core: client.CoreV1Api, ns: str) -> str:
    for name, labels in LABELS.items():
        core.create_namespaced_config_map(ns, {"metadata": {"name": name, "labels": labels}})
    return ns


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=prod", ["a"]),
        ("env==prod", ["a"]),
        ("env!=prod", ["b", "c", "d"]),
        ("env in (dev,test)", ["b", "c"]),
        ("env notin (dev,test)", ["a", "d"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c", "d"]),
        ("tier=web,env!=dev", ["a"]),
        ("env in (prod, dev),tier", ["a", "b"]),
    ],
)
def test_label_selectors(
    core: client.CoreV1Api, labelled: str, selector: str, expected: list[str]
) -> None:
    items = core.list_namespaced_config_map(labelled, label_selector=selector).items
    assert names(items) == expected


def test_field_selectors_on_metadata(core: client.CoreV1Api, labelled: str) -> None:
    items = core.list_namespaced_config_map(labelled, field_selector="metadata.name=b").items
    assert [i.metadata.name for i in items] == ["b"]
    items = core.list_namespaced_config_map(labelled, field_selector="metadata.name!=b").items
    assert names(items) == ["a", "c", "d"]
    items = core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.namespace={labelled},metadata.name=c"
    ).items
    assert [i.metadata.name for i in items] == ["c"]


def test_pod_field_selectors(core: client.CoreV1Api, ns: str) -> None:
    for name in ("p1", "p2"):
        core.create_namespaced_pod(
            ns,
            {
                "metadata": {"name": name},
                "spec": {
                    "schedulerName": "zconf-none",
                    "containers": [{"name": "c", "image": "i:1"}],
                },
            },
        )
    core.patch_namespaced_pod_status("p2", ns, {"status": {"phase": "Succeeded"}})
    names = [
        p.metadata.name
        for p in core.list_namespaced_pod(ns, field_selector="status.phase=Pending").items
    ]
    assert names == ["p1"]
    names = [
        p.metadata.name for p in core.list_namespaced_pod(ns, field_selector="spec.nodeName=").items
    ]
    assert names == ["p1", "p2"]


def test_unsupported_field_selector_is_400(api_client: ApiClient, ns: str) -> None:
    status, body = raw(
        api_client,
        "GET",
        f"/api/v1/namespaces/{ns}/configmaps",
        query={"fieldSelector": "data.x=1"},
    )
    assert status == 400
    assert body["reason"] == "BadRequest"
    # kinds without their own field label conversion (ConfigMap) use apimachinery's default
    assert body["message"] == (
        '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    status, body = raw(
        api_client, "GET", f"/api/v1/namespaces/{ns}/pods", query={"fieldSelector": "data.x=1"}
    )
    assert status == 400
    assert body["message"] == "field label not supported: data.x"


def test_limit_and_continue(core: client.CoreV1Api, labelled: str) -> None:
    first = core.list_namespaced_config_map(labelled, limit=3)
    assert [i.metadata.name for i in first.items] == ["a", "b", "c"]
    assert first.metadata._continue
    rest = core.list_namespaced_config_map(labelled, limit=3, _continue=first.metadata._continue)
    assert names(rest.items) == ["d"]
    assert not rest.metadata._continue
