"""The bad-input table: malformed and hostile ZenithClusters and what must happen to each.

`REJECTED`: the API server refuses the object at admission (the CRD's schema and CEL
rules); every listed fragment appears in its message. `INVALID`: the object is stored,
and the operator reports `SpecValid=False` with a message that starts with `field` (and a
Warning Event saying the same) within one reconcile. The same table runs against the
emulator with the real operator (test_bad_input.py) and, for `REJECTED`, against a real
kube-apiserver (server-side dry run).
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
GOOD_LOCAL = {"nodes": [{"node": "node-a", "path": "/mnt/disks/zenith"}]}


@dataclass(frozen=True)
class Rejected:
    id: str
    body: Obj
    fragments: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True)
class Invalid:
    id: str
    body: Obj
    field: str
    extra: tuple[Obj, ...] = field(default_factory=tuple)


def z(**zenith: Any) -> Obj:
    """A spec with these zenithSpec fields (single instance unless said otherwise)."""
    return {"zenithSpec": {"replicas": 1, **zenith}}


def spec(zenith: Obj | None = None, **top: Any) -> Obj:
    out = copy.deepcopy(zenith or z())
    out.update(top)
    return out


def template(**pod_spec: Any) -> Obj:
    return spec(template={"spec": pod_spec})


def local(*nodes: tuple[str, str], replicas: int = 1) -> Obj:
    entries = [{"node": n, "path": p} for n, p in nodes]
    return z(replicas=replicas, localStorage={"nodes": entries})


def claim(name: str | None = "data", **claim_spec: Any) -> Obj:
    good: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    out: Obj = {"spec": {**good, **claim_spec}}
    if name is not None:
        out["metadata"] = {"name": name}
    return out


def claims(*items: Obj) -> Obj:
    return spec(volumeClaimTemplates=list(items))


def configmap(name: str, data: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def secret(name: str, data: dict[str, str]) -> Obj:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": encoded}


def local_pv(name: str, node: str, path: str) -> Obj:
    """Someone else's local PersistentVolume (an administrator's, another cluster's)."""
    term = {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "manual",
            "local": {"path": path},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [term]}]}},
        },
    }


SIDECAR = {"name": "metrics", "image": "exporter:1"}
SZ = "spec.zenithSpec"
ST = "spec.template.spec"
DNS1035 = "DNS-1035 label"

