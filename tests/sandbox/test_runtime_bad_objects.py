"""One bad object never stops the node: claims with quantities a float cannot hold, a
local PV whose path climbs out with `..`; a good StatefulSet still gets its pods."""

from __future__ import annotations

import pytest
from sandbox_helpers import eventually, pod_ready, statefulset

from zenith_operator.sandbox.cli import Sandbox
from zenith_operator.sandbox.runtime.kube import PODS, PVCS, PVS, STATEFULSETS, Kube

pytestmark = pytest.mark.integration


def _claim(name: str, storage: str, volume: str = "") -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}
    if volume:
        spec["volumeName"] = volume
    return {"metadata": {"name": name}, "spec": spec}


def test_bad_claims_do_not_stop_other_pods(sandbox: Sandbox, kube: Kube, ns: str) -> None:
    kube.create(PVCS, ns, _claim("huge", "999999Ei"))
    kube.create(PVCS, ns, _claim("milli", "100m"))
    kube.create(PVCS, ns, _claim("exp", "1e3"))
    pv_name = f"escape-{ns}"
    kube.create(
        PVS,
        None,
        {
            "metadata": {"name": pv_name},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "local": {"path": "/mnt/../../../../etc/zenith-escape"},
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
        },
    )
    kube.create(PVCS, ns, _claim("climb", "1Gi", volume=pv_name))
    try:
        kube.create(STATEFULSETS, ns, statefulset("good", 1))
        eventually(lambda: pod_ready(kube.get(PODS, ns, "good-0")), 60, "good-0 ready")
        for name in ("huge", "milli", "exp", "climb"):
            eventually(
                lambda n=name: (
                    (kube.get(PVCS, ns, n) or {}).get("status", {}).get("phase") == "Bound"
                ),
                30,
                f"{name} bound",
            )
        state = sandbox.state_dir.resolve()
        escaped = state.parent / "etc" / "zenith-escape"
        assert not escaped.exists()
        assert (state / "hostpath" / "sandbox-node" / "etc" / "zenith-escape").is_dir()
    finally:
        kube.delete(PVS, None, pv_name)
