"""A tiny kopf operator runs against the server: create, field, status, finalizer deletion."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from .conftest import poll
from .widget_crd import GROUP, PLURAL, VERSION, widget

OPERATOR = textwrap.dedent(
    """
    import kopf

    G, V, P = "conformance.zenith.example", "v1", "widgets"

    @kopf.on.startup()
    def configure(settings, **_):
        settings.persistence.finalizer = "conformance.zenith.example/kopf"
        settings.watching.server_timeout = 10
        settings.watching.client_timeout = 15

    @kopf.on.create(G, V, P, id="create")
    def create_fn(spec, patch, logger, **_):
        patch.status["created"] = spec["size"]
        logger.info("E2E created")
        return {"size": spec["size"]}

    @kopf.on.field(G, V, P, field="spec.size", id="size")
    def size_fn(old, new, patch, **_):
        if old is not None:
            patch.status["resized"] = new

    @kopf.on.delete(G, V, P, id="delete")
    def delete_fn(logger, **_):
        logger.info("E2E deleted")
    """
)

PEERING_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "kopfpeerings.kopf.dev"},
    "spec": {
        "scope": "Namespaced",
        "group": "kopf.dev",
        "names": {"kind": "KopfPeering", "plural": "kopfpeerings", "singular": "kopfpeering"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                },
            }
        ],
    },
}


def _status(custom: client.CustomObjectsApi, ns: str, name: str) -> dict[str, Any]:
    obj = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
    status: dict[str, Any] = obj.get("status") or {}
    return status


@pytest.mark.usefixtures("widgets")
def test_kopf_operator_handles_lifecycle(
    custom: client.CustomObjectsApi,
    api_client: client.ApiClient,
    ns: str,
    kubeconfig_path: Path,
    tmp_path: Path,
) -> None:
    ext = client.ApiextensionsV1Api(api_client)
    try:
        ext.create_custom_resource_definition(PEERING_CRD)
    except client.ApiException as e:
        assert e.status == 409
    poll(lambda: _served(custom, ns), what="kopfpeerings served")
    custom.create_namespaced_custom_object(
        "kopf.dev",
        "v1",
        ns,
        "kopfpeerings",
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "default"}},
    )
    module = tmp_path / "operator.py"
    module.write_text(OPERATOR)
    log = tmp_path / "kopf.log"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig_path)}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kopf",
                "run",
                "--verbose",
                f"--namespace={ns}",
                "--peering=default",
                str(module),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, widget("w1", size=2))
        poll(lambda: _status(custom, ns, "w1").get("created") == 2, what="create handler")
        assert _status(custom, ns, "w1").get("create") == {"size": 2}
        obj = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "w1")
        assert "conformance.zenith.example/kopf" in obj["metadata"]["finalizers"]

        custom.patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, "w1", {"spec": {"size": 3}}
        )
        poll(lambda: _status(custom, ns, "w1").get("resized") == 3, what="field handler")

        custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "w1")
        poll(lambda: not _exists(custom, ns, "w1"), what="finalizer-based deletion")
        poll(lambda: "E2E deleted" in log.read_text(), what="delete handler log")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "E2E created" in text
    bad = [
        line
        for line in text.splitlines()
        if any(word in line for word in ("Traceback", "[ERROR", "[WARNING", "APIClientError"))
    ]
    assert not bad, text


def _served(custom: client.CustomObjectsApi, ns: str) -> bool:
    try:
        custom.list_namespaced_custom_object("kopf.dev", "v1", ns, "kopfpeerings")
    except client.ApiException:
        return False
    return True


def _exists(custom: client.CustomObjectsApi, ns: str, name: str) -> bool:
    try:
        custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
    except client.ApiException as e:
        if e.status == 404:
            return False
        raise
    return True
