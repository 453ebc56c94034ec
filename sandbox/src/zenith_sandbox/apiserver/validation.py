"""Built-in object validation that catches manifest bugs, worded like kube-apiserver."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from .errors import FieldError, bad_request
from .storage import Obj

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
# RelaxedEnvironmentVariableValidation (on by default since 1.32): printable ASCII but '='.
_ENV = re.compile(r"^[ -<>-~]+$")
_ENV_MSG = (
    "a valid environment variable name must consist only of printable ASCII characters "
    "other than '='"
)
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)
_PORT_MSG = "must be between 1 and 65535, inclusive"


def _port_ok(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def containers(spec: Obj, path: str, extra_volumes: set[str] | None = None) -> list[FieldError]:
    """Names, images, ports, env names and volume mounts of a PodSpec's containers."""
    errs: list[FieldError] = []
    volumes = {v.get("name") for v in spec.get("volumes") or []} | (extra_volumes or set())
    seen: set[str] = set()
    for kind in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(kind) or []):
            where = f"{path}.{kind}[{i}]"
            name = c.get("name")
            if not name:
                errs.append(FieldError("required", f"{where}.name"))
            elif not _DNS_LABEL.match(name):
                errs.append(FieldError("invalid", f"{where}.name", name, DNS_LABEL_MSG))
            elif name in seen:
                errs.append(FieldError("duplicate", f"{where}.name", name))
            seen.add(name or "")
            if not c.get("image"):
                errs.append(FieldError("required", f"{where}.image"))
            for j, port in enumerate(c.get("ports") or []):
                if not port.get("containerPort"):
                    errs.append(FieldError("required", f"{where}.ports[{j}].containerPort"))
                elif not _port_ok(port.get("containerPort")):
                    errs.append(
                        FieldError(
                            "invalid",
                            f"{where}.ports[{j}].containerPort",
                            port.get("containerPort"),
                            _PORT_MSG,
                        )
                    )
            for j, env in enumerate(c.get("env") or []):
                if not _ENV.match(str(env.get("name", ""))):
                    errs.append(
                        FieldError(
                            "invalid", f"{where}.env[{j}].name", env.get("name", ""), _ENV_MSG
                        )
                    )
            for j, mount in enumerate(c.get("volumeMounts") or []):
                if mount.get("name") not in volumes:
                    errs.append(
                        FieldError(
                            "notfound", f"{where}.volumeMounts[{j}].name", mount.get("name", "")
                        )
                    )
                if not mount.get("mountPath"):
                    errs.append(FieldError("required", f"{where}.volumeMounts[{j}].mountPath"))
    if not spec.get("containers"):
        errs.append(FieldError("required", f"{path}.containers"))
    return errs


def service(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec", {})
    ports = spec.get("ports") or []
    errs: list[FieldError] = []
    headless = spec.get("clusterIP") == "None"
    if not ports and not headless and spec.get("type") != "ExternalName":
        errs.append(FieldError("required", "spec.ports"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        name = port.get("name", "")
        if len(ports) > 1 and not name:
            errs.append(FieldError("required", f"spec.ports[{i}].name"))
        elif name and not _DNS_LABEL.match(name):
            errs.append(FieldError("invalid", f"spec.ports[{i}].name", name, DNS_LABEL_MSG))
        elif name in names:
            errs.append(FieldError("duplicate", f"spec.ports[{i}].name", name))
        names.add(name)
        if not _port_ok(port.get("port")):
            errs.append(FieldError("invalid", f"spec.ports[{i}].port", port.get("port"), _PORT_MSG))
    return errs


def config_keys(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    for field in ("data", "binaryData"):
        for key, value in (obj.get(field) or {}).items():
            if not _CONFIG_KEY.match(key) or key in (".", ".."):
                errs.append(FieldError("invalid", f"{field}[{key}]", key, _CONFIG_KEY_MSG))
            if field == "data" and not isinstance(value, str) and obj.get("kind") != "Secret":
                raise bad_request(
                    f'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot '
                    f"unmarshal {type(value).__name__} into Go struct field ConfigMap.data of "
                    "type string"
                )
    return errs


def secret_data(obj: Obj) -> None:
    """Secret data must decode as base64 (a decoding error: 400, before validation)."""
    for value in (obj.get("data") or {}).values():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError) as e:
            raise bad_request(
                f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data: {e}'
            ) from e


def pdb(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec", {})
    if "minAvailable" in spec and "maxUnavailable" in spec:
        return [
            FieldError(
                "invalid", "spec", spec, "minAvailable and maxUnavailable cannot be both set"
            )
        ]
    return []


def _no_backsteps(value: Any, field: str) -> list[FieldError]:
    """validatePathNoBacksteps: no `..` element in a host path."""
    if not value:
        return [FieldError("required", field)]
    if ".." in str(value).split("/"):
        return [FieldError("invalid", field, value, "must not contain '..'")]
    return []


def host_paths(volumes: list[Obj], path: str) -> list[FieldError]:
    """hostPath volumes of a pod spec (`path` = the volumes' field path)."""
    errs: list[FieldError] = []
    for i, volume in enumerate(volumes):
        if isinstance(volume.get("hostPath"), dict):
            errs += _no_backsteps(volume["hostPath"].get("path"), f"{path}[{i}].hostPath.path")
    return errs


def persistent_volume(obj: Obj) -> list[FieldError]:
    """A PV's hostPath/local path: kube-apiserver refuses `..` (a path out of the root)."""
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    for source in ("hostPath", "local"):
        if isinstance(spec.get(source), dict):
            errs += _no_backsteps(spec[source].get("path"), f"spec.{source}.path")
    return errs
