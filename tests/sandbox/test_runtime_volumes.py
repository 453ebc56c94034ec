"""Volumes and env as a kubelet materialises them, with the sandbox's path rewrite."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sandbox_helpers import app_container, eventually, http_get, pod_ready

from zenith_sandbox.runtime.kube import CONFIGMAPS, PODS, SECRETS, Kube
from zenith_sandbox.stack import Sandbox

pytestmark = pytest.mark.integration


def test_projected_downward_and_env_rewrite(sandbox: Sandbox, kube: Kube, ns: str) -> None:
    kube.create(
        CONFIGMAPS, ns, {"metadata": {"name": "cfg"}, "data": {"a.conf": "x = 1\n", "other": "o"}}
    )
    kube.create(
        SECRETS,
        ns,
        {"metadata": {"name": "sec"}, "data": {"password": base64.b64encode(b"s3cret").decode()}},
    )
    base = app_container()
    container = app_container(
        env=[
            *base["env"],
            {"name": "CONFIG_DIR", "value": "/etc/zenith"},
            {"name": "TOKEN_FILE", "value": "/etc/zenith/secrets/password"},
            {"name": "ELSEWHERE", "value": "/etc/zenithx"},
            {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "other"}}},
            {
                "name": "FROM_SECRET",
                "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}},
            },
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "EXPANDED", "value": "$(POD_NAME)-x"},
        ],
        envFrom=[{"configMapRef": {"name": "cfg"}, "prefix": "CM_"}],
        volumeMounts=[
            {"name": "data", "mountPath": "/data"},
            {"name": "conf", "mountPath": "/etc/zenith", "readOnly": True},
            {"name": "plain", "mountPath": "/etc/plain"},
        ],
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "vols", "labels": {"app": "vols", "role": "none"}},
        "spec": {
            "containers": [container],
            "volumes": [
                {"name": "data", "emptyDir": {}},
                {"name": "plain", "configMap": {"name": "cfg"}},
                {
                    "name": "conf",
                    "projected": {
                        "sources": [
                            {
                                "configMap": {
                                    "name": "cfg",
                                    "items": [{"key": "a.conf", "path": "db/a.conf"}],
                                }
                            },
                            {
                                "secret": {
                                    "name": "sec",
                                    "items": [{"key": "password", "path": "secrets/password"}],
                                }
                            },
                            {
                                "downwardAPI": {
                                    "items": [
                                        {
                                            "path": "podinfo/labels",
                                            "fieldRef": {"fieldPath": "metadata.labels"},
                                        },
                                        {
                                            "path": "podinfo/name",
                                            "fieldRef": {"fieldPath": "metadata.name"},
                                        },
                                    ]
                                }
                            },
                        ]
                    },
                },
            ],
        },
    }
    kube.create(PODS, ns, pod)
    ready = eventually(lambda: pod_ready(p := kube.get(PODS, ns, "vols")) and p, what="ready")
    code, body = http_get(ready["status"]["podIP"], "/env")
    assert code == 200
    env = json.loads(body)
    conf = Path(env["CONFIG_DIR"])
    assert conf.is_absolute() and conf != Path("/etc/zenith") and conf.is_dir()
    assert Path(env["TOKEN_FILE"]) == conf / "secrets" / "password"
    assert Path(env["TOKEN_FILE"]).read_text() == "s3cret"
    assert (conf / "db" / "a.conf").read_text() == "x = 1\n"
    assert (conf / "podinfo" / "name").read_text() == "vols"
    assert 'role="none"' in (conf / "podinfo" / "labels").read_text()
    assert env["ELSEWHERE"] == "/etc/zenithx"  # not under the mount: unchanged
    assert env["FROM_CM"] == "o" and env["FROM_SECRET"] == "s3cret"
    assert env["CM_other"] == "o" and env["NODE"] == "sandbox-node"
    assert env["EXPANDED"] == "vols-x" and env["ZENITH_SANDBOX"] == "1"
    assert (conf.parent / "plain" / "a.conf").exists()

    kube.patch(PODS, ns, "vols", {"metadata": {"labels": {"role": "active"}}})
    eventually(
        lambda: 'role="active"' in (conf / "podinfo" / "labels").read_text(),
        what="downwardAPI labels refreshed",
    )
    kube.patch(CONFIGMAPS, ns, "cfg", {"data": {"a.conf": "x = 2\n"}})
    eventually(
        lambda: (conf / "db" / "a.conf").read_text() == "x = 2\n",
        what="configMap change propagated",
    )

    kube.delete(PODS, ns, "vols")
    eventually(lambda: kube.get(PODS, ns, "vols") is None, what="pod gone")
    assert not conf.exists()  # the pod directory is cleaned


def test_init_containers_exec_tcp_probes_and_run_to_completion(
    sandbox: Sandbox, kube: Kube, ns: str
) -> None:
    init = {
        "name": "init",
        "image": "i",
        "command": ["sh", "-c", "echo done > $DIR/init"],
        "env": [{"name": "DIR", "value": "/work"}],
        "volumeMounts": [{"name": "work", "mountPath": "/work"}],
    }
    main = app_container(
        env=[*app_container()["env"], {"name": "W", "value": "/work"}],
        volumeMounts=[
            {"name": "data", "mountPath": "/data"},
            {"name": "work", "mountPath": "/work"},
        ],
        readinessProbe={"exec": {"command": ["sh", "-c", "test -f $W/init"]}, "periodSeconds": 1},
        livenessProbe={"tcpSocket": {"port": "http"}, "periodSeconds": 1},
        startupProbe={"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
    )
    volumes = [{"name": "data", "emptyDir": {}}, {"name": "work", "emptyDir": {}}]
    kube.create(
        PODS,
        ns,
        {
            "metadata": {"name": "withinit"},
            "spec": {"initContainers": [init], "containers": [main], "volumes": volumes},
        },
    )
    pod = eventually(
        lambda: pod_ready(p := kube.get(PODS, ns, "withinit")) and p, what="ready after init"
    )
    (ics,) = pod["status"]["initContainerStatuses"]
    assert ics["state"]["terminated"]["exitCode"] == 0
    assert ics["state"]["terminated"]["reason"] == "Completed"
    conds = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conds["Initialized"] == "True"
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0

    job = {"name": "once", "image": "j", "command": ["sh", "-c", "exit 0"]}
    kube.create(
        PODS,
        ns,
        {"metadata": {"name": "once"}, "spec": {"restartPolicy": "Never", "containers": [job]}},
    )
    eventually(
        lambda: kube.get(PODS, ns, "once")["status"].get("phase") == "Succeeded", what="Succeeded"
    )
    failing = {"name": "bad", "image": "j", "command": ["sh", "-c", "exit 3"]}
    kube.create(
        PODS,
        ns,
        {"metadata": {"name": "bad"}, "spec": {"restartPolicy": "Never", "containers": [failing]}},
    )
    bad = eventually(
        lambda: (p := kube.get(PODS, ns, "bad"))["status"].get("phase") == "Failed" and p,
        what="Failed",
    )
    assert bad["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
