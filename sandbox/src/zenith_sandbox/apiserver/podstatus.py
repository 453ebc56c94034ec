"""pods/status writes checked as kube-apiserver checks them (ValidatePodStatusUpdate).

What a kubelet can get wrong: `status.qosClass` is computed at creation and immutable (an
empty one is backfilled from the stored pod); non-system condition types must be qualified
names; a terminated container may not become non-terminated unless the pod restarts it;
pod and host IPs must be IP addresses, at most one per family, `hostIPs[0]` equal to `hostIP`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from .errors import FieldError

Obj = dict[str, Any]
_SYSTEM_CONDITIONS = {"PodScheduled", "Ready", "Initialized"}
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_IP_HELP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def backfill(status: Obj, old: Obj) -> None:
    """PrepareForUpdate: an update without qosClass keeps the stored one."""
    if not status.get("qosClass") and (old.get("status") or {}).get("qosClass"):
        status["qosClass"] = old["status"]["qosClass"]


def status_update_errors(new: Obj, old: Obj) -> list[FieldError]:
    """The field errors of a pods/status update from `old` to `new`."""
    status, old_status = new.get("status") or {}, old.get("status") or {}
    errs: list[FieldError] = []
    if status.get("qosClass", "") != old_status.get("qosClass", ""):
        errs.append(
            FieldError(
                "invalid", "status.qosClass", status.get("qosClass", ""), "field is immutable"
            )
        )
    errs += _conditions(status.get("conditions") or [])
    spec = old.get("spec") or {}
    for key in ("containerStatuses", "initContainerStatuses"):
        errs += _transitions(spec, key, status.get(key) or [], old_status.get(key) or [])
    errs += _ips(status, old_status, "podIPs")
    errs += _ips(status, old_status, "hostIPs")
    host_ips = status.get("hostIPs") or []
    if host_ips and status.get("hostIP") != host_ips[0].get("ip"):
        errs.append(
            FieldError(
                "invalid",
                "status.hostIPs[0].ip",
                host_ips[0].get("ip"),
                "must be equal to `hostIP`",
            )
        )
    return errs


def _conditions(conditions: list[Obj]) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, c in enumerate(conditions):
        ctype = str(c.get("type", ""))
        if ctype in _SYSTEM_CONDITIONS:
            continue
        name = ctype.rsplit("/", 1)[-1]
        if not _QUALIFIED_NAME.match(name) or len(name) > 63:
            errs.append(
                FieldError(
                    "invalid",
                    f"status.conditions[{i}].Type",
                    ctype,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and "
                    "must start and end with an alphanumeric character (e.g. 'MyName',  or "
                    "'my.name',  or '123-abc', regex used for validation is "
                    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                )
            )
    return errs


def _transitions(spec: Obj, key: str, new: list[Obj], old: list[Obj]) -> list[FieldError]:
    """Terminated containers stay terminated unless the restart policy restarts them."""
    policy = spec.get("restartPolicy", "Always")
    if policy == "Always":
        return []
    errs: list[FieldError] = []
    for i, before in enumerate(old):
        terminated = (before.get("state") or {}).get("terminated")
        if terminated is None:
            continue
        if key == "initContainerStatuses" and _restartable_init(spec, before.get("name")):
            continue
        if terminated.get("exitCode", 0) != 0 and policy == "OnFailure":
            continue
        for after in new:
            if after.get("name") == before.get("name") and not (after.get("state") or {}).get(
                "terminated"
            ):
                errs.append(
                    FieldError(
                        "forbidden",
                        f"status.{key}[{i}].state",
                        detail="may not be transitioned to non-terminated state",
                    )
                )
    return errs


def _restartable_init(spec: Obj, name: Any) -> bool:
    return any(
        c.get("name") == name and c.get("restartPolicy") == "Always"
        for c in spec.get("initContainers") or []
    )


def _ips(status: Obj, old_status: Obj, key: str) -> list[FieldError]:
    existing = {e.get("ip") for e in old_status.get(key) or []}
    entries = status.get(key) or []
    errs: list[FieldError] = []
    families = []
    for i, entry in enumerate(entries):
        ip = entry.get("ip", "")
        try:
            families.append(ipaddress.ip_address(ip).version)
        except ValueError:
            if ip not in existing:
                errs.append(FieldError("invalid", f"status.{key}[{i}]", ip, _IP_HELP))
    if len(entries) > 1 and (len(entries) > 2 or len(set(families)) != len(families)):
        errs.append(
            FieldError(
                "invalid",
                f"status.{key}",
                entries,
                "may specify no more than one IP for each IP family",
            )
        )
    return errs