REJECTED: list[Rejected] = [
    # --- metadata.name: it names Services (DNS-1035) and labels NAME-<hash> (<= 63)
    Rejected("name-dot", spec(), ("metadata.name", DNS1035), name="bad.dot"),
    Rejected("name-digit", spec(), ("metadata.name", DNS1035), name="1st-cluster"),
    Rejected("name-long", spec(), ("metadata.name", "at most 52"), name="n" * 53),
    # --- storageSize: a positive quantity, bounded, no milli
    Rejected("size-words", z(storageSize="five gigs"), (f"{SZ}.storageSize",)),
    Rejected("size-milli", z(storageSize="100m"), (f"{SZ}.storageSize",)),
    Rejected("size-exa", z(storageSize="999999Ei"), (f"{SZ}.storageSize",)),
    Rejected("size-negative", z(storageSize="-1Gi"), (f"{SZ}.storageSize",)),
    Rejected("size-zero-string", z(storageSize="0"), (f"{SZ}.storageSize",)),
    Rejected("size-zero-int", z(storageSize=0), (f"{SZ}.storageSize",)),
    Rejected("size-exponent", z(storageSize="1e3"), (f"{SZ}.storageSize",)),
    Rejected("size-two-points", z(storageSize="1.5.5Gi"), (f"{SZ}.storageSize",)),
    Rejected("size-GB", z(storageSize="10GB"), (f"{SZ}.storageSize",)),
    Rejected("size-space", z(storageSize=" 1Gi"), (f"{SZ}.storageSize",)),
    Rejected("size-seven-digits", z(storageSize="1000000Gi"), (f"{SZ}.storageSize",)),
    # --- timing: bounded, consistent
    Rejected("poll-zero", z(pollingInterval=0), (f"{SZ}.pollingInterval",)),
    Rejected("poll-huge", z(pollingInterval=9999999999999998), (f"{SZ}.pollingInterval",)),
    Rejected(
        "poll-301", z(pollingInterval=301, unreachableTimeout=600), (f"{SZ}.pollingInterval",)
    ),
    Rejected("poll-string", z(pollingInterval="10"), (f"{SZ}.pollingInterval",)),
    Rejected("timeout-3601", z(unreachableTimeout=3601), (f"{SZ}.unreachableTimeout",)),
    Rejected("timeout-huge", z(unreachableTimeout=9999999999999998), (f"{SZ}.unreachableTimeout",)),
    Rejected(
        "timeout-3", z(unreachableTimeout=3, pollingInterval=1), (f"{SZ}.unreachableTimeout",)
    ),
    Rejected(
        "timeout-below-poll",
        z(pollingInterval=30, unreachableTimeout=20),
        ("unreachableTimeout must be greater than pollingInterval",),
    ),
    # --- topology and enums
    Rejected("replicas-3", z(replicas=3), (f"{SZ}.replicas",)),
    Rejected("replicas-0", z(replicas=0), (f"{SZ}.replicas",)),
    Rejected("policy-unknown", z(failoverPolicy="Sometimes"), (f"{SZ}.failoverPolicy",)),
    Rejected("engine-unknown", z(engine="mysql"), (f"{SZ}.engine",)),
    Rejected("pull-unknown", z(imagePullPolicy="Sometimes"), (f"{SZ}.imagePullPolicy",)),
    Rejected("ssl-string", z(replicationSSLMandatory="yes"), (f"{SZ}.replicationSSLMandatory",)),
    Rejected("stopped-string", z(stopped="true"), (f"{SZ}.stopped",)),
    Rejected(
        "retention-unknown", spec(retentionPolicy={"pvcs": "Maybe"}), ("spec.retentionPolicy.pvcs",)
    ),
    Rejected("version-long", z(version="v" * 300), (f"{SZ}.version",)),
    # --- ports: non-root pod (>= 1024), distinct, in range
    Rejected("listen-22", z(ports={"listen": 22}), (f"{SZ}.ports.listen",)),
    Rejected("agent-80", z(ports={"agent": 80}), (f"{SZ}.ports.agent",)),
    Rejected("replication-0", z(ports={"replication": 0}), (f"{SZ}.ports.replication",)),
    Rejected("listen-70000", z(ports={"listen": 70000}), (f"{SZ}.ports.listen",)),
    Rejected(
        "listen-is-agent",
        z(ports={"listen": 8008, "agent": 8008, "replication": 12345}),
        ("must differ",),
    ),
    # --- references and values Kubernetes validates on the children
    Rejected("class-underscore", z(storageClassName="Fast_SSD"), (f"{SZ}.storageClassName",)),
    Rejected("class-double-dot", z(storageClassName="a..b"), (f"{SZ}.storageClassName",)),
    Rejected("image-space", z(image="my image:1"), (f"{SZ}.image",)),
    Rejected("image-empty", z(image=""), (f"{SZ}.image",)),
    Rejected("image-newline", z(image="img:1\n"), (f"{SZ}.image",)),
    Rejected("dbconfig-name", z(dbConfigMap=["Bad_Name"]), (f"{SZ}.dbConfigMap[0]",)),
    Rejected("secrets-17", z(dbSecrets=[f"s{i}" for i in range(17)]), (f"{SZ}.dbSecrets",)),
    Rejected(
        "agentconfig-name",
        spec(agentSpec={"agentConfig": ["a/b"]}),
        ("spec.agentSpec.agentConfig[0]",),
    ),
    # --- localStorage: normalized, non-system paths; node names; no shared directory
    Rejected(
        "path-dotdot", local(("node-a", "/mnt/disks/../../etc")), ("localStorage.nodes[0].path",)
    ),
    Rejected("path-root", local(("node-a", "/")), ("localStorage.nodes[0].path",)),
    Rejected("path-etc", local(("node-a", "/etc")), ("path must not be a system directory",)),
    Rejected("path-proc", local(("node-a", "/proc/1")), ("path must not be a system directory",)),
    Rejected(
        "path-kubelet",
        local(("node-a", "/var/lib/kubelet/pods")),
        ("path must not be a system directory",),
    ),
    Rejected(
        "path-root-home", local(("node-a", "/root/db")), ("path must not be a system directory",)
    ),
    Rejected("path-relative", local(("node-a", "mnt/disks")), ("localStorage.nodes[0].path",)),
    Rejected(
        "path-trailing-slash", local(("node-a", "/mnt/disks/")), ("localStorage.nodes[0].path",)
    ),
    Rejected(
        "path-double-slash", local(("node-a", "/mnt//disks")), ("localStorage.nodes[0].path",)
    ),
    Rejected("path-dot", local(("node-a", "/mnt/./disks")), ("localStorage.nodes[0].path",)),
    Rejected("path-slash-dot", local(("node-a", "/.")), ("localStorage.nodes[0].path",)),
    Rejected(
        "node-underscore", local(("Worker_1", "/mnt/disks/z")), ("localStorage.nodes[0].node",)
    ),
    Rejected("node-empty", local(("", "/mnt/disks/z")), ("localStorage.nodes[0].node",)),
    Rejected(
        "shared-directory",
        local(("node-a", "/mnt/disks/z"), ("node-a", "/mnt/disks/z"), replicas=2),
        ("two instances cannot share a directory",),
    ),
    Rejected(
        "nested-directory",
        local(("node-a", "/mnt/disks/z"), ("node-a", "/mnt/disks/z/inner"), replicas=2),
        ("two instances cannot share a directory",),
    ),
    Rejected(
        "three-nodes",
        local(("a", "/mnt/a"), ("b", "/mnt/b"), ("c", "/mnt/c"), replicas=2),
        ("localStorage.nodes",),
    ),
    Rejected(
        "reclaim-unknown",
        z(localStorage={**GOOD_LOCAL, "reclaimPolicy": "Keep"}),
        ("localStorage.reclaimPolicy",),
    ),
    # --- template: label limits, names
    Rejected(
        "label-value-64",
        spec(template={"metadata": {"labels": {"team": "x" * 64}}}),
        ("spec.template.metadata.labels",),
    ),
    Rejected(
        "label-key-space",
        spec(template={"metadata": {"labels": {"bad key": "x"}}}),
        ("keys must be qualified names",),
    ),
    Rejected(
        "label-value-space",
        spec(template={"metadata": {"labels": {"team": "a b"}}}),
        ("spec.template.metadata.labels",),
    ),
    Rejected(
        "annotation-key",
        spec(template={"metadata": {"annotations": {"has space/x": "v"}}}),
        ("keys must be qualified names",),
    ),
    Rejected("selector-value", template(nodeSelector={"disk": "a b"}), (f"{ST}.nodeSelector",)),
    Rejected(
        "selector-key", template(nodeSelector={"-disk": "ssd"}), ("keys must be qualified names",)
    ),
    Rejected(
        "container-name", template(containers=[{"name": "Side_Car"}]), (f"{ST}.containers[0].name",)
    ),
    Rejected(
        "sidecar-image-space",
        template(containers=[{"name": "metrics", "image": "exporter 1"}]),
        (f"{ST}.containers[0].image",),
    ),
    Rejected(
        "priority-class", template(priorityClassName="Bad_Class"), (f"{ST}.priorityClassName",)
    ),
    Rejected(
        "service-account", template(serviceAccountName="UPPER"), (f"{ST}.serviceAccountName",)
    ),
    # --- volumeClaimTemplates sanity
    Rejected(
        "claim-no-spec",
        spec(volumeClaimTemplates=[{"metadata": {"name": "data"}}]),
        ("spec.volumeClaimTemplates[0].spec",),
    ),
    Rejected("claim-no-name", claims(claim(None)), ("spec.volumeClaimTemplates[0].metadata",)),
    Rejected(
        "claim-no-storage",
        claims(claim(resources={"requests": {}})),
        ("spec.volumeClaimTemplates[0].spec.resources.requests.storage",),
    ),
    Rejected(
        "claim-no-modes",
        claims(claim(accessModes=[])),
        ("spec.volumeClaimTemplates[0].spec.accessModes",),
    ),
    Rejected(
        "claim-bad-mode",
        claims(claim(accessModes=["ReadWriteSometimes"])),
        ("spec.volumeClaimTemplates[0].spec.accessModes[0]",),
    ),
    Rejected(
        "claim-bad-size",
        claims(claim(resources={"requests": {"storage": "lots"}})),
        ("spec.volumeClaimTemplates[0].spec.resources.requests.storage",),
    ),
    Rejected(
        "claim-dup",
        claims(claim("wal"), claim("wal")),
        ("volumeClaimTemplates names must be unique",),
    ),
    Rejected(
        "claim-bad-name", claims(claim("Data_1")), ("spec.volumeClaimTemplates[0].metadata.name",)
    ),
]

