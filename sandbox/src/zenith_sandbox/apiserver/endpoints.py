"""Endpoints controller: Endpoints of selector Services from their pods, like the real one.

Ready pods (condition Ready=True) with a podIP become `addresses`, others
`notReadyAddresses` (all `addresses` when the Service publishes not-ready addresses);
terminating pods are left out. Recomputed asynchronously after pod/service writes.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from .errors import ApiError
from .resources import ResourceType
from .rest import Api, Ctx
from .rules import selector_matches
from .storage import Obj

log = logging.getLogger(__name__)
PODS, SERVICES, ENDPOINTS = ("", "pods"), ("", "services"), ("", "endpoints")


class EndpointsController:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.pending: set[str] = set()
        api.after_write.append(self.on_write)

    def on_write(self, rt: ResourceType, obj: Obj) -> None:
        if rt.key not in (PODS, SERVICES):
            return
        ns = obj["metadata"].get("namespace", "")
        if rt.key == SERVICES and self.api.store.by_uid(obj["metadata"]["uid"]) is None:
            self.api.defer(lambda: self._drop(ns, obj["metadata"]["name"]))
        if ns not in self.pending:
            self.pending.add(ns)
            self.api.defer(lambda: self._sync(ns))

    def _rt(self) -> ResourceType:
        rt = self.api.registry.get("", "v1", "endpoints")
        assert rt is not None
        return rt

    def _drop(self, ns: str, name: str) -> None:
        with contextlib.suppress(ApiError):
            self.api.delete(self._rt(), ns, name, {}, Ctx())

    def _sync(self, ns: str) -> None:
        """Every selector Service of `ns`: pods found through a label index (not services
        x pods), Endpoints written only when they change (not a no-op update each)."""
        self.pending.discard(ns)
        store = self.api.store
        pods = store.list_objs(PODS, ns)
        by_label: dict[tuple[str, Any], list[Obj]] = {}
        for p in pods:
            for item in (p["metadata"].get("labels") or {}).items():
                by_label.setdefault(item, []).append(p)
        for svc in store.list_objs(SERVICES, ns):
            selector = svc.get("spec", {}).get("selector")
            if not selector or svc["metadata"].get("deletionTimestamp"):
                continue
            candidates = min((by_label.get(item, []) for item in selector.items()), key=len)
            chosen = [
                p
                for p in candidates
                if selector_matches({"matchLabels": selector}, p["metadata"].get("labels") or {})
            ]
            try:
                self._write(svc, endpoints_for(svc, chosen))
            except ApiError as e:  # e.g. namespace terminating
                log.debug("endpoints %s/%s: %s", ns, svc["metadata"]["name"], e.message)

    def _write(self, svc: Obj, subsets: list[Obj]) -> None:
        rt, m = self._rt(), svc["metadata"]
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": m["name"], "namespace": m["namespace"]},
        }
        labels = dict(m.get("labels") or {})
        if svc["spec"].get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        if labels:
            body["metadata"]["labels"] = labels
        if subsets:
            body["subsets"] = subsets
        old = self.api.store.get(rt.key, m["namespace"], m["name"])
        if old is None:
            self.api.create(rt, m["namespace"], body, Ctx())
            return
        if (old["metadata"].get("labels") or {}) == labels and old.get("subsets") == (
            subsets or None
        ):
            return  # unchanged: the update would be a no-op anyway
        new = {**old, "metadata": {**old["metadata"], "labels": labels}}
        if not labels:
            new["metadata"].pop("labels", None)
        new.pop("subsets", None)
        if subsets:
            new["subsets"] = subsets
        self.api.update(rt, m["namespace"], m["name"], new, "", Ctx())


def _ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or []
    )


def _port(svc_port: Obj, pod: Obj) -> int | None:
    target: Any = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    for c in pod.get("spec", {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"])
    return None


def endpoints_for(svc: Obj, pods: list[Obj]) -> list[Obj]:
    """Subsets for a Service: one subset per distinct port set, addresses sorted by IP."""
    publish = bool(svc["spec"].get("publishNotReadyAddresses"))
    groups: dict[tuple[Any, ...], dict[str, list[Obj]]] = {}
    ports_of: dict[tuple[Any, ...], list[Obj]] = {}
    for pod in pods:
        ip = pod.get("status", {}).get("podIP")
        if not ip or pod["metadata"].get("deletionTimestamp"):
            continue
        ports: list[Obj] = []
        for sp in svc["spec"].get("ports") or []:
            number = _port(sp, pod)
            if number is None:
                continue
            port: Obj = {"port": number, "protocol": sp.get("protocol", "TCP")}
            if sp.get("name"):
                port = {"name": sp["name"], **port}
            ports.append(port)
        key = tuple(sorted((p.get("name", ""), p["port"], p["protocol"]) for p in ports))
        ports_of[key] = ports
        address: Obj = {
            "ip": ip,
            "targetRef": {
                "kind": "Pod",
                "namespace": pod["metadata"]["namespace"],
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            },
        }
        if pod["spec"].get("nodeName"):
            address["nodeName"] = pod["spec"]["nodeName"]
        spec = pod.get("spec", {})
        if spec.get("hostname") and spec.get("subdomain") == svc["metadata"]["name"]:
            address["hostname"] = spec["hostname"]
        kind = "addresses" if publish or _ready(pod) else "notReadyAddresses"
        groups.setdefault(key, {}).setdefault(kind, []).append(address)
    subsets = []
    for key, kinds in groups.items():
        subset: Obj = {k: sorted(v, key=lambda a: str(a["ip"])) for k, v in sorted(kinds.items())}
        if ports_of[key]:
            subset["ports"] = ports_of[key]
        subsets.append(subset)
    return subsets
