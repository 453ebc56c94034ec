"""Helpers for the sandbox runtime tests: polling and a trivial container
(tests/sandbox/podapp.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zenith_sandbox.polling import wait_for
from zenith_sandbox.runtime.kube import Kind

PODAPP = str(Path(__file__).with_name("podapp.py"))
NAMESPACES = Kind("", "v1", "namespaces", namespaced=False)


def eventually(check: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Poll `check` until it returns something truthy (a failed assert inside: not yet)."""
    return wait_for(what or repr(check), check, timeout, ignore=(AssertionError,))


def app_container(name: str = "app", **extra: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": name,
        "image": "ignored:latest",
        "command": [sys.executable, PODAPP],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "DATA_DIR", "value": "/data/app"},
        ],
        "ports": [{"name": "http", "containerPort": 8080}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": "http"},
            "periodSeconds": 1,
            "failureThreshold": 1,
        },
    }
    c.update(extra)
    return c


def statefulset(name: str, replicas: int = 2, **spec: Any) -> dict[str, Any]:
    container = spec.pop("container", None) or app_container()
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 5},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
            **spec,
        },
    }


def pod_ready(pod: dict[str, Any] | None) -> bool:
    conds = ((pod or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


def claim_dir(kube: Any, ns: str, claim: str) -> Path:
    """The host directory backing a bound PVC (the PV's hostPath)."""
    from zenith_sandbox.runtime.kube import PVCS, PVS

    pvc = kube.get(PVCS, ns, claim)
    assert pvc and pvc["status"]["phase"] == "Bound", pvc
    pv = kube.get(PVS, None, pvc["spec"]["volumeName"])
    return Path(pv["spec"]["hostPath"]["path"])


def http_get(ip: str, path: str, port: int = 8080) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{ip}:{port}{path}", timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
