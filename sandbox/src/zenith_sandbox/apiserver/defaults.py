"""Built-in defaulting and the little validation kube-apiserver applies to every object."""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable
from typing import Any

from . import validation
from .errors import FieldError

Obj = dict[str, Any]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def validate_meta(obj: Obj, dns_label: bool) -> list[FieldError]:
    """Name and label checks every object gets."""
    errs: list[FieldError] = []
    meta = obj["metadata"]
    name = meta.get("name", "")
    pattern, msg, limit = (
        (_LABEL, _LABEL_MSG, 63) if dns_label else (_SUBDOMAIN, _SUBDOMAIN_MSG, 253)
    )
    if not pattern.match(name):
        errs.append(FieldError("invalid", "metadata.name", name, msg))
    elif len(name) > limit:
        errs.append(
            FieldError("invalid", "metadata.name", name, f"must be no more than {limit} characters")
        )
    for key, value in (meta.get("labels") or {}).items():
        errs += [FieldError("invalid", "metadata.labels", key, d) for d in _qualified_name(key)]
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            detail = _LABEL_VALUE_MSG
            if isinstance(value, str) and len(value) > 63:
                detail = "must be no more than 63 characters"
            errs.append(FieldError("invalid", "metadata.labels", value, detail))
    for key in meta.get("annotations") or {}:
        errs += [
            FieldError("invalid", "metadata.annotations", key, d) for d in _qualified_name(key)
        ]
    return errs


_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def _qualified_name(key: str) -> list[str]:
    """validation.IsQualifiedName: `[prefix/]name` as label and annotation keys."""
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',"
            "  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix "
            "and '/' (e.g. 'example.com/MyName')"
        ]
    errs = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        elif not _SUBDOMAIN.match(prefix):
            errs.append("prefix part " + _SUBDOMAIN_MSG)
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    elif not _NAME_PART.match(name):
        errs.append(_NAME_PART_MSG)
    return errs


def _pull_policy(image: str) -> str:
    tail = image.rsplit("/", 1)[-1]
    if "@" in tail:
        return "IfNotPresent"
    if ":" not in tail or tail.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _container(c: Obj) -> None:
    c.setdefault("imagePullPolicy", _pull_policy(str(c.get("image", ""))))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        ref = (env.get("valueFrom") or {}).get("fieldRef")
        if ref is not None:
            ref.setdefault("apiVersion", "v1")


def pod_spec(spec: Obj) -> None:
    """Defaults of a PodSpec (also inside templates)."""
    for c in spec.get("containers") or []:
        _container(c)
    for c in spec.get("initContainers") or []:
        _container(c)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for vol in spec.get("volumes") or []:
        for src in ("configMap", "secret"):
            if src in vol:
                vol[src].setdefault("defaultMode", 420)
        if "projected" in vol:
            vol["projected"].setdefault("defaultMode", 420)


def validate_pod_spec(
    spec: Obj, path: str, extra_volumes: set[str] | None = None
) -> list[FieldError]:
    volumes = spec.get("volumes") or []
    return validation.containers(spec, path, extra_volumes) + validation.host_paths(
        volumes, f"{path}.volumes"
    )


class ServiceIPs:
    """Hands out cluster IPs from 10.96.0.0/12 as strings (never contacted)."""

    def __init__(self) -> None:
        self._net = ipaddress.ip_network("10.96.0.0/12")
        self._next = 10

    def allocate(self) -> str:
        self._next += 1
        return str(self._net[self._next])


def _pod(obj: Obj, create: bool) -> list[FieldError]:
    spec = obj.setdefault("spec", {})
    pod_spec(spec)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    if create:
        _default_tolerations(spec)
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}
    return validate_pod_spec(spec, "spec")


def _default_tolerations(spec: Obj) -> None:
    """The DefaultTolerationSeconds admission plugin's two NoExecute tolerations."""
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(
            t.get("key") == key and t.get("effect") in (None, "", "NoExecute") for t in tolerations
        ):
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            )


def qos_class(spec: Obj) -> str:
    """Guaranteed (cpu+memory limits == requests everywhere), BestEffort (none), Burstable."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set, guaranteed = False, True
    for c in containers:
        res = c.get("resources") or {}
        requests, limits = dict(res.get("requests") or {}), res.get("limits") or {}
        for name, value in limits.items():  # requests default to limits
            requests.setdefault(name, value)
        if requests or limits:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or str(limits[name]) != str(requests.get(name)):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _template(obj: Obj) -> list[FieldError]:
    template = obj.setdefault("spec", {}).setdefault("template", {})
    template.setdefault("metadata", {})
    pod_spec(template.setdefault("spec", {}))
    claims = {
        (t.get("metadata") or {}).get("name", "")
        for t in obj["spec"].get("volumeClaimTemplates") or []
    }
    errs = validate_pod_spec(template["spec"], "spec.template.spec", claims)
    if not obj["spec"].get("selector"):
        errs.append(FieldError("required", "spec.selector"))
    return errs


def _statefulset(obj: Obj, create: bool) -> list[FieldError]:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault(
        "persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"}
    )
    for pvc in spec.get("volumeClaimTemplates") or []:
        pvc.setdefault("apiVersion", "v1")
        pvc.setdefault("kind", "PersistentVolumeClaim")
        pvc.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        pvc.setdefault("status", {"phase": "Pending"})
    if create:
        obj["status"] = {"replicas": 0, "availableReplicas": 0}
    return _template(obj)


def _deployment(obj: Obj, create: bool) -> list[FieldError]:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault(
        "strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
    )
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    if create:
        obj["status"] = {}
    return _template(obj)


def _namespace(obj: Obj, create: bool) -> list[FieldError]:
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"][
        "name"
    ]
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    if create:
        obj["status"] = {"phase": "Active"}
    return []


def _secret(obj: Obj, create: bool) -> list[FieldError]:
    validation.secret_data(obj)
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    data = obj.setdefault("data", {}) if string_data else obj.get("data")
    for key, value in string_data.items():
        assert data is not None
        data[key] = base64.b64encode(str(value).encode()).decode()
    return validation.config_keys(obj)


def _pvc(obj: Obj, create: bool) -> list[FieldError]:
    obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    if create:
        obj["status"] = {"phase": "Pending"}
    return []


def _pdb(obj: Obj, create: bool) -> list[FieldError]:
    if create:
        obj["status"] = {
            "disruptionsAllowed": 0,
            "currentHealthy": 0,
            "desiredHealthy": 0,
            "expectedPods": 0,
        }
    return validation.pdb(obj)


DEFAULTERS: dict[tuple[str, str], Callable[[Obj, bool], list[FieldError]]] = {
    ("", "pods"): _pod,
    ("apps", "statefulsets"): _statefulset,
    ("apps", "deployments"): _deployment,
    ("apps", "replicasets"): _deployment,
    ("", "namespaces"): _namespace,
    ("", "secrets"): _secret,
    ("", "configmaps"): lambda obj, create: validation.config_keys(obj),
    ("", "persistentvolumeclaims"): _pvc,
    ("", "persistentvolumes"): lambda obj, create: validation.persistent_volume(obj),
    ("policy", "poddisruptionbudgets"): _pdb,
}


def service(obj: Obj, create: bool, ips: ServiceIPs) -> list[FieldError]:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if create and spec.get("clusterIP") in (None, ""):
        spec["clusterIP"] = ips.allocate()
    if spec.get("clusterIP"):
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if "port" in port:
            port.setdefault("targetPort", port["port"])
    if create:
        obj["status"] = {"loadBalancer": {}}
    return validation.service(obj)
