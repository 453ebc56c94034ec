"""The database pod template: container `zenith-ha` (the agent + database) and the
user's `spec.template` overrides, merged by the rules in docs/spec.md."""

from __future__ import annotations

import copy
import json
from typing import Any

from zenith_operator import naming
from zenith_operator.agent.auth import TOKEN_ENV
from zenith_operator.api.cluster import ClusterRef
from zenith_operator.api.spec import ContainerOverride, SpecError, ZenithClusterSpec
from zenith_operator.ha.timing import liveness_timing
from zenith_operator.resources.config import (
    CONFIG_VOLUME,
    DATA_VOLUME,
    DB_SPECS_ANNOTATION,
    ResolvedSource,
    projected_volume,
)

RUN_AS = 10001  # the image's `zenith` user (Dockerfile)
HEALTH_PATH = "/health"
READY_PATH = "/health?ready=1"
STARTUP_SECONDS = 30  # for the agent to listen; database work happens behind an answering agent
TERMINATION_GRACE_SECONDS = 30
DEFAULT_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"memory": "1Gi"},
}
# Keys of the zenith-ha override that merge (everything else is the operator's).
MERGEABLE = {"resources", "env", "envFrom", "volumeMounts", "volumeDevices", "ports"}
REPLACEABLE = {"securityContext", "lifecycle", "imagePullPolicy", "workingDir"}


AGENT_TLS_VOLUME = "agent-tls"


def _field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def container_env(ref: ClusterRef, spec: ZenithClusterSpec) -> list[dict[str, Any]]:
    z = spec.zenith_spec
    plain = {
        "ZENITH_CLUSTER": ref.name,
        "ZENITH_ENGINE": z.engine.value,
        "ZENITH_CONFIG_DIR": naming.CONFIG_DIR,
        "ZENITH_DATA_DIR": naming.DATA_DIR,
        "ZENITH_AGENT_PORT": str(z.ports.agent),
        "ZENITH_LISTEN_PORT": str(z.ports.listen),
        "ZENITH_REPLICATION_PORT": str(z.ports.replication),
        "ZENITH_REPLICATION_SSL_MANDATORY": "true" if z.replication_ssl_mandatory else "false",
        "ZENITH_UNREACHABLE_TIMEOUT": str(z.unreachable_timeout),
        "ZENITH_METRICS_PORT": str(metrics_port(spec)),
    }
    # The agent token comes in the environment, never as a file: the database runs
    # under the agent's uid and could read any file the agent can (pg_read_file). The
    # agent takes it out of its environment at start and hides its /proc entries.
    token = {
        "name": TOKEN_ENV,
        "valueFrom": {
            "secretKeyRef": {
                "name": naming.agent_secret_name(ref.name),
                "key": naming.AGENT_TOKEN_KEY,
            }
        },
    }
    return [
        _field_env("POD_NAME", "metadata.name"),
        _field_env("POD_NAMESPACE", "metadata.namespace"),
        _field_env("POD_IP", "status.podIP"),
        *({"name": k, "value": v} for k, v in plain.items()),
        token,
    ]


def _http(path: str, port: str = "agent", scheme: str = "HTTP") -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port, "scheme": scheme}}


def probes(spec: ZenithClusterSpec) -> dict[str, Any]:
    z = spec.zenith_spec
    live = liveness_timing(z.polling_interval, z.unreachable_timeout)
    scheme = "HTTPS" if spec.agent_spec.tls_secret else "HTTP"
    # Every second: liveness only starts once the startup probe succeeded, and a container
    # that hangs before that (a freeze right after a restart) is not killed until
    # STARTUP_SECONDS. The agent's /health answers as soon as it listens.
    startup_period = 1
    return {
        "startupProbe": {
            **_http(HEALTH_PATH, scheme=scheme),
            "periodSeconds": startup_period,
            "timeoutSeconds": 1,
            "failureThreshold": STARTUP_SECONDS // startup_period,
        },
        "livenessProbe": {
            **_http(HEALTH_PATH, scheme=scheme),
            "periodSeconds": live.period_seconds,
            "timeoutSeconds": live.timeout_seconds,
            "failureThreshold": live.failure_threshold,
            "successThreshold": 1,
            "terminationGracePeriodSeconds": live.kill_grace_seconds,
        },
        "readinessProbe": {
            **_http(READY_PATH, scheme=scheme),
            "periodSeconds": min(z.polling_interval, 5),
            "timeoutSeconds": 1,
            "failureThreshold": 2,
            "successThreshold": 1,
        },
    }


def metrics_port(spec: ZenithClusterSpec) -> int:
    """The agent's metrics port: 8009, or 0 (not served) when one of ports uses it."""
    p = spec.zenith_spec.ports
    taken = {p.listen, p.replication, p.agent}
    return 0 if naming.DEFAULT_METRICS_PORT in taken else naming.DEFAULT_METRICS_PORT