INVALID: list[Invalid] = [
    # --- referenced objects and what the agent would refuse
    Invalid("secret-missing", z(dbSecrets=["nope"]), f"{SZ}.dbSecrets[0]"),
    Invalid(
        "secret-no-admin-password",
        z(dbSecrets=["creds-nopw"]),
        f"{SZ}.dbSecrets",
        (secret("creds-nopw", {"admin-user": "root"}),),
    ),
    Invalid("command-no-config", z(engine="command"), f"{SZ}.engine"),
    Invalid(
        "command-no-commands",
        spec(z(engine="command"), agentSpec={"agentConfig": ["agent-nocmd"]}),
        "spec.agentSpec.agentConfig[0]",
        (configmap("agent-nocmd", {"agent.yaml": "log_level: info\n"}),),
    ),
    Invalid(
        "agent-yaml-broken",
        spec(agentSpec={"agentConfig": ["agent-broken"]}),
        "spec.agentSpec.agentConfig[0]",
        (configmap("agent-broken", {"agent.yaml": "commands: [unclosed\n"}),),
    ),
    Invalid(
        "agent-yaml-unknown-field",
        spec(agentSpec={"agentConfig": ["agent-typo"]}),
        "spec.agentSpec.agentConfig[0]",
        (configmap("agent-typo", {"agent.yaml": "log_levle: debug\n"}),),
    ),
    Invalid(
        "agent-token-key",
        spec(agentSpec={"agentConfig": ["agent-tok"]}),
        "spec.agentSpec.agentConfig[0]",
        (configmap("agent-tok", {"agent-token": "mine"}),),
    ),
    Invalid(
        "db-settings-bare-values",
        z(dbConfigMap=["pg-bare"]),
        f"{SZ}.dbConfigMap[0]",
        (configmap("pg-bare", {"shared_buffers": "128MB", "max_connections": "100"}),),
    ),
    Invalid("dbconfig-missing", z(dbConfigMap=["absent"]), f"{SZ}.dbConfigMap[0]"),
    Invalid(
        "instanceconfig-missing", z(instanceConfigMap=["absent"]), f"{SZ}.instanceConfigMap[0]"
    ),
    # --- template clashes with what the operator builds
    Invalid(
        "sidecar-agent-port",
        template(containers=[{**SIDECAR, "ports": [{"containerPort": 8008}]}]),
        f"{ST}.containers[0].ports[0].containerPort",
    ),
    Invalid(
        "sidecar-agent-port-name",
        template(containers=[{**SIDECAR, "ports": [{"containerPort": 9100, "name": "agent"}]}]),
        f"{ST}.containers[0].ports[0].name",
    ),
    Invalid(
        "init-listen-port",
        template(
            initContainers=[{"name": "prep", "image": "x", "ports": [{"containerPort": 32080}]}]
        ),
        f"{ST}.initContainers[0].ports[0].containerPort",
    ),
    Invalid(
        "main-image-override",
        template(containers=[{"name": "zenith-ha", "image": "other:1"}]),
        f"{ST}.containers[0].image",
    ),
    Invalid(
        "main-env-clash",
        template(containers=[{"name": "zenith-ha", "env": [{"name": "POD_NAME", "value": "x"}]}]),
        f"{ST}.containers[0].env[0].name",
    ),
    Invalid(
        "main-mount-config",
        template(
            containers=[
                {"name": "zenith-ha", "volumeMounts": [{"name": "v", "mountPath": "/etc/zenith/x"}]}
            ]
        ),
        f"{ST}.containers[0].volumeMounts[0].mountPath",
    ),
    Invalid(
        "volume-reserved",
        template(volumes=[{"name": "config", "emptyDir": {}}]),
        f"{ST}.volumes[0].name",
    ),
    Invalid(
        "mount-unknown-volume",
        template(
            containers=[
                {"name": "zenith-ha", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}
            ]
        ),
        "spec.template",
    ),
    Invalid(
        "sidecar-duplicate", template(containers=[SIDECAR, SIDECAR]), f"{ST}.containers[1].name"
    ),
    # --- localStorage beyond the schema
    Invalid(
        "path-outside-roots",
        local(("node-a", "/opt/zenith")),
        f"{SZ}.localStorage.nodes[0].path",
    ),
    Invalid(
        "path-used-by-another-pv",
        local(("node-a", "/mnt/disks/taken/inner")),
        f"{SZ}.localStorage.nodes[0].path",
        (local_pv("bad-input-taken", "node-a", "/mnt/disks/taken"),),
    ),
    Invalid(
        "nodes-fewer-than-replicas",
        local(("node-a", "/mnt/disks/z"), replicas=2),
        f"{SZ}.localStorage.nodes",
    ),
]
