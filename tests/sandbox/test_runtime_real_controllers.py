"""What the runtime must do when real controllers share the API server (issue 10):
reclaim the PVs it provisioned once a real PV controller marked them Released, and let
`sandbox fault delete-pod` reach the API server the runtime was started with."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sandbox_helpers import eventually

from zenith_sandbox import faults
from zenith_sandbox.runtime.kube import PODS, PVS, Kube, KubeError
from zenith_sandbox.runtime.node import PROVISIONER, PROVISIONER_ANNOTATION, Node
from zenith_sandbox.stack import Sandbox


def _provisioned_pv(name: str, path: Path) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {PROVISIONER_ANNOTATION: PROVISIONER}},
        "spec": {
            "capacity": {"storage": "1Mi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": "",
            "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "name": "gone",
                "namespace": "default",
                "uid": "00000000-0000-0000-0000-00000000dead",
            },
        },
    }


def test_a_released_pv_the_runtime_provisioned_is_deleted(
    kube: Kube, ns: str, tmp_path: Path
) -> None:
    """A real persistentvolume-binder marks the PV Released before the runtime looks."""
    node = Node(kube, "sandbox-node", tmp_path)
    name = f"pvc-{ns}"
    path = node.volumes_dir / name
    path.mkdir(parents=True)
    kube.create(PVS, None, _provisioned_pv(name, path))
    kube.patch(PVS, None, name, {"status": {"phase": "Released"}}, "status")
    asyncio.run(node.provision([], [kube.get(PVS, None, name)]))  # type: ignore[list-item]
    eventually(lambda: kube.get(PVS, None, name) is None, what="the PV deleted")
    assert not path.exists()


def _bare_pod(kube: Kube, ns: str) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "victim"},
        "spec": {"nodeName": "zenith-no-such-node", "containers": [{"name": "c", "image": "i"}]},
    }

    def created() -> bool:
        try:
            kube.create(PODS, ns, body)
        except KubeError as e:  # a real server: until the ServiceAccount controller ran
            if e.status == 403 and "serviceaccount" in str(e):
                return False
            raise
        return True

    eventually(created, what="the pod created")


def test_runtime_json_names_the_api_server(sandbox: Sandbox) -> None:
    recorded = json.loads((sandbox.state_dir / "runtime.json").read_text())
    assert recorded["kubeconfig"] == str(sandbox.kubeconfig.resolve())


def test_fault_delete_pod_finds_the_runtimes_api_server(
    sandbox: Sandbox, kube: Kube, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(sandbox.state_dir / "no-home"))  # no ~/.kube/config
    assert not (sandbox.state_dir / "kubeconfig").exists()  # started with --kubeconfig
    _bare_pod(kube, ns)
    argv = ["delete-pod", "victim", "-n", ns, "--grace", "0", "--state-dir", str(sandbox.state_dir)]
    assert faults.main(argv) == 0
    eventually(lambda: kube.get(PODS, ns, "victim") is None, what="the pod deleted")


def test_fault_cli_takes_a_kubeconfig(
    sandbox: Sandbox, kube: Kube, ns: str, tmp_path: Path
) -> None:
    (tmp_path / "runtime.json").write_text(json.dumps({"control": "http://127.0.0.1:1"}))
    _bare_pod(kube, ns)
    argv = ["delete-pod", "victim", "-n", ns, "--grace", "0", "--state-dir", str(tmp_path)]
    assert faults.main([*argv, "--kubeconfig", str(sandbox.kubeconfig)]) == 0
    eventually(lambda: kube.get(PODS, ns, "victim") is None, what="the pod deleted")


def test_a_bound_pv_whose_claim_is_gone_is_released_then_deleted(
    kube: Kube, ns: str, tmp_path: Path
) -> None:
    """Without a PV controller: a real pv-protection controller frees a PV only once it is
    no longer Bound, so the runtime marks it Released before deleting it."""
    node = Node(kube, "sandbox-node", tmp_path)
    name = f"pvc-{ns}-b"
    path = node.volumes_dir / name
    path.mkdir(parents=True)
    kube.create(PVS, None, _provisioned_pv(name, path))
    kube.patch(PVS, None, name, {"status": {"phase": "Bound"}}, "status")
    asyncio.run(node.provision([], [kube.get(PVS, None, name)]))  # type: ignore[list-item]
    eventually(lambda: kube.get(PVS, None, name) is None, what="the PV deleted")
    assert not path.exists()