def base_container(ref: ClusterRef, spec: ZenithClusterSpec) -> dict[str, Any]:
    z = spec.zenith_spec
    metrics = metrics_port(spec)
    container: dict[str, Any] = {
        "name": naming.CONTAINER_NAME,
        "image": z.image,
        "command": ["zenith-operator", "agent"],
        "env": container_env(ref, spec),
        "ports": [
            {"name": "listen", "containerPort": z.ports.listen, "protocol": "TCP"},
            {"name": "replication", "containerPort": z.ports.replication, "protocol": "TCP"},
            {"name": "agent", "containerPort": z.ports.agent, "protocol": "TCP"},
            *(
                [{"name": "agent-metrics", "containerPort": metrics, "protocol": "TCP"}]
                if metrics
                else []
            ),
        ],
        **probes(spec),
        "resources": copy.deepcopy(DEFAULT_RESOURCES),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": False,
            "runAsNonRoot": True,
        },
        "volumeMounts": [
            {"name": CONFIG_VOLUME, "mountPath": naming.CONFIG_DIR, "readOnly": True},
            {"name": DATA_VOLUME, "mountPath": naming.DATA_DIR},
        ],
    }
    if z.image_pull_policy:
        container["imagePullPolicy"] = z.image_pull_policy
    if spec.agent_spec.tls_secret:
        container["env"].append({"name": "ZENITH_TLS_DIR", "value": naming.AGENT_TLS_DIR})
        mount = {"name": AGENT_TLS_VOLUME, "mountPath": naming.AGENT_TLS_DIR, "readOnly": True}
        container["volumeMounts"].append(mount)
    return container


def agent_tls_volume(secret: str) -> dict[str, Any]:
    """The agent's certificate and key (spec.agentSpec.tlsSecret)."""
    items = [{"key": k, "path": k} for k in ("tls.crt", "tls.key")]
    return {
        "name": AGENT_TLS_VOLUME,
        "secret": {"secretName": secret, "items": items, "defaultMode": 0o440},
    }


def _merge_named(
    ours: list[dict[str, Any]], theirs: list[dict[str, Any]], key: str, path: str, what: str
) -> list[dict[str, Any]]:
    taken = {item[key] for item in ours if key in item}
    for i, item in enumerate(theirs):
        if item.get(key) in taken:
            raise SpecError(
                f"{path}[{i}].{key}", f"{what} {item.get(key)!r} is set by the operator"
            )
        taken.add(item.get(key))
    return ours + copy.deepcopy(theirs)


def merge_main_container(
    ours: dict[str, Any], override: dict[str, Any], path: str
) -> dict[str, Any]:
    """Merge the user's `zenith-ha` onto ours; clashes are SpecErrors naming the field."""
    merged = copy.deepcopy(ours)
    for key, value in override.items():
        if key == "name":
            continue
        field = f"{path}.{key}"
        if key == "resources":
            merged["resources"] = copy.deepcopy(value)
        elif key == "env":
            merged["env"] = _merge_named(merged["env"], value, "name", field, "env var")
        elif key == "ports":
            merged["ports"] = _merge_ports(merged["ports"], value, field)
        elif key == "volumeMounts":
            merged["volumeMounts"] = _merge_mounts(merged["volumeMounts"], value, field)
        elif key in MERGEABLE:  # envFrom, volumeDevices
            merged[key] = merged.get(key, []) + copy.deepcopy(value)
        elif key in REPLACEABLE:
            merged[key] = copy.deepcopy(value)
        else:
            raise SpecError(
                field,
                f"{key!r} of container {naming.CONTAINER_NAME} is managed by the operator "
                "(see docs/spec.md for what may be overridden)",
            )
    return merged


def _merge_ports(
    ours: list[dict[str, Any]], theirs: list[dict[str, Any]], path: str
) -> list[dict[str, Any]]:
    names = {p["name"] for p in ours}
    numbers = {p["containerPort"] for p in ours}
    for i, port in enumerate(theirs):
        if port.get("containerPort") in numbers:
            raise SpecError(
                f"{path}[{i}].containerPort",
                f"port {port.get('containerPort')} is already exposed by the operator; "
                "set spec.zenithSpec.ports instead",
            )
        if port.get("name") in names:
            raise SpecError(f"{path}[{i}].name", f"port name {port.get('name')!r} is taken")
        numbers.add(port.get("containerPort"))
        names.add(port.get("name"))
    return ours + copy.deepcopy(theirs)


def _merge_mounts(
    ours: list[dict[str, Any]], theirs: list[dict[str, Any]], path: str
) -> list[dict[str, Any]]:
    reserved = {m["mountPath"] for m in ours}
    for i, mount in enumerate(theirs):
        mount_path = str(mount.get("mountPath", ""))
        if any(mount_path == r or mount_path.startswith(r + "/") for r in reserved):
            raise SpecError(f"{path}[{i}].mountPath", f"{mount_path!r} is the operator's mount")
        if mount.get("name") in (CONFIG_VOLUME, AGENT_TLS_VOLUME):
            raise SpecError(f"{path}[{i}].name", "volume 'config' is the operator's")
    return ours + copy.deepcopy(theirs)


