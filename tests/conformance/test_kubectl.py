"""kubectl against the server: get, describe, apply, patch, label, delete, get -w."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from .conftest import PUBLISHED

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


def _kubectl(kubeconfig: Path, ns: str, *args: str, stdin: str | None = None) -> str:
    cmd = ["kubectl", f"--kubeconfig={kubeconfig}", f"--namespace={ns}", *args]
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


CM = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
  labels: {app: demo}
data:
  key: one
"""


def test_apply_get_describe_patch_label_delete(kubeconfig_path: Path, ns: str) -> None:
    assert "configmap/demo created" in _kubectl(kubeconfig_path, ns, "apply", "-f", "-", stdin=CM)
    assert "configmap/demo configured" in _kubectl(
        kubeconfig_path, ns, "apply", "-f", "-", stdin=CM.replace("one", "two")
    )
    obj = json.loads(_kubectl(kubeconfig_path, ns, "get", "configmap", "demo", "-o", "json"))
    assert obj["data"] == {"key": "two"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    as_yaml = yaml.safe_load(_kubectl(kubeconfig_path, ns, "get", "cm", "demo", "-o", "yaml"))
    assert as_yaml["metadata"]["uid"] == obj["metadata"]["uid"]
    listed = _kubectl(kubeconfig_path, ns, "get", "configmaps")
    assert "demo" in listed and "NAME" in listed
    described = _kubectl(kubeconfig_path, ns, "describe", "configmap", "demo")
    assert "Name:" in described and "demo" in described
    _kubectl(kubeconfig_path, ns, "patch", "cm", "demo", "-p", '{"data":{"extra":"1"}}')
    _kubectl(
        kubeconfig_path,
        ns,
        "patch",
        "cm",
        "demo",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/data/key"}]',
    )
    _kubectl(kubeconfig_path, ns, "label", "cm", "demo", "tier=web")
    obj = json.loads(_kubectl(kubeconfig_path, ns, "get", "cm", "-l", "tier=web", "-o", "json"))
    assert [i["metadata"]["name"] for i in obj["items"]] == ["demo"]
    assert obj["items"][0]["data"] == {"extra": "1"}
    assert 'configmap "demo" deleted' in _kubectl(kubeconfig_path, ns, "delete", "cm", "demo")
    left = _kubectl(kubeconfig_path, ns, "get", "cm", "-o", "name").split()
    assert [n for n in left if n.removeprefix("configmap/") not in PUBLISHED] == []


def test_create_and_describe_pod(kubeconfig_path: Path, ns: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "schedulerName": "zconf-none",
            "containers": [{"name": "c", "image": "busybox:1.36"}],
        },
    }
    _kubectl(kubeconfig_path, ns, "create", "-f", "-", stdin=json.dumps(pod))
    described = _kubectl(kubeconfig_path, ns, "describe", "pod", "p")
    assert "busybox:1.36" in described and "Pending" in described
    _kubectl(kubeconfig_path, ns, "delete", "pod", "p", "--wait=false")


def test_server_side_apply(kubeconfig_path: Path, ns: str) -> None:
    out = _kubectl(kubeconfig_path, ns, "apply", "--server-side", "-f", "-", stdin=CM)
    assert "serverside-applied" in out


def test_get_watch_sees_changes(kubeconfig_path: Path, ns: str) -> None:
    cmd = [
        "kubectl",
        f"--kubeconfig={kubeconfig_path}",
        f"--namespace={ns}",
        "get",
        "cm",
        "--watch",
        "--output=name",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ}
    )
    try:
        # (`kubectl create configmap NAME` would send protobuf, which the emulator lacks.)
        _kubectl(
            kubeconfig_path,
            ns,
            "create",
            "-f",
            "-",
            stdin=CM.replace("name: demo", "name: watched"),
        )
        assert proc.stdout is not None
        # Read the raw pipe: select() on a buffered text stream misses lines that arrived
        # in the same read as an earlier one (kubectl prints kube-root-ca.crt first).
        fd = proc.stdout.fileno()
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + 30
        seen = b""
        while b"configmap/watched" not in seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"kubectl get -w saw nothing: {seen!r}"
            if sel.select(timeout=remaining):
                chunk = os.read(fd, 65536)
                assert chunk, proc.stderr.read() if proc.stderr else ""
                seen += chunk
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.usefixtures("widgets")
def test_custom_resources_with_kubectl(kubeconfig_path: Path, ns: str) -> None:
    from .widget_crd import widget

    ok = json.dumps(widget("w1", size=2))
    assert "created" in _kubectl(kubeconfig_path, ns, "apply", "-f", "-", stdin=ok)
    obj = json.loads(_kubectl(kubeconfig_path, ns, "get", "wdg", "w1", "-o", "json"))
    assert obj["spec"] == {"size": 2, "maxSize": 5, "nested": {"level": "info"}}
    cmd = ["kubectl", f"--kubeconfig={kubeconfig_path}", f"--namespace={ns}", "apply", "-f", "-"]
    bad = subprocess.run(
        cmd,
        input=json.dumps(widget("w1", size=0)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1
    assert (
        'The Widget "w1" is invalid: spec.size: Invalid value: 0: spec.size in body should '
        "be greater than or equal to 1"
    ) in bad.stderr
    unknown = subprocess.run(
        cmd,
        input=json.dumps(widget("w1", size=3, bogus=1)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unknown.returncode == 1
    assert 'strict decoding error: unknown field "spec.bogus"' in unknown.stderr
    _kubectl(
        kubeconfig_path,
        ns,
        "patch",
        "wdg",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"seen":true}}',
    )
    obj = json.loads(_kubectl(kubeconfig_path, ns, "get", "wdg", "w1", "-o", "json"))
    assert obj["status"] == {"seen": True} and obj["spec"]["size"] == 2
    assert 'widget.conformance.zenith.example "w1" deleted' in _kubectl(
        kubeconfig_path, ns, "delete", "wdg", "w1"
    )


@pytest.mark.skipif(
    bool(os.environ.get("ZENITH_CONFORMANCE_KUBECONFIG")), reason="the emulator's own answer"
)
def test_kubectl_create_configmap_says_the_workaround(kubeconfig_path: Path, ns: str) -> None:
    cmd = ["kubectl", f"--kubeconfig={kubeconfig_path}", f"--namespace={ns}"]
    create = [*cmd, "create", "configmap", "lit", "--from-literal=a=b"]
    done = subprocess.run(create, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and "| kubectl apply -f -" in done.stderr
    dry = subprocess.run(
        [*create, "--dry-run=client", "-o", "yaml"], capture_output=True, text=True, check=True
    )
    assert "configmap/lit created" in _kubectl(
        kubeconfig_path, ns, "apply", "-f", "-", stdin=dry.stdout
    )
