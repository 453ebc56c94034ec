"""One bad object never stops the node: claims with quantities a float cannot hold; a
good StatefulSet still gets its pods. A local PV whose path climbs out with `..` is
refused by the API server (real and emulator) and kept under the root by the runtime."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandbox_helpers import eventually, pod_ready, statefulset

from zenith_sandbox.runtime.kube import PODS, PVCS, PVS, STATEFULSETS, Kube, KubeError
from zenith_sandbox.runtime.node import Node
from zenith_sandbox.stack import Sandbox

pytestmark = pytest.mark.integration


def _claim(name: str, storage: str) -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}
    return {"metadata": {"name": name}, "spec": spec}


def test_bad_claims_do_not_stop_other_pods(sandbox: Sandbox, kube: Kube, ns: str) -> None:
    kube.create(PVCS, ns, _claim("huge", "999999Ei"))
    kube.create(PVCS, ns, _claim("milli", "100m"))
    kube.create(PVCS, ns, _claim("exp", "1e3"))
    pv_name = f"escape-{ns}"
    # kube-apiserver refuses a path that climbs out (validatePathNoBacksteps), the
    # emulator too; the runtime's own guard is test_a_climbing_path_stays_under_the_root
    with pytest.raises(KubeError) as refused:
        kube.create(PVS, None, _local_pv(pv_name, "/mnt/../../../../etc/zenith-escape"))
    assert refused.value.status == 422
    assert (
        'spec.local.path: Invalid value: "/mnt/../../../../etc/zenith-escape": must not '
        "contain '..'" in refused.value.message
    )
    kube.create(STATEFULSETS, ns, statefulset("good", 1))
    eventually(lambda: pod_ready(kube.get(PODS, ns, "good-0")), 60, "good-0 ready")
    for name in ("huge", "milli", "exp"):
        eventually(
            lambda n=name: (kube.get(PVCS, ns, n) or {}).get("status", {}).get("phase") == "Bound",
            30,
            f"{name} bound",
        )


def _local_pv(name: str, path: str) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "local": {"path": path},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": ["sandbox-node"],
                                }
                            ]
                        }
                    ]
                }
            },
        },
    }


def test_a_climbing_path_stays_under_the_root(kube: Kube, tmp_path: Path) -> None:
    """Should a PV with `..` reach the runtime anyway, its directory stays in the state."""
    node = Node(kube, "sandbox-node", tmp_path)
    host = node.host_dir(_local_pv("x", "/mnt/../../../../etc/zenith-escape"))
    assert host == tmp_path / "hostpath" / "sandbox-node" / "etc" / "zenith-escape"
