"""Create an active/standby pair: it reaches Normal with every object the operator owns."""

from __future__ import annotations

from typing import Any

import pytest

from zenith_operator import naming

from . import manifests, timeouts
from .conftest import E2E
from .kube import ZC, Kubectl, cluster_pods, condition, pods_with_role, wait_for
from .sql import create_marker, has_marker, psql

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(timeouts.TEST)]

NAME = "pair"


def ready_addresses(kube: Kubectl, ns: str, service: str) -> list[str]:
    slices = kube.items(
        "endpointslices", namespace=ns, selector=f"kubernetes.io/service-name={service}"
    )
    return sorted(
        address
        for s in slices
        for endpoint in s.get("endpoints") or []
        if (endpoint.get("conditions") or {}).get("ready")
        for address in endpoint.get("addresses") or []
    )


def pod_ips(kube: Kubectl, ns: str, *pods: str) -> list[str]:
    return sorted(kube.get("pod", p, namespace=ns)["status"]["podIP"] for p in pods)


def in_pod(e2e: E2E, pod: str, *command: str) -> str:
    return e2e.kube.exec(pod, *command, namespace=e2e.ns).stdout


def test_pair_reaches_normal_with_its_objects(e2e: E2E) -> None:
    kube, ns = e2e.kube, e2e.ns
    status = e2e.create_normal_cluster(NAME)
    kube("wait", "--for=condition=Ready", f"{ZC}/{NAME}", "--timeout=60s", namespace=ns, timeout=70)
    ready = condition(status, "Ready")
    assert ready is not None and ready["status"] == "True", status.get("conditions")

    active, standby = status["activeInstance"], status["standbyInstance"]
    assert {active, standby} == {naming.pod_name(NAME, 0), naming.pod_name(NAME, 1)}
    assert status.get("replicationMode") == "sync", status
    assert not status.get("replicationDegraded"), status

    # roles are pod labels, and the two pods sit on different workers (anti-affinity)
    assert pods_with_role(kube, ns, NAME, "active") == [active]
    assert pods_with_role(kube, ns, NAME, "standby") == [standby]
    nodes = {p["spec"]["nodeName"] for p in cluster_pods(kube, ns, NAME)}
    assert len(nodes) == 2, f"both instances on {nodes}: anti-affinity not applied"

    sts = kube.get("statefulset", naming.statefulset_name(NAME), namespace=ns)
    assert sts["spec"]["replicas"] == 2
    assert sts["spec"]["serviceName"] == naming.headless_service_name(NAME)
    assert sts["status"].get("readyReplicas") == 2, sts["status"]
    assert [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]] == ["data"]
    for ordinal in (0, 1):
        pvc = kube.get("pvc", manifests.data_pvc_name(NAME, ordinal), namespace=ns)
        assert pvc["status"]["phase"] == "Bound"

    headless = kube.get("service", naming.headless_service_name(NAME), namespace=ns)
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"].get("publishNotReadyAddresses") is True
    services: dict[str, dict[str, Any]] = {
        role: kube.get("service", svc, namespace=ns)
        for role, svc in (
            ("active", naming.rw_service_name(NAME)),
            ("standby", naming.ro_service_name(NAME)),
        )
    }
    for role, svc in services.items():
        assert svc["spec"]["selector"].get(naming.ROLE_LABEL) == role, svc["spec"]
    wait_for(
        lambda: (
            ready_addresses(kube, ns, naming.rw_service_name(NAME)) == pod_ips(kube, ns, active)
        ),
        timeouts.FAILOVER,
        f"{naming.rw_service_name(NAME)} to route to {active} only",
    )
    wait_for(
        lambda: (
            ready_addresses(kube, ns, naming.ro_service_name(NAME)) == pod_ips(kube, ns, standby)
        ),
        timeouts.FAILOVER,
        f"{naming.ro_service_name(NAME)} to route to {standby} only",
    )

    pdb = kube.get("poddisruptionbudget", naming.pdb_name(NAME), namespace=ns)
    assert pdb["spec"].get("maxUnavailable") == 1, pdb["spec"]

    # the projected configuration is in every pod, read-only
    config = kube.get("configmap", manifests.db_config_name(NAME), namespace=ns)
    for pod in (active, standby):
        db_file = f"{naming.CONFIG_DIR}/db/{manifests.DB_CONFIG_KEY}"
        assert in_pod(e2e, pod, "cat", db_file) == config["data"][manifests.DB_CONFIG_KEY]
        secrets_dir = f"{naming.CONFIG_DIR}/secrets"
        assert in_pod(e2e, pod, "cat", f"{secrets_dir}/admin-user").strip() == (
            manifests.ADMIN_USER
        )
        assert "admin-password" in in_pod(e2e, pod, "ls", secrets_dir).split()
        assert in_pod(e2e, pod, "cat", f"{naming.CONFIG_DIR}/agent/{naming.AGENT_TOKEN_KEY}")
        assert in_pod(e2e, pod, "cat", f"{naming.CONFIG_DIR}/podinfo/name").strip() == pod
        assert "labels" in in_pod(e2e, pod, "ls", f"{naming.CONFIG_DIR}/podinfo").split()
        denied = kube.exec(pod, "touch", f"{naming.CONFIG_DIR}/db/x", namespace=ns, check=False)
        assert denied.returncode != 0, "the projected config volume is writable"

    # the active replicates synchronously to the standby, which is read-only
    assert psql(kube, ns, active, "SELECT pg_is_in_recovery()") == "f"
    assert psql(kube, ns, standby, "SELECT pg_is_in_recovery()") == "t"
    sync = psql(kube, ns, active, "SELECT application_name, sync_state FROM pg_stat_replication")
    assert f"{standby}|sync" in sync.splitlines(), sync
    create_marker(kube, ns, active, "created")
    wait_for(
        lambda: has_marker(kube, ns, standby, "created"),
        timeouts.SQL * 2,
        f"the marker row to reach {standby}",
    )
