"""Builders: literal snapshots of the small objects, targeted asserts on the StatefulSet."""

from __future__ import annotations

from typing import Any

import pytest

from zenith_operator.api.cluster import ClusterRef, ZenithCluster, from_body
from zenith_operator.api.spec import SpecError, ZenithClusterSpec, parse_spec
from zenith_operator.api.status import ZenithClusterStatus
from zenith_operator.resources import desired
from zenith_operator.resources.config import ResolvedSource, SourceRef, check_paths
from zenith_operator.resources.pod import pod_template
from zenith_operator.resources.storage import local_volumes, storage_class
from zenith_operator.resources.workload import (
    agent_token_secret,
    headless_service,
    pod_disruption_budget,
    role_service,
    statefulset,
)

REF = ClusterRef(name="pair", namespace="ns", uid="uid-1")
OWNER = {
    "apiVersion": "huawei.cloudb.com/v1",
    "kind": "ZenithCluster",
    "name": "pair",
    "uid": "uid-1",
    "controller": True,
    "blockOwnerDeletion": True,
}
LABELS = {
    "app.kubernetes.io/name": "zenith",
    "app.kubernetes.io/instance": "pair",
    "app.kubernetes.io/managed-by": "zenith-operator",
    "app.kubernetes.io/component": "database",
    "zenith.huawei.cloudb.com/cluster": "pair",
}
SELECTOR = {"app.kubernetes.io/name": "zenith", "app.kubernetes.io/instance": "pair"}


def spec(**zenith: Any) -> ZenithClusterSpec:
    return parse_spec({"zenithSpec": zenith})


def meta(name: str) -> dict[str, Any]:
    return {"name": name, "namespace": "ns", "labels": LABELS, "ownerReferences": [OWNER]}


def test_headless_service_snapshot() -> None:
    assert headless_service(REF, spec()) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("pair"),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": SELECTOR,
            "ports": [
                {"name": "listen", "port": 32080, "targetPort": "listen", "protocol": "TCP"},
                {
                    "name": "replication",
                    "port": 12345,
                    "targetPort": "replication",
                    "protocol": "TCP",
                },
                {"name": "agent", "port": 8008, "targetPort": "agent", "protocol": "TCP"},
            ],
        },
    }


def test_role_services_snapshot() -> None:
    rw = role_service(REF, spec(), "active")
    ro = role_service(REF, spec(), "standby")
    assert rw == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("pair-rw"),
        "spec": {
            "type": "ClusterIP",
            "selector": {**SELECTOR, "zenith.huawei.cloudb.com/role": "active"},
            "ports": [{"name": "listen", "port": 32080, "targetPort": "listen", "protocol": "TCP"}],
        },
    }
    assert ro["metadata"]["name"] == "pair-ro"
    assert ro["spec"]["selector"]["zenith.huawei.cloudb.com/role"] == "standby"


