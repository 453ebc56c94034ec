"""Conformance fixtures: the emulator by default, a real cluster when
ZENITH_CONFORMANCE_KUBECONFIG names a kubeconfig. Assertions are identical."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client import ApiClient

from zenith_sandbox.polling import wait_for

from .widget_crd import GADGET_CRD, WIDGET_CRD

REAL = os.environ.get("ZENITH_CONFORMANCE_KUBECONFIG")


def raw(
    api_client: ApiClient,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One HTTP request through the client's auth; returns (status, decoded JSON body).

    A body that is not JSON is returned as text: kube-apiserver answers a path it does not
    serve (yet: a new CRD's group until it is Established) with `404 page not found`."""
    headers = {"Accept": "application/json", "Content-Type": content_type}
    method_, url, headers_, body_, _ = api_client.param_serialize(
        method,
        path,
        query_params=list((query or {}).items()),
        header_params=headers,
        body=body,
        auth_settings=["BearerToken"],
    )
    try:
        resp = api_client.call_api(method_, url, header_params=headers_, body=body_)
        resp.read()
        status, data = resp.status, resp.data
    except client.ApiException as e:
        status, data = e.status, e.body
    if not data:
        return status, None
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data.decode() if isinstance(data, bytes) else data


ROOT_CA = "kube-root-ca.crt"  # in every namespace (KCM's root-ca-cert-publisher)
# ConfigMaps controllers publish in every namespace, soon (not at once) after its creation:
# the root CA and, on OpenShift's fork of kube-controller-manager, the service CA.
PUBLISHED = frozenset({ROOT_CA, "openshift-service-ca.crt"})


def names(items: list[Any]) -> list[str]:
    """Names of listed objects (dicts or client models), without the published ConfigMaps."""
    out = [i["metadata"]["name"] if isinstance(i, dict) else i.metadata.name for i in items]
    return [n for n in out if n not in PUBLISHED]


def statefulset(replicas: int = 0, **metadata: Any) -> dict[str, Any]:
    """A minimal valid StatefulSet `s` (selector and template label app=s)."""
    return {
        "metadata": {"name": "s", **metadata},
        "spec": {
            "replicas": replicas,
            "serviceName": "s",
            "selector": {"matchLabels": {"app": "s"}},
            "template": {
                "metadata": {"labels": {"app": "s"}},
                "spec": {"containers": [{"name": "c", "image": "i:1"}]},
            },
        },
    }


def poll(
    check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll `check()` until it returns something truthy; fail after `timeout` seconds."""
    return wait_for(what, check, timeout, every=interval)


def watch_events(
    api_client: ApiClient,
    path: str,
    query: dict[str, str],
    until: Callable[[list[dict[str, Any]]], bool] | None = None,
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """Stream a watch; return its events once `until(events)` holds or the server ends it."""
    method, url, headers, _, _ = api_client.param_serialize(
        "GET",
        path,
        query_params=[*query.items(), ("watch", "true")],
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    pool = api_client.rest_client.pool_manager
    resp = pool.request(method, url, headers=headers, preload_content=False, timeout=timeout)
    assert resp.status == 200, resp.data
    assert resp.headers["Content-Type"].startswith("application/json")
    events: list[dict[str, Any]] = []
    buf = b""
    try:
        for chunk in resp.stream(1024, decode_content=True):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    events.append(json.loads(line))
            if until is not None and until(events):
                return events
    finally:
        resp.release_conn()
    return events


@pytest.fixture
def kubeconfig_path(request: pytest.FixtureRequest) -> Path:
    if REAL:
        return Path(REAL)
    path: Path = request.getfixturevalue("kubeconfig")
    return path


@pytest.fixture
def api_client(kubeconfig_path: Path) -> Iterator[ApiClient]:
    c = config.new_client_from_config(str(kubeconfig_path))
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def core(api_client: ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def custom(api_client: ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def ns(core: client.CoreV1Api) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    created = core.create_namespace({"metadata": {"generateName": "zconf-"}})
    name: str = created.metadata.name
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except client.ApiException as e:
            if e.status not in (404, 409):
                raise


def _ensure_crd(api_client: ApiClient, body: dict[str, Any]) -> None:
    ext = client.ApiextensionsV1Api(api_client)
    try:
        ext.create_custom_resource_definition(body)
    except client.ApiException as e:
        if e.status != 409:
            raise

    def established() -> bool:
        crd = ext.read_custom_resource_definition(body["metadata"]["name"])
        conditions = (crd.status and crd.status.conditions) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    poll(established, what="CRD established")


@pytest.fixture
def widgets(api_client: ApiClient) -> None:
    """The test CRDs are installed (left installed on a real cluster between tests)."""
    _ensure_crd(api_client, WIDGET_CRD)
    _ensure_crd(api_client, GADGET_CRD)
