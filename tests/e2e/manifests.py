"""Manifests of the e2e suite as Python data: what a user would `kubectl apply`.

The suite exercises only the user-facing surface: the ZenithCluster, its ConfigMaps and
Secrets, the Services the operator makes, and plain client pods.
"""

from __future__ import annotations

import secrets
from typing import Any

from zenith_operator import naming

ADMIN_USER = "postgres"
APP_USER = "app"
DATABASE = "postgres"
# HA timing of the clusters under test: fast enough to keep the suite short, slow
# enough for kind on a busy machine (the CRD requires unreachableTimeout >= 4 and
# > pollingInterval).
POLLING_INTERVAL = 2
UNREACHABLE_TIMEOUT = 10
DB_CONFIG_KEY = "zenith.conf"  # one postgresql.conf fragment in the dbConfigMap


def db_secret_name(cluster: str) -> str:
    return f"{cluster}-db-secret"


def db_config_name(cluster: str) -> str:
    return f"{cluster}-db-config"


def db_secret(cluster: str) -> dict[str, Any]:
    """Admin and app credentials (keys of docs/dev/contracts.md), random passwords."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": db_secret_name(cluster), "labels": {"zenith-e2e": "true"}},
        "type": "Opaque",
        "stringData": {
            "admin-user": ADMIN_USER,
            "admin-password": secrets.token_urlsafe(18),
            "app-user": APP_USER,
            "app-password": secrets.token_urlsafe(18),
        },
    }


def settings_text(settings: dict[str, str]) -> str:
    return "".join(f"{key} = {value}\n" for key, value in sorted(settings.items()))


def db_config(cluster: str, settings: dict[str, str]) -> dict[str, Any]:
    """Database settings as one postgresql.conf fragment."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": db_config_name(cluster), "labels": {"zenith-e2e": "true"}},
        "data": {DB_CONFIG_KEY: settings_text(settings)},
    }


DEFAULT_SETTINGS = {"max_connections": "100", "shared_buffers": "'32MB'"}


def zenith_cluster(
    name: str,
    *,
    image: str,
    replicas: int = 2,
    polling_interval: int = POLLING_INTERVAL,
    unreachable_timeout: int = UNREACHABLE_TIMEOUT,
    stopped: bool = False,
    storage_size: str = "1Gi",
    storage_class: str | None = None,
    retention: str | None = None,
    extra_zenith_spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    zenith_spec: dict[str, Any] = {
        "replicas": replicas,
        "image": image,
        "imagePullPolicy": "IfNotPresent",  # loaded into the nodes by `kind load`
        "storageSize": storage_size,
        "pollingInterval": polling_interval,
        "unreachableTimeout": unreachable_timeout,
        "dbConfigMap": [db_config_name(name)],
        "dbSecrets": [db_secret_name(name)],
        "stopped": stopped,
    }
    if storage_class is not None:
        zenith_spec["storageClassName"] = storage_class
    zenith_spec.update(extra_zenith_spec or {})
    spec: dict[str, Any] = {"zenithSpec": zenith_spec}
    if retention is not None:
        spec["retentionPolicy"] = {"pvcs": retention}
    return {
        "apiVersion": f"{naming.GROUP}/{naming.VERSION}",
        "kind": naming.KIND,
        "metadata": {"name": name, "labels": {"zenith-e2e": "true"}},
        "spec": spec,
    }


def cluster_objects(
    name: str, *, image: str, settings: dict[str, str] | None = None, **kwargs: Any
) -> list[dict[str, Any]]:
    """Secret + ConfigMap + ZenithCluster, in apply order."""
    return [
        db_secret(name),
        db_config(name, DEFAULT_SETTINGS if settings is None else settings),
        zenith_cluster(name, image=image, **kwargs),
    ]


def data_pvc_name(cluster: str, ordinal: int) -> str:
    return f"data-{naming.pod_name(cluster, ordinal)}"


# --- client pods ---------------------------------------------------------------------

WRITER_TABLE = "e2e_writes"
STOP_FILE = "/tmp/stop"

# Inserts ids 1, 2, 3... through the NAME-rw Service, one transaction per psql call;
# prints "ack N" only when psql reported the committed row back (an acknowledged write).
# `timeout` bounds a call that hangs (e.g. a commit waiting for a standby): a killed
# call is not acknowledged. Stops when STOP_FILE appears.
WRITER_SCRIPT = f"""
set -u
q() {{ timeout 10 psql "$DSN" -v ON_ERROR_STOP=1 -qAtX -c "$1" 2>&1; }}
until out=$(q "CREATE TABLE IF NOT EXISTS {WRITER_TABLE} (id bigint PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT clock_timestamp())"); do
  echo "wait $(echo "$out" | head -n 1)"; sleep 1
done
echo ready
i=0
while [ ! -e {STOP_FILE} ]; do
  i=$((i + 1))
  if out=$(q "INSERT INTO {WRITER_TABLE} (id) VALUES ($i) RETURNING id") && [ "$out" = "$i" ]; then
    echo "ack $i"
  else
    echo "fail $i $(echo "$out" | head -n 1)"
  fi
  sleep 0.1
done
echo "stopped $i"
"""


def client_pod(name: str, cluster: str, *, image: str, script: str | None = None) -> dict[str, Any]:
    """A pod of our image with psql, credentials of `cluster` in PGUSER/PGPASSWORD and a
    DSN of the NAME-rw Service; runs `script` (sh) or sleeps."""
    secret = db_secret_name(cluster)
    dsn = (
        f"host={naming.rw_service_name(cluster)} port={naming.DEFAULT_LISTEN_PORT} "
        f"dbname={DATABASE} connect_timeout=3 application_name={name}"
    )
    command = ["/bin/sh", "-c", script] if script else ["/bin/sh", "-c", "exec sleep 86400"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"zenith-e2e": "true", "app": name}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001},
            "containers": [
                {
                    "name": "client",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": command,
                    "env": [
                        {"name": "DSN", "value": dsn},
                        {
                            "name": "PGUSER",
                            "valueFrom": {"secretKeyRef": {"name": secret, "key": "admin-user"}},
                        },
                        {
                            "name": "PGPASSWORD",
                            "valueFrom": {
                                "secretKeyRef": {"name": secret, "key": "admin-password"}
                            },
                        },
                    ],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
