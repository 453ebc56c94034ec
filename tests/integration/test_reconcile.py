"""The real operator process (`python -m zenith_operator run`) against the API emulator.

No kubelet or StatefulSet controller runs here: pods and PVCs are not created by the
cluster (tests create PVCs themselves where deletion policy needs them). Every wait
polls the API (or the operator's log) against a named deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import operator_rbac
import pytest
import yaml
from integration_polling import eventually

from zenith_operator.api import crd
from zenith_operator.controller.reconcile_kube import Kube, KubeError, Ref

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NS = "zenith-test"
GROUP_VERSION = "huawei.cloudb.com/v1"
STARTUP_TIMEOUT = 20.0
RECONCILE_TIMEOUT = 15.0


class Operator:
    def __init__(self, kube: Kube, log_path: Path) -> None:
        self.kube = kube
        self.log_path = log_path

    def log_lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def count(self, event: str, **match: Any) -> int:
        return sum(
            1
            for line in self.log_lines()
            if line.get("event") == event and all(line.get(k) == v for k, v in match.items())
        )

    # --- helpers on the API ---

    def apply_file(self, path: Path) -> list[dict[str, Any]]:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        for doc in docs:
            doc["metadata"]["namespace"] = NS
            self.kube.create(doc)
        return docs

    def cluster(self, name: str) -> dict[str, Any] | None:
        return self.kube.get(Ref(GROUP_VERSION, "ZenithCluster", name, NS))

    def patch_cluster(self, name: str, patch: dict[str, Any]) -> None:
        self.kube.patch(Ref(GROUP_VERSION, "ZenithCluster", name, NS), patch)

    def get(self, kind: str, name: str, api_version: str = "v1") -> dict[str, Any] | None:
        namespaced = kind not in ("PersistentVolume", "StorageClass")
        return self.kube.get(Ref(api_version, kind, name, NS if namespaced else None))

    def sts(self, name: str) -> dict[str, Any] | None:
        return self.get("StatefulSet", name, "apps/v1")

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        body = self.cluster(name) or {}
        for cond in (body.get("status") or {}).get("conditions") or []:
            if cond.get("type") == type_:
                return dict(cond)
        return None

    def events(self, name: str) -> list[dict[str, Any]]:
        result = self.kube.request("GET", f"/api/v1/namespaces/{NS}/events")
        return [
            e
            for e in result.get("items") or []
            if (e.get("involvedObject") or {}).get("name") == name
            and (e.get("involvedObject") or {}).get("kind") == "ZenithCluster"
        ]


@contextlib.contextmanager
def running_operator(
    kubeconfig: Path, tmp_path: Path, edit_rules: operator_rbac.Edit | None = None
) -> Iterator[Operator]:
    """The operator process, authenticated as its ServiceAccount with deploy/rbac's
    ClusterRole (after `edit_rules`), against the emulator behind `kubeconfig` (admin)."""
    kube = Kube.from_kubeconfig(kubeconfig)
    kube.request(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    )
    kube.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd.crd())
    eventually(
        lambda: kube.request("GET", f"/apis/{GROUP_VERSION}/namespaces/{NS}/zenithclusters"),
        STARTUP_TIMEOUT,
        "the ZenithCluster CRD to be served",
    )
    operator_rbac.install(kube, edit_rules)
    as_operator = operator_rbac.operator_kubeconfig(kube, kubeconfig, tmp_path / "operator.kc")
    log_path = tmp_path / "operator.log"
    env = {**os.environ, "KUBECONFIG": str(as_operator), "ZENITH_REPAIR_INTERVAL": "1",
           "ZENITH_RESYNC_INTERVAL": "1"}  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zenith_operator",
                "run",
                "--namespace",
                NS,
                "--standalone",
                "--liveness",
                "none",
                "--verbose",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    op = Operator(kube, log_path)
    try:
        eventually(
            lambda: "Initial authentication has finished" in log_path.read_text(),
            STARTUP_TIMEOUT,
            "the operator to start",
        )
        yield op
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def operator(kubeconfig: Path, tmp_path: Path) -> Iterator[Operator]:
    with running_operator(kubeconfig, tmp_path) as op:
        yield op


def _children(op: Operator, name: str) -> dict[str, dict[str, Any] | None]:
    return {
        "sts": op.sts(name),
        "headless": op.get("Service", name),
        "rw": op.get("Service", f"{name}-rw"),
        "ro": op.get("Service", f"{name}-ro"),
        "pdb": op.get("PodDisruptionBudget", name, "policy/v1"),
        "token": op.get("Secret", f"{name}-agent-token"),
    }


def _all_children(op: Operator, name: str) -> dict[str, dict[str, Any]] | None:
    children = _children(op, name)
    if all(children.values()):
        return {k: v for k, v in children.items() if v}
    return None


EXAMPLES = {
    "single.yaml": ("single", 1),
    "pair.yaml": ("pair", 2),
    "pair-with-config.yaml": ("configured", 2),
    "local-storage.yaml": ("local", 2),
}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_example_yields_its_objects_and_then_stays_quiet(operator: Operator, example: str) -> None:
    name, replicas = EXAMPLES[example]
    operator.apply_file(ROOT / "examples" / example)
    children = eventually(
        lambda: _all_children(operator, name), RECONCILE_TIMEOUT, f"children of {name}"
    )
    cluster = operator.cluster(name)
    assert cluster is not None
    uid = cluster["metadata"]["uid"]
    for child in children.values():
        owners = child["metadata"]["ownerReferences"]
        assert owners[0]["uid"] == uid and owners[0]["controller"] is True
    sts = children["sts"]["spec"]
    assert sts["replicas"] == replicas
    assert sts["serviceName"] == name
    assert sts["updateStrategy"] == {"type": "OnDelete"}
    assert children["headless"]["spec"]["clusterIP"] == "None"
    assert children["rw"]["spec"]["selector"]["zenith.huawei.cloudb.com/role"] == "active"
    assert children["ro"]["spec"]["selector"]["zenith.huawei.cloudb.com/role"] == "standby"
    for type_ in ("SpecValid", "ResourcesReady"):
        eventually(
            lambda t=type_: (operator.condition(name, t) or {}).get("status") == "True",
            RECONCILE_TIMEOUT,
            f"condition {type_}=True",
        )
    if example == "local-storage.yaml":
        for ordinal, node in enumerate(("worker-1", "worker-2")):
            pv = operator.get("PersistentVolume", f"zenith-{NS}-local-{ordinal}")
            assert pv is not None
            assert pv["spec"]["claimRef"]["name"] == f"data-local-{ordinal}"
            terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
            assert terms[0]["matchExpressions"][0]["values"] == [node]
        sc = operator.get("StorageClass", "local", "storage.k8s.io/v1")
        assert sc is not None and sc["provisioner"] == "kubernetes.io/no-provisioner"

    # Steady state: the repair timer (1 s here) runs and writes nothing (once the HA loop
    # has written its first status, which a loaded machine may delay).
    eventually(
        lambda: ((operator.cluster(name) or {}).get("status") or {}).get("state"),
        RECONCILE_TIMEOUT,
        "the HA loop's first status",
    )
    versions = {
        k: v["metadata"]["resourceVersion"] for k, v in _all_children(operator, name).items()
    }  # type: ignore[union-attr]
    cluster_version = (operator.cluster(name) or {})["metadata"]["resourceVersion"]
    seen = operator.count("in sync", name=name, trigger="timer")
    eventually(
        lambda: operator.count("in sync", name=name, trigger="timer") >= seen + 2,
        RECONCILE_TIMEOUT,
        "two quiet repair passes",
    )
    after = {k: v["metadata"]["resourceVersion"] for k, v in _all_children(operator, name).items()}  # type: ignore[union-attr]
    assert after == versions
    assert (operator.cluster(name) or {})["metadata"]["resourceVersion"] == cluster_version


def test_spec_edits_are_reconciled(operator: Operator) -> None:
    operator.apply_file(ROOT / "examples" / "pair.yaml")
    eventually(lambda: _all_children(operator, "pair"), RECONCILE_TIMEOUT, "children")
    operator.patch_cluster("pair", {"spec": {"zenithSpec": {"stopped": True}}})
    eventually(
        lambda: (operator.sts("pair") or {}).get("spec", {}).get("replicas") == 0,
        RECONCILE_TIMEOUT,
        "StatefulSet scaled to 0 when stopped",
    )
    operator.patch_cluster(
        "pair",
        {
            "spec": {
                "zenithSpec": {"stopped": False, "replicas": 1},
                "template": {"spec": {"nodeSelector": {"disk": "ssd"}}},
            }
        },
    )

    def edited() -> bool:
        spec = (operator.sts("pair") or {}).get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        return spec.get("replicas") == 1 and pod.get("nodeSelector") == {"disk": "ssd"}

    eventually(edited, RECONCILE_TIMEOUT, "replicas and nodeSelector edits")
    # Ports are immutable (issue 16): the API server refuses a live change.
    with pytest.raises(KubeError) as refused:
        operator.patch_cluster("pair", {"spec": {"zenithSpec": {"ports": {"listen": 5432}}}})
    assert refused.value.status == 422 and "ports are immutable" in str(refused.value)
    # Removing a field we set before removes it from the StatefulSet too.
    operator.kube.patch(
        Ref(GROUP_VERSION, "ZenithCluster", "pair", NS),
        [{"op": "remove", "path": "/spec/template/spec/nodeSelector"}],
        "application/json-patch+json",
    )
    eventually(
        lambda: "nodeSelector" not in (operator.sts("pair") or {})["spec"]["template"]["spec"],
        RECONCILE_TIMEOUT,
        "nodeSelector removed",
    )


def test_config_change_updates_the_config_hash(operator: Operator) -> None:
    operator.apply_file(ROOT / "examples" / "pair-with-config.yaml")
    sts = eventually(lambda: operator.sts("configured"), RECONCILE_TIMEOUT, "StatefulSet")
    key = "zenith.huawei.cloudb.com/config-hash"
    before = sts["spec"]["template"]["metadata"]["annotations"][key]
    operator.kube.patch(
        Ref("v1", "ConfigMap", "zenith-db-config", NS),
        {"data": {"zenith.conf": "max_connections = 300\n", "extra.conf": "a = 1\n"}},
    )

    def rolled() -> dict[str, Any] | None:
        tmpl = (operator.sts("configured") or {})["spec"]["template"]
        if tmpl["metadata"]["annotations"][key] == before:
            return None
        return dict(tmpl)

    tmpl = eventually(rolled, RECONCILE_TIMEOUT, "a new config hash on the pod template")
    db = tmpl["spec"]["volumes"][0]["projected"]["sources"][0]["configMap"]
    assert {i["path"] for i in db["items"]} == {"db/zenith.conf", "db/extra.conf"}


def test_deleted_and_drifted_children_are_repaired(operator: Operator) -> None:
    operator.apply_file(ROOT / "examples" / "single.yaml")
    children = eventually(lambda: _all_children(operator, "single"), RECONCILE_TIMEOUT, "children")
    for kind, api_version, name in (
        ("Service", "v1", "single-rw"),
        ("StatefulSet", "apps/v1", "single"),
        ("PodDisruptionBudget", "policy/v1", "single"),
    ):
        old_uid = operator.get(kind, name, api_version)["metadata"]["uid"]  # type: ignore[index]
        operator.kube.delete(Ref(api_version, kind, name, NS))
        eventually(
            lambda k=kind, a=api_version, n=name, u=old_uid: (
                (operator.get(k, n, a) or {}).get("metadata", {}).get("uid", u) != u
            ),
            RECONCILE_TIMEOUT,
            f"{kind} {name} recreated",
        )
    token = children["token"]["data"]["agent-token"]
    operator.kube.patch(
        Ref("v1", "Service", "single-ro", NS),
        {"spec": {"selector": {"zenith.huawei.cloudb.com/role": "active"}}},
    )
    eventually(
        lambda: (
            (operator.get("Service", "single-ro") or {})["spec"]["selector"][
                "zenith.huawei.cloudb.com/role"
            ]
            == "standby"
        ),
        RECONCILE_TIMEOUT,
        "the drifted selector repaired",
    )
    assert (operator.get("Secret", "single-agent-token") or {})["data"]["agent-token"] == token


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"zenithSpec": {"dbConfigMap": ["missing-config"]}}, "spec.zenithSpec.dbConfigMap[0]"),
        (
            {
                "template": {
                    "spec": {
                        "containers": [{"name": "zenith-ha", "ports": [{"containerPort": 32080}]}]
                    }
                }
            },
            "spec.template.spec.containers[0].ports[0].containerPort",
        ),
    ],
)
def test_invalid_spec_past_the_schema_is_reported(
    operator: Operator, patch: dict[str, Any], field: str
) -> None:
    body = {
        "apiVersion": GROUP_VERSION,
        "kind": "ZenithCluster",
        "metadata": {"name": "bad", "namespace": NS},
        "spec": {"zenithSpec": {"replicas": 1}, **patch},
    }
    operator.kube.create(body)
    cond = eventually(
        lambda: (c := operator.condition("bad", "SpecValid")) and c["status"] == "False" and c,
        RECONCILE_TIMEOUT,
        "SpecValid=False",
    )
    assert cond["reason"] == "InvalidSpec"
    assert cond["message"].startswith(field + ": ")
    event = eventually(
        lambda: [e for e in operator.events("bad") if e.get("reason") == "InvalidSpec"],
        RECONCILE_TIMEOUT,
        "an InvalidSpec Event",
    )
    assert field in event[0]["message"] and event[0]["type"] == "Warning"
    assert operator.sts("bad") is None


def test_missing_config_created_later_heals(operator: Operator) -> None:
    operator.kube.create(
        {
            "apiVersion": GROUP_VERSION,
            "kind": "ZenithCluster",
            "metadata": {"name": "late", "namespace": NS},
            "spec": {"zenithSpec": {"replicas": 1, "dbSecrets": ["late-secret"]}},
        }
    )
    eventually(
        lambda: (operator.condition("late", "SpecValid") or {}).get("status") == "False",
        RECONCILE_TIMEOUT,
        "SpecValid=False",
    )
    operator.kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "late-secret", "namespace": NS},
            "data": {"admin-password": "c2VjcmV0"},
        }
    )
    eventually(lambda: operator.sts("late"), RECONCILE_TIMEOUT, "the StatefulSet once it exists")
    eventually(  # written right after the children, so not necessarily seen with them
        lambda: (operator.condition("late", "SpecValid") or {}).get("status") == "True",
        RECONCILE_TIMEOUT,
        "SpecValid=True",
    )


def test_local_nodes_fewer_than_replicas_is_invalid(operator: Operator) -> None:
    operator.kube.create(
        {
            "apiVersion": GROUP_VERSION,
            "kind": "ZenithCluster",
            "metadata": {"name": "short", "namespace": NS},
            "spec": {
                "zenithSpec": {
                    "replicas": 2,
                    "localStorage": {"nodes": [{"node": "n1", "path": "/data"}]},
                }
            },
        }
    )
    cond = eventually(
        lambda: (c := operator.condition("short", "SpecValid")) and c["status"] == "False" and c,
        RECONCILE_TIMEOUT,
        "SpecValid=False",
    )
    assert cond["message"].startswith("spec.zenithSpec.localStorage.nodes: ")


def _pvc(name: str, cluster: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {
                "app.kubernetes.io/managed-by": "zenith-operator",
                "zenith.huawei.cloudb.com/cluster": cluster,
            },
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def _gone(op: Operator, kind: str, name: str, api_version: str = "v1") -> bool:
    return op.get(kind, name, api_version) is None


def test_delete_with_retain_keeps_pvcs(operator: Operator) -> None:
    operator.apply_file(ROOT / "examples" / "single.yaml")  # retentionPolicy default Retain
    eventually(lambda: _all_children(operator, "single"), RECONCILE_TIMEOUT, "children")
    operator.kube.create(_pvc("data-single-0", "single"))
    operator.kube.delete(Ref(GROUP_VERSION, "ZenithCluster", "single", NS))
    eventually(lambda: operator.cluster("single") is None, RECONCILE_TIMEOUT, "cluster deleted")
    eventually(lambda: _gone(operator, "StatefulSet", "single", "apps/v1"), RECONCILE_TIMEOUT, "GC")
    assert operator.get("PersistentVolumeClaim", "data-single-0") is not None


def test_delete_with_delete_policy_removes_pvcs_and_local_pvs(operator: Operator) -> None:
    operator.apply_file(ROOT / "examples" / "local-storage.yaml")
    eventually(lambda: _all_children(operator, "local"), RECONCILE_TIMEOUT, "children")
    pvs = [f"zenith-{NS}-local-{i}" for i in range(2)]
    eventually(
        lambda: all(operator.get("PersistentVolume", pv) for pv in pvs), RECONCILE_TIMEOUT, "PVs"
    )
    for i in range(2):
        operator.kube.create(_pvc(f"data-local-{i}", "local"))
    # The PV protection finalizer that real clusters put on PVs (the seed's manual step).
    operator.kube.patch(
        Ref("v1", "PersistentVolume", pvs[0], None),
        {"metadata": {"finalizers": ["kubernetes.io/pv-protection"]}},
    )
    operator.kube.delete(Ref(GROUP_VERSION, "ZenithCluster", "local", NS))
    eventually(lambda: operator.cluster("local") is None, RECONCILE_TIMEOUT * 2, "cluster gone")
    for i in range(2):
        assert _gone(operator, "PersistentVolumeClaim", f"data-local-{i}")
    eventually(
        lambda: all(_gone(operator, "PersistentVolume", pv) for pv in pvs),
        RECONCILE_TIMEOUT,
        "local PVs deleted (pv-protection cleared)",
    )
    # The shared StorageClass stays.
    assert operator.get("StorageClass", "local", "storage.k8s.io/v1") is not None


def test_released_local_pv_is_made_available_to_its_claim_again(operator: Operator) -> None:
    """A PV kept (Retain) from a deleted incarnation is re-offered to the same claim name."""
    operator.apply_file(ROOT / "examples" / "local-storage.yaml")
    pv = f"zenith-{NS}-local-0"
    eventually(lambda: operator.get("PersistentVolume", pv), RECONCILE_TIMEOUT, "the PV")
    # What the PV controller leaves behind after the old claim was deleted.
    ref = Ref("v1", "PersistentVolume", pv, None)
    operator.kube.patch(ref, {"spec": {"claimRef": {"uid": "old-claim-uid"}}})
    operator.kube.patch(ref, {"status": {"phase": "Released"}}, subresource="status")
    eventually(
        lambda: "uid" not in (operator.get("PersistentVolume", pv) or {})["spec"]["claimRef"],
        RECONCILE_TIMEOUT,
        "the stale claimRef uid removed",
    )
    claim = (operator.get("PersistentVolume", pv) or {})["spec"]["claimRef"]
    assert claim["name"] == "data-local-0" and claim["namespace"] == NS


FORBIDDEN_NAMESPACES = (
    f'namespaces is forbidden: User \\"{operator_rbac.USER}\\" cannot list resource '
    '\\"namespaces\\" in API group \\"\\" at the cluster scope'
)


def test_operator_runs_with_its_service_account(operator: Operator) -> None:
    """deploy/rbac grants everything the operator uses: nothing it asks is refused."""
    operator.apply_file(ROOT / "examples" / "pair.yaml")
    eventually(lambda: _all_children(operator, "pair"), RECONCILE_TIMEOUT, "children of pair")
    assert "is forbidden" not in operator.log_path.read_text()


@pytest.mark.parametrize(
    ("resource", "verb", "refused"),
    [
        # kopf lists namespaces even with --namespace: 403s retried for ~54 s (seen on 1.36)
        ("namespaces", "list", FORBIDDEN_NAMESPACES),
        (
            "statefulsets",
            "create",
            f'statefulsets.apps is forbidden: User \\"{operator_rbac.USER}\\" cannot create '
            f'resource \\"statefulsets\\" in API group \\"apps\\" in the namespace \\"{NS}\\"',
        ),
    ],
)
def test_a_verb_missing_from_the_role_fails_the_operator(
    kubeconfig: Path, tmp_path: Path, resource: str, verb: str, refused: str
) -> None:
    with running_operator(kubeconfig, tmp_path, operator_rbac.without(resource, verb)) as op:
        op.apply_file(ROOT / "examples" / "pair.yaml")
        eventually(
            lambda: refused in op.log_path.read_text(), RECONCILE_TIMEOUT, f"403 on {resource}"
        )
        assert op.sts("pair") is None