def test_pdb_snapshot() -> None:
    assert pod_disruption_budget(REF) == {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta("pair"),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": SELECTOR},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def test_token_secret() -> None:
    secret = agent_token_secret(REF, "tok")
    assert secret["metadata"] == meta("pair-agent-token")
    assert secret["data"] == {"agent-token": "dG9r"}


def test_statefulset_shape() -> None:
    sts = statefulset(REF, spec(storageSize="5G", storageClassName="fast"), [], "h1")
    s = sts["spec"]
    assert s["replicas"] == 2
    assert s["serviceName"] == "pair"
    assert s["podManagementPolicy"] == "Parallel"
    assert s["updateStrategy"] == {"type": "OnDelete"}
    assert s["selector"] == {"matchLabels": SELECTOR}
    assert s["volumeClaimTemplates"] == [
        {
            "metadata": {"name": "data", "labels": LABELS},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "5G"}},
                "storageClassName": "fast",
            },
        }
    ]
    pod = s["template"]
    assert pod["metadata"]["annotations"] == {"zenith.huawei.cloudb.com/config-hash": "h1"}
    assert "zenith.huawei.cloudb.com/role" not in pod["metadata"]["labels"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["fsGroup"] == 10001
    anti = pod["spec"]["affinity"]["podAntiAffinity"]
    term = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"


def test_stopped_scales_to_zero() -> None:
    assert statefulset(REF, spec(stopped=True), [], "h")["spec"]["replicas"] == 0


def test_container_follows_the_contract() -> None:
    c = statefulset(REF, spec(engine="command"), [], "h")["spec"]["template"]["spec"]["containers"][
        0
    ]
    assert c["name"] == "zenith-ha"
    assert c["command"] == ["zenith-operator", "agent"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env["ZENITH_CLUSTER"] == "pair"
    assert env["ZENITH_ENGINE"] == "command"
    assert env["ZENITH_CONFIG_DIR"] == "/etc/zenith"
    assert env["ZENITH_DATA_DIR"] == "/var/lib/zenith"
    assert "ZENITH_TOKEN_FILE" not in env  # no token file: the database could read it
    assert env["ZENITH_AGENT_TOKEN"] == {
        "secretKeyRef": {"name": "pair-agent-token", "key": "agent-token"}
    }
    assert (env["ZENITH_AGENT_PORT"], env["ZENITH_LISTEN_PORT"]) == ("8008", "32080")
    assert c["volumeMounts"] == [
        {"name": "config", "mountPath": "/etc/zenith", "readOnly": True},
        {"name": "data", "mountPath": "/var/lib/zenith"},
    ]
    assert c["readinessProbe"]["httpGet"]["path"] == "/health?ready=1"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"


@pytest.mark.parametrize(("polling", "unreachable"), [(1, 4), (10, 30), (5, 20), (30, 120)])
def test_liveness_kills_a_hung_agent_before_unreachable_timeout(
    polling: int, unreachable: int
) -> None:
    c = statefulset(REF, spec(pollingInterval=polling, unreachableTimeout=unreachable), [], "h")[
        "spec"
    ]["template"]["spec"]["containers"][0]
    live = c["livenessProbe"]
    worst = (
        live["periodSeconds"] * live["failureThreshold"]
        + live["timeoutSeconds"]
        + live["terminationGracePeriodSeconds"]
    )
    assert worst < unreachable


def test_projected_volume_layout() -> None:
    sources = [
        ResolvedSource(SourceRef("ConfigMap", "dbc", "db", "f"), ("zenith.conf",), "d1"),
        ResolvedSource(SourceRef("Secret", "sec", "secrets", "f"), ("admin-password",), "d2"),
        ResolvedSource(SourceRef("ConfigMap", "empty", "instance", "f"), (), "d3"),
    ]
    vol = pod_template(REF, spec(), sources, "h")["spec"]["volumes"][0]
    assert vol["name"] == "config"
    assert vol["projected"]["sources"] == [
        {"configMap": {"name": "dbc", "items": [{"key": "zenith.conf", "path": "db/zenith.conf"}]}},
        {
            "secret": {
                "name": "sec",
                "items": [{"key": "admin-password", "path": "secrets/admin-password"}],
            }
        },
        {
            "downwardAPI": {
                "items": [
                    {"path": f"podinfo/{f}", "fieldRef": {"fieldPath": f"metadata.{f}"}}
                    for f in ("labels", "annotations", "name", "namespace")
                ]
            }
        },
    ]


def test_colliding_projected_paths_name_the_field() -> None:
    a = ResolvedSource(
        SourceRef("ConfigMap", "a", "db", "spec.zenithSpec.dbConfigMap[0]"), ("k",), ""
    )
    b = ResolvedSource(
        SourceRef("ConfigMap", "b", "db", "spec.zenithSpec.dbConfigMap[1]"), ("k",), ""
    )
    with pytest.raises(SpecError) as caught:
        check_paths([a, b])
    assert caught.value.path == "spec.zenithSpec.dbConfigMap[1]"
    token = ResolvedSource(
        SourceRef("ConfigMap", "c", "agent", "spec.agentSpec.agentConfig[0]"), ("agent-token",), ""
    )
    with pytest.raises(SpecError, match="agent token"):
        check_paths([token])


def _template(raw: dict[str, Any]) -> dict[str, Any]:
    s = parse_spec({"template": raw})
    return pod_template(REF, s, [], "h")


def test_zenith_ha_override_merges() -> None:
    pod = _template(
        {
            "metadata": {"labels": {"team": "a", "app.kubernetes.io/name": "evil"}},
            "spec": {
                "containers": [
                    {
                        "name": "zenith-ha",
                        "resources": {"limits": {"cpu": "2"}},
                        "env": [{"name": "TZ", "value": "UTC"}],
                        "volumeMounts": [{"name": "certs", "mountPath": "/etc/certificate"}],
                        "ports": [{"name": "metrics", "containerPort": 9187}],
                    },
                    {"name": "sidecar", "image": "busybox"},
                ],
                "initContainers": [{"name": "notify-download-package", "image": "busybox"}],
                "volumes": [{"name": "certs", "secret": {"secretName": "certs"}}],
                "nodeSelector": {"disk": "ssd"},
                "tolerations": [{"key": "db", "operator": "Exists"}],
            },
        }
    )
    labels = pod["metadata"]["labels"]
    assert labels["team"] == "a" and labels["app.kubernetes.io/name"] == "zenith"
    main, sidecar = pod["spec"]["containers"]
    assert main["resources"] == {"limits": {"cpu": "2"}}
    assert main["env"][-1] == {"name": "TZ", "value": "UTC"}
    assert main["volumeMounts"][-1]["mountPath"] == "/etc/certificate"
    assert [p["name"] for p in main["ports"]] == [
        "listen",
        "replication",
        "agent",
        "agent-metrics",
        "metrics",
    ]
    assert sidecar == {"name": "sidecar", "image": "busybox"}
    assert pod["spec"]["initContainers"][0]["name"] == "notify-download-package"
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["config", "certs"]
    assert pod["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert pod["spec"]["tolerations"] == [{"key": "db", "operator": "Exists"}]


@pytest.mark.parametrize(
    ("container", "path"),
    [
        (
            {"ports": [{"containerPort": 32080}]},
            "spec.template.spec.containers[0].ports[0].containerPort",
        ),
        (
            {"ports": [{"name": "agent", "containerPort": 1}]},
            "spec.template.spec.containers[0].ports[0].name",
        ),
        (
            {"env": [{"name": "POD_NAME", "value": "x"}]},
            "spec.template.spec.containers[0].env[0].name",
        ),
        (
            {"volumeMounts": [{"name": "x", "mountPath": "/var/lib/zenith/sub"}]},
            "spec.template.spec.containers[0].volumeMounts[0].mountPath",
        ),
        ({"image": "other"}, "spec.template.spec.containers[0].image"),
        ({"command": ["sh"]}, "spec.template.spec.containers[0].command"),
    ],
)
def test_override_clashes_name_the_field(container: dict[str, Any], path: str) -> None:
    with pytest.raises(SpecError) as caught:
        _template({"spec": {"containers": [{"name": "zenith-ha", **container}]}})
    assert caught.value.path == path


def test_reserved_volume_name() -> None:
    with pytest.raises(SpecError) as caught:
        _template({"spec": {"volumes": [{"name": "data", "emptyDir": {}}]}})
    assert caught.value.path == "spec.template.spec.volumes[0].name"


CLAIM = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}


def test_volume_claim_template_override() -> None:
    s = parse_spec(
        {
            "volumeClaimTemplates": [
                {"metadata": {"name": "data"}, "spec": {"storageClassName": "x", **CLAIM}},
                {"metadata": {"name": "wal"}, "spec": CLAIM},
            ]
        }
    )
    claims = statefulset(REF, s, [], "h")["spec"]["volumeClaimTemplates"]
    assert [c["metadata"]["name"] for c in claims] == ["data", "wal"]
    assert claims[0]["spec"] == {"storageClassName": "x", **CLAIM}
    assert claims[1]["metadata"]["labels"] == LABELS


def test_local_storage() -> None:
    s = spec(
        replicas=1,
        storageSize="5G",
        localStorage={"nodes": [{"node": "n1", "path": "/d1"}, {"node": "n2", "path": "/d2"}]},
    )
    assert storage_class(s) == {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "zenith-local",
            "labels": {"app.kubernetes.io/managed-by": "zenith-operator"},
        },
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Retain",
    }
    (pv,) = local_volumes(REF, s)  # only `replicas` volumes
    assert pv["metadata"]["name"] == "zenith-ns-pair-0"
    assert "ownerReferences" not in pv["metadata"]
    assert pv["metadata"]["labels"]["zenith.huawei.cloudb.com/namespace"] == "ns"
    assert pv["spec"]["local"] == {"path": "/d1"}
    assert pv["spec"]["claimRef"]["name"] == "data-pair-0"
    assert pv["spec"]["storageClassName"] == "zenith-local"
    assert pv["spec"]["capacity"] == {"storage": "5G"}


def test_desired_lists_every_object() -> None:
    cluster = ZenithCluster(REF, spec(), ZenithClusterStatus())
    want = desired(cluster, [])
    kinds = [(o["kind"], o["metadata"]["name"]) for o in want.all()]
    assert kinds == [
        ("Service", "pair"),
        ("Service", "pair-rw"),
        ("Service", "pair-ro"),
        ("PodDisruptionBudget", "pair"),
        ("StatefulSet", "pair"),
    ]
    assert want.config_hash


def test_without_db_secrets_the_generated_credentials_are_projected() -> None:
    from zenith_operator.resources.config import referenced_sources

    cluster = from_body(
        {
            "apiVersion": "huawei.cloudb.com/v1",
            "kind": "ZenithCluster",
            "metadata": {"name": "pair", "namespace": "demo", "uid": "u1"},
            "spec": {"zenithSpec": {"replicas": 2}},
        }
    )
    refs = [r for r in referenced_sources(cluster.spec, "pair") if r.kind == "Secret"]
    assert [(r.name, r.directory) for r in refs] == [("pair-credentials", "secrets")]


def test_generated_credentials_hold_what_the_agent_needs() -> None:
    import base64

    from zenith_operator.resources.workload import CREDENTIAL_KEYS, credentials_secret

    secret = credentials_secret(REF, "a", "r")
    assert secret["metadata"]["name"] == "pair-credentials"
    assert sorted(secret["data"]) == sorted(CREDENTIAL_KEYS)
    assert base64.b64decode(secret["data"]["admin-password"]) == b"a"


def test_agent_metrics_port_and_env_unless_a_zenith_port_takes_it() -> None:
    def main_container(s: ZenithClusterSpec) -> dict[str, Any]:
        c: dict[str, Any] = pod_template(REF, s, [], "h")["spec"]["containers"][0]
        return c

    c = main_container(spec())
    assert {"name": "agent-metrics", "containerPort": 8009, "protocol": "TCP"} in c["ports"]
    assert {"name": "ZENITH_METRICS_PORT", "value": "8009"} in c["env"]
    c = main_container(spec(ports={"listen": 8009}))
    assert "agent-metrics" not in [p["name"] for p in c["ports"]]
    assert {"name": "ZENITH_METRICS_PORT", "value": "0"} in c["env"]
