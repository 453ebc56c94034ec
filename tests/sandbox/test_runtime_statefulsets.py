"""The runtime as StatefulSet controller + kubelet against the emulator, with a trivial
HTTP container (podapp.py)."""

from __future__ import annotations

import json
import time

import pytest
from sandbox_helpers import (
    app_container,
    claim_dir,
    eventually,
    http_get,
    pod_ready,
    statefulset,
)

from zenith_sandbox.runtime.kube import NODES, PODS, PVCS, STATEFULSETS, Kube
from zenith_sandbox.stack import Sandbox

pytestmark = pytest.mark.integration


def ready_pods(kube: Kube, ns: str, names: list[str]) -> list[dict] | None:
    pods = [kube.get(PODS, ns, n) for n in names]
    return pods if all(pod_ready(p) for p in pods) else None


def test_two_replicas_get_ips_volumes_and_status(sandbox: Sandbox, kube: Kube, ns: str) -> None:
    kube.create(STATEFULSETS, ns, statefulset("web", 2))
    pods = eventually(lambda: ready_pods(kube, ns, ["web-0", "web-1"]), what="2 ready pods")
    ips = [p["status"]["podIP"] for p in pods]
    assert len(set(ips)) == 2 and all(ip.startswith("127.0.0.") and ip != "127.0.0.1" for ip in ips)
    sts = kube.get(STATEFULSETS, ns, "web")
    for i, pod in enumerate(pods):
        meta, spec = pod["metadata"], pod["spec"]
        assert meta["labels"]["statefulset.kubernetes.io/pod-name"] == f"web-{i}"
        assert meta["labels"]["apps.kubernetes.io/pod-index"] == str(i)
        ref = meta["ownerReferences"][0]
        assert (ref["kind"], ref["uid"], ref["controller"]) == (
            "StatefulSet",
            sts["metadata"]["uid"],
            True,
        )
        assert (spec["hostname"], spec["subdomain"], spec["nodeName"]) == (
            f"web-{i}",
            "web",
            "sandbox-node",
        )
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["hostIP"] == "127.0.0.1"
        cs = pod["status"]["containerStatuses"][0]
        assert cs["ready"] and cs["started"] and "running" in cs["state"]
        assert kube.get(PVCS, ns, f"data-web-{i}")["status"]["phase"] == "Bound"
        code, body = http_get(pod["status"]["podIP"], "/env")
        assert code == 200
        env = json.loads(body)
        data = claim_dir(kube, ns, f"data-web-{i}")
        assert env["DATA_DIR"] == str(data / "app")  # rewritten to the PVC's directory
        assert env["ZENITH_SANDBOX"] == "1" and env["POD_IP"] == pod["status"]["podIP"]
        assert env["POD_NAME"] == f"web-{i}"
    status = eventually(
        lambda: (s := kube.get(STATEFULSETS, ns, "web")["status"]).get("readyReplicas") == 2 and s,
        what="statefulset status",
    )
    assert status["replicas"] == 2 and status["availableReplicas"] == 2
    assert status["currentReplicas"] == 2 and status["observedGeneration"] == 1
    assert kube.get(NODES, None, "sandbox-node")["status"]["conditions"][0]["type"] == "Ready"


def test_deleted_pod_runs_prestop_grace_and_comes_back_with_its_data(
    sandbox: Sandbox, kube: Kube, ns: str
) -> None:
    container = app_container(
        env=[*app_container()["env"], {"name": "TERM_DELAY", "value": "1"}],
        lifecycle={
            "preStop": {"exec": {"command": ["sh", "-c", "echo prestop >> $DATA_DIR/lives.txt"]}}
        },
    )
    kube.create(STATEFULSETS, ns, statefulset("db", 1, container=container))
    first = eventually(lambda: ready_pods(kube, ns, ["db-0"]), what="db-0 ready")[0]
    data = claim_dir(kube, ns, "data-db-0") / "app"
    (data / "first-life").write_text("hello")

    t0 = time.monotonic()
    kube.delete(PODS, ns, "db-0")  # graceful: the kubelet finishes it
    terminating = kube.get(PODS, ns, "db-0")
    assert terminating is not None and terminating["metadata"].get("deletionTimestamp")

    def replaced() -> dict | None:
        pod = kube.get(PODS, ns, "db-0")
        if pod and pod["metadata"]["uid"] != first["metadata"]["uid"] and pod_ready(pod):
            return pod
        return None

    second = eventually(replaced, what="db-0 recreated")
    assert time.monotonic() - t0 >= 1.0  # TERM_DELAY was honoured within the grace period
    lines = (data / "lives.txt").read_text().split()
    assert lines.count("start") == 2
    assert lines.index("prestop") < lines.index("sigterm")
    assert (claim_dir(kube, ns, "data-db-0") / "app" / "first-life").read_text() == "hello"
    assert second["status"]["podIP"]  # released IPs are not reused at once