def _containers(
    ref: ClusterRef, spec: ZenithClusterSpec
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    main = base_container(ref, spec)
    sidecars: list[dict[str, Any]] = []
    names = {naming.CONTAINER_NAME}
    t = spec.template.spec
    for i, c in enumerate(t.containers):
        path = f"spec.template.spec.containers[{i}]"
        if c.name == naming.CONTAINER_NAME:
            main = merge_main_container(main, c.as_dict(), path)
            continue
        if c.name in names:
            raise SpecError(f"{path}.name", f"duplicate container name {c.name!r}")
        names.add(c.name)
        sidecars.append(c.as_dict())
    inits = _plain(t.init_containers, names, "spec.template.spec.initContainers")
    _check_sidecar_ports(main, t.containers, "spec.template.spec.containers")
    _check_sidecar_ports(main, t.init_containers, "spec.template.spec.initContainers")
    return [main, *sidecars], inits


def _check_sidecar_ports(
    main: dict[str, Any], containers: list[ContainerOverride], path: str
) -> None:
    """A sidecar may not expose a port number or name of `zenith-ha` (listen,
    replication, agent, or the user's extra ports on it)."""
    numbers = {p["containerPort"]: p.get("name") for p in main["ports"]}
    names = {p.get("name") for p in main["ports"]} - {None}
    for i, c in enumerate(containers):
        if c.name == naming.CONTAINER_NAME:
            continue
        ports = c.as_dict().get("ports") or []
        if not isinstance(ports, list):
            raise SpecError(f"{path}[{i}].ports", "must be a list")
        for j, port in enumerate(ports):
            if not isinstance(port, dict):
                raise SpecError(f"{path}[{i}].ports[{j}]", "must be an object")
            number, name = port.get("containerPort"), port.get("name")
            if number in numbers:
                raise SpecError(
                    f"{path}[{i}].ports[{j}].containerPort",
                    f"port {number} is {naming.CONTAINER_NAME}'s {numbers[number]!r} port",
                )
            if name is not None and name in names:
                raise SpecError(
                    f"{path}[{i}].ports[{j}].name",
                    f"port name {name!r} is used by {naming.CONTAINER_NAME}",
                )


def _plain(containers: list[ContainerOverride], taken: set[str], path: str) -> list[dict[str, Any]]:
    out = []
    for i, c in enumerate(containers):
        if c.name in taken:
            raise SpecError(f"{path}[{i}].name", f"duplicate container name {c.name!r}")
        taken.add(c.name)
        out.append(c.as_dict())
    return out


def default_affinity(ref: ClusterRef) -> dict[str, Any]:
    """Prefer one instance per node (preferred, so a one-node cluster still schedules)."""
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": naming.selector_labels(ref.name)},
                    },
                }
            ]
        }
    }


def pod_template(
    ref: ClusterRef,
    spec: ZenithClusterSpec,
    sources: list[ResolvedSource],
    config_hash: str,
) -> dict[str, Any]:
    t = spec.template
    containers, inits = _containers(ref, spec)
    volumes = [projected_volume(ref.name, sources)]
    for i, vol in enumerate(t.spec.volumes):
        if vol.get("name") in (CONFIG_VOLUME, DATA_VOLUME, AGENT_TLS_VOLUME):
            raise SpecError(
                f"spec.template.spec.volumes[{i}].name",
                f"volume name {vol.get('name')!r} is reserved",
            )
        volumes.append(copy.deepcopy(vol))
    if spec.agent_spec.tls_secret:
        volumes.append(agent_tls_volume(spec.agent_spec.tls_secret))
    annotations = {**t.metadata.annotations, naming.CONFIG_HASH_ANNOTATION: config_hash}
    if spec.zenith_spec.db_specs:
        annotations[DB_SPECS_ANNOTATION] = json.dumps(spec.zenith_spec.db_specs, sort_keys=True)
    pod_spec: dict[str, Any] = {
        "affinity": copy.deepcopy(t.spec.affinity) or default_affinity(ref),
        "containers": containers,
        "enableServiceLinks": False,
        "securityContext": copy.deepcopy(t.spec.security_context)
        or {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "volumes": volumes,
    }
    if inits:
        pod_spec["initContainers"] = inits
    optional: dict[str, Any] = {
        "nodeSelector": t.spec.node_selector,
        "tolerations": t.spec.tolerations,
        "imagePullSecrets": t.spec.image_pull_secrets,
        "priorityClassName": t.spec.priority_class_name,
        "serviceAccountName": t.spec.service_account_name,
        "topologySpreadConstraints": t.spec.topology_spread_constraints,
    }
    pod_spec.update({k: copy.deepcopy(v) for k, v in optional.items() if v})
    if not t.spec.service_account_name:
        pod_spec["automountServiceAccountToken"] = False
    return {
        "metadata": {
            "labels": {
                **t.metadata.labels,
                **naming.common_labels(ref.name),
            },
            "annotations": annotations,
        },
        "spec": pod_spec,
    }
