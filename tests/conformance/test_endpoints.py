"""Endpoints of a selector Service follow its pods' readiness (endpoints controller)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from .conftest import REAL, poll


def _pod(core: client.CoreV1Api, ns: str, name: str, ip: str, ready: bool) -> None:
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": name, "labels": {"app": "db"}},
            "spec": {
                "nodeName": "zconf-no-such-node",
                "containers": [
                    {"name": "c", "image": "i:1", "ports": [{"name": "sql", "containerPort": 5432}]}
                ],
            },
        },
    )
    core.patch_namespaced_pod_status(
        name,
        ns,
        {
            "status": {
                "phase": "Running",
                "podIP": ip,
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            }
        },
    )


def _endpoints(core: client.CoreV1Api, ns: str) -> Any:
    try:
        return core.read_namespaced_endpoints("db", ns)
    except client.ApiException as e:
        if e.status == 404:
            return None
        raise


def _ips(subsets: Any, kind: str) -> list[str]:
    return sorted(a.ip for s in subsets or [] for a in getattr(s, kind) or [])


@pytest.fixture
def bound_pods(core: client.CoreV1Api, ns: str) -> Iterator[None]:
    """Pods a (ready) and b (not ready) bound to a node that does not exist; deleted with
    grace period 0 afterwards (no kubelet would ever finish a graceful delete)."""
    _pod(core, ns, "a", "10.200.0.1", ready=True)
    _pod(core, ns, "b", "10.200.0.2", ready=False)
    try:
        yield
    finally:
        for name in ("a", "b"):
            with contextlib.suppress(client.ApiException):
                core.delete_namespaced_pod(name, ns, grace_period_seconds=0)


@pytest.mark.usefixtures("bound_pods")
def test_endpoints_follow_ready_pods(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_service(
        ns,
        {
            "metadata": {"name": "db"},
            "spec": {
                "selector": {"app": "db"},
                "ports": [{"name": "sql", "port": 5432, "targetPort": "sql"}],
            },
        },
    )
    if REAL:
        try:
            poll(lambda: _endpoints(core, ns), what="any Endpoints")
        except AssertionError:
            pytest.skip("needs kube-controller-manager's endpoint-controller, which is not running")

    def settled() -> Any:
        ep = _endpoints(core, ns)
        if ep is None:
            return None
        ready, not_ready = _ips(ep.subsets, "addresses"), _ips(ep.subsets, "not_ready_addresses")
        return ep if (ready, not_ready) == (["10.200.0.1"], ["10.200.0.2"]) else None

    ep = poll(settled, what="endpoints with one ready and one not-ready address")
    subset = ep.subsets[0]
    assert [(p.name, p.port, p.protocol) for p in subset.ports] == [("sql", 5432, "TCP")]
    assert subset.addresses[0].target_ref.name == "a"
    assert subset.addresses[0].node_name == "zconf-no-such-node"

    core.patch_namespaced_pod_status(
        "b", ns, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    )
    poll(
        lambda: (
            _ips((_endpoints(core, ns) or client.V1Endpoints()).subsets, "addresses")
            == ["10.200.0.1", "10.200.0.2"]
        ),
        what="both addresses ready",
    )