def test_probes_drive_ready_and_restarts(sandbox: Sandbox, kube: Kube, ns: str) -> None:
    container = app_container(
        livenessProbe={
            "httpGet": {"path": "/health", "port": 8080},
            "periodSeconds": 1,
            "failureThreshold": 2,
            "terminationGracePeriodSeconds": 1,
        }
    )
    kube.create(STATEFULSETS, ns, statefulset("live", 1, container=container))
    eventually(lambda: ready_pods(kube, ns, ["live-0"]), what="ready")
    data = claim_dir(kube, ns, "data-live-0") / "app"

    (data / "unready").touch()
    eventually(lambda: not pod_ready(kube.get(PODS, ns, "live-0")), what="not ready")
    (data / "unready").unlink()
    eventually(lambda: pod_ready(kube.get(PODS, ns, "live-0")), what="ready again")

    (data / "unhealthy").touch()

    def restarted() -> dict | None:
        cs = kube.get(PODS, ns, "live-0")["status"]["containerStatuses"][0]
        return cs if cs["restartCount"] >= 1 else None

    cs = eventually(restarted, what="liveness restart")
    (data / "unhealthy").unlink()
    assert "terminated" in cs["lastState"]
    assert "liveness" in cs["lastState"]["terminated"].get("message", "")
    eventually(lambda: pod_ready(kube.get(PODS, ns, "live-0")), what="ready after restart")
    assert (data / "lives.txt").read_text().split().count("start") >= 2


def test_scale_down_keeps_claims_and_parallel_creates_all(
    sandbox: Sandbox, kube: Kube, ns: str
) -> None:
    kube.create(STATEFULSETS, ns, statefulset("par", 3, podManagementPolicy="Parallel"))
    eventually(lambda: ready_pods(kube, ns, ["par-0", "par-1", "par-2"]), what="3 ready")
    kube.patch(STATEFULSETS, ns, "par", {"spec": {"replicas": 1}})
    eventually(
        lambda: kube.get(PODS, ns, "par-2") is None and kube.get(PODS, ns, "par-1") is None,
        what="scale down",
    )
    assert kube.get(PODS, ns, "par-0") is not None
    for i in range(3):  # Retain: claims survive a scale-down
        assert kube.get(PVCS, ns, f"data-par-{i}")["status"]["phase"] == "Bound"


def test_on_delete_keeps_pods_rolling_update_replaces_them(
    sandbox: Sandbox, kube: Kube, ns: str
) -> None:
    kube.create(STATEFULSETS, ns, statefulset("od", 1, updateStrategy={"type": "OnDelete"}))
    kube.create(STATEFULSETS, ns, statefulset("ru", 2))
    old_od = eventually(lambda: ready_pods(kube, ns, ["od-0"]), what="od ready")[0]
    old_ru = eventually(lambda: ready_pods(kube, ns, ["ru-0", "ru-1"]), what="ru ready")
    patch = {"spec": {"template": {"metadata": {"labels": {"app": "od", "v": "2"}}}}}
    kube.patch(STATEFULSETS, ns, "od", patch)
    kube.patch(
        STATEFULSETS,
        ns,
        "ru",
        {"spec": {"template": {"metadata": {"labels": {"app": "ru", "v": "2"}}}}},
    )

    def rolled() -> bool:
        pods = ready_pods(kube, ns, ["ru-0", "ru-1"])
        return bool(pods) and all(p["metadata"]["labels"].get("v") == "2" for p in pods)

    eventually(rolled, timeout=30, what="rolling update done")
    new_ru = [kube.get(PODS, ns, n) for n in ("ru-0", "ru-1")]
    assert {p["metadata"]["uid"] for p in new_ru}.isdisjoint({p["metadata"]["uid"] for p in old_ru})
    od = kube.get(STATEFULSETS, ns, "od")
    eventually(
        lambda: (
            (s := kube.get(STATEFULSETS, ns, "od")["status"])["updateRevision"]
            != s["currentRevision"]
        ),
        what="od has a new update revision",
    )
    pod = kube.get(PODS, ns, "od-0")
    assert pod["metadata"]["uid"] == old_od["metadata"]["uid"]  # OnDelete: untouched
    assert od is not None
