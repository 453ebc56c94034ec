"""pods/status: qosClass computed at creation and immutable, and the other checks
kube-apiserver makes on a kubelet's status writes (ValidatePodStatusUpdate, 1.36)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient

from .conftest import poll, raw


def _create(core: client.CoreV1Api, ns: str, name: str, **spec: Any) -> Any:
    # Unscheduled (no such scheduler): deleted at once with its namespace, no kubelet needed.
    body = {
        "metadata": {"name": name},
        "spec": {
            "schedulerName": "zconf-none",
            "containers": [{"name": "c", "image": "i:1"}],
            **spec,
        },
    }

    def created() -> Any:
        try:
            return core.create_namespaced_pod(ns, body)
        except client.ApiException as e:
            # A real server refuses pods until the ServiceAccount controller made "default".
            if e.status == 403 and "serviceaccount" in str(e.body):
                return None
            raise

    return poll(created, what="the namespace's default ServiceAccount")


def _patch_status(api_client: ApiClient, ns: str, name: str, status: dict[str, Any]) -> Any:
    return raw(
        api_client,
        "PATCH",
        f"/api/v1/namespaces/{ns}/pods/{name}/status",
        {"status": status},
        "application/merge-patch+json",
    )


def _container(requests: dict[str, str], limits: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": "c", "image": "i:1", "resources": {"requests": requests, "limits": limits}}]


@pytest.mark.parametrize(
    ("containers", "qos"),
    [
        (None, "BestEffort"),
        (_container({"cpu": "100m"}, {}), "Burstable"),
        (_container({"memory": "256Mi"}, {"memory": "1Gi"}), "Burstable"),
        (_container({}, {"cpu": "1", "memory": "1Gi"}), "Guaranteed"),
        (_container({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}), "Guaranteed"),
    ],
)
def test_qos_class_is_computed_at_creation(
    core: client.CoreV1Api, ns: str, containers: Any, qos: str
) -> None:
    pod = _create(core, ns, "p", **({"containers": containers} if containers else {}))
    assert pod.status.qos_class == qos


def test_qos_class_is_immutable(api_client: ApiClient, core: client.CoreV1Api, ns: str) -> None:
    _create(core, ns, "p")
    status, body = _patch_status(api_client, ns, "p", {"qosClass": "Burstable"})
    assert status == 422, body
    assert body["message"] == (
        'Pod "p" is invalid: status.qosClass: Invalid value: "Burstable": field is immutable'
    )
    status, body = _patch_status(api_client, ns, "p", {"phase": "Running"})
    assert status == 200, body
    assert body["status"]["qosClass"] == "BestEffort"


def test_a_status_replace_without_qos_class_keeps_it(core: client.CoreV1Api, ns: str) -> None:
    pod = core.read_namespaced_pod_status(_create(core, ns, "p").metadata.name, ns)
    pod.status.qos_class = None
    pod.status.phase = "Running"
    replaced = core.replace_namespaced_pod_status("p", ns, pod)
    assert (replaced.status.phase, replaced.status.qos_class) == ("Running", "BestEffort")


def test_pod_and_host_ips_must_be_ips(
    api_client: ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    _create(core, ns, "p")
    status, body = _patch_status(
        api_client,
        ns,
        "p",
        {"podIP": "not-an-ip", "podIPs": [{"ip": "not-an-ip"}]},
    )
    assert status == 422, body
    assert (
        'status.podIPs[0]: Invalid value: "not-an-ip": must be a valid IP address'
        in (body["message"])
    )
    status, body = _patch_status(
        api_client, ns, "p", {"hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.2"}]}
    )
    assert status == 422, body
    assert body["message"] == (
        'Pod "p" is invalid: status.hostIPs[0].ip: Invalid value: "127.0.0.2": '
        "must be equal to `hostIP`"
    )


def test_a_terminated_container_stays_terminated(
    api_client: ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    _create(core, ns, "p", restartPolicy="Never")
    terminated = {
        "name": "c",
        "image": "i:1",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
    }
    status, body = _patch_status(api_client, ns, "p", {"containerStatuses": [terminated]})
    assert status == 200, body
    running = {**terminated, "state": {"running": {}}}
    status, body = _patch_status(api_client, ns, "p", {"containerStatuses": [running]})
    assert status == 422, body
    assert body["message"] == (
        'Pod "p" is invalid: status.containerStatuses[0].state: '
        "Forbidden: may not be transitioned to non-terminated state"
    )
