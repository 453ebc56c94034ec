"""Names, labels and annotations shared by builders, the controller, the agent and the sandbox."""

from __future__ import annotations

GROUP = "huawei.cloudb.com"
VERSION = "v1"
KIND = "ZenithCluster"
PLURAL = "zenithclusters"
SHORT_NAME = "zc"

LABEL_PREFIX = "zenith.huawei.cloudb.com"
ROLE_LABEL = f"{LABEL_PREFIX}/role"  # active | standby | none, set on pods by the operator
CLUSTER_LABEL = f"{LABEL_PREFIX}/cluster"
INSTANCE_LABEL = "statefulset.kubernetes.io/pod-name"
RESUME_ANNOTATION = f"{LABEL_PREFIX}/resume"  # change its value to leave ManualIntervention
CONFIG_HASH_ANNOTATION = f"{LABEL_PREFIX}/config-hash"
# set on each pod by the StatefulSet controller: the template revision it was created from
REVISION_LABEL = "controller-revision-hash"

CONTAINER_NAME = "zenith-ha"
DEFAULT_AGENT_PORT = 8008
DEFAULT_LISTEN_PORT = 32080
DEFAULT_REPLICATION_PORT = 12345
DEFAULT_METRICS_PORT = 8009  # the agent's unauthenticated /metrics (pod port "agent-metrics")

# Paths inside the database container; env vars carry them to the agent.
CONFIG_DIR = "/etc/zenith"  # projected, read-only
AGENT_TLS_DIR = "/etc/zenith-tls"  # spec.agentSpec.tlsSecret: the agent serves HTTPS
DATA_DIR = "/var/lib/zenith"  # the PVC
AGENT_TOKEN_KEY = "agent-token"  # key in the operator-made Secret, projected at CONFIG_DIR/agent/


def statefulset_name(cluster: str) -> str:
    return cluster


def headless_service_name(cluster: str) -> str:
    return cluster


def rw_service_name(cluster: str) -> str:
    return f"{cluster}-rw"


def ro_service_name(cluster: str) -> str:
    return f"{cluster}-ro"


def pdb_name(cluster: str) -> str:
    return cluster


def agent_secret_name(cluster: str) -> str:
    return f"{cluster}-agent-token"


def pod_name(cluster: str, ordinal: int) -> str:
    return f"{cluster}-{ordinal}"


def pod_dns(cluster: str, ordinal: int, namespace: str) -> str:
    return f"{pod_name(cluster, ordinal)}.{headless_service_name(cluster)}.{namespace}.svc"


def common_labels(cluster: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "zenith",
        "app.kubernetes.io/instance": cluster,
        "app.kubernetes.io/managed-by": "zenith-operator",
        "app.kubernetes.io/component": "database",
        CLUSTER_LABEL: cluster,
    }


def selector_labels(cluster: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "zenith", "app.kubernetes.io/instance": cluster}


def credentials_secret_name(cluster: str) -> str:
    """Database credentials the operator generates when spec.zenithSpec.dbSecrets is empty."""
    return f"{cluster}-credentials"
