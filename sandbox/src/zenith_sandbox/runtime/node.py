"""The sandbox node: Node object, a trivial scheduler (binder) and volume provisioner.

- `register` creates the Node (Ready, allocatable) if absent and refreshes its Ready
  heartbeat.
- `bind` gives every unscheduled pod to this node through pods/binding (the
  scheduler's way), falling back to patching spec.nodeName only where the binding
  subresource is missing.
- `provision` binds each pending PVC to a PersistentVolume with a `hostPath` under the
  state directory: an existing Available PV of the same storageClassName is used first
  (static provisioning), otherwise one is created (`<state>/volumes/pvc-<uid>`). A PV
  whose claim is gone is deleted with its directory when its reclaim policy is Delete.

Length: the node's three controllers share one object and its volume bookkeeping (a
bound claim's expansion lives next to its provisioning); split them when one grows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

from zenith_operator.quantity import parse_quantity

from .kube import NODES, PODS, PVCS, PVS, Kube, KubeError

Obj = dict[str, Any]
log = logging.getLogger("zenith.sandbox.node")

PROVISIONER_ANNOTATION = "pv.kubernetes.io/provisioned-by"
PROVISIONER = "sandbox.zenith.huawei.cloudb.com/hostpath"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_manifest(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": "sandbox",
            },
        },
        "spec": {},
    }


def node_status(name: str, ready_since: str) -> Obj:
    t = now()
    return {
        "capacity": {"cpu": "64", "memory": "256Gi", "pods": "250"},
        "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "250"},
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "sandbox runtime is posting ready status",
                "lastHeartbeatTime": t,
                "lastTransitionTime": ready_since,
            }
        ],
        "addresses": [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": name},
        ],
        "nodeInfo": {
            "kubeletVersion": "v1.30.0-sandbox",
            "operatingSystem": "linux",
            "architecture": "amd64",
            "containerRuntimeVersion": "sandbox://processes",
            "osImage": "zenith sandbox",
            "kernelVersion": "",
            "kubeProxyVersion": "",
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
        },
    }


def _quantity_bytes(q: Any) -> Decimal:
    """Size of a storage quantity; anything Kubernetes accepts (999999Ei, 100m, 1e3)."""
    if q is None or q == "":
        return Decimal(0)
    return parse_quantity(q)


def pv_path(pv: Obj) -> str | None:
    spec = pv.get("spec") or {}
    return (spec.get("hostPath") or {}).get("path") or (spec.get("local") or {}).get("path")


def pv_node(pv: Obj) -> str | None:
    required = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for expr in term.get("matchExpressions") or []:
            if expr.get("key") == "kubernetes.io/hostname" and expr.get("values"):
                return str(expr["values"][0])
    return None


def _prebound_to(pv: Obj, pvc: Obj) -> bool:
    ref = (pv.get("spec") or {}).get("claimRef") or {}
    meta = pvc["metadata"]
    return bool(
        ref.get("name") == meta["name"]
        and ref.get("namespace") == meta["namespace"]
        and ref.get("uid", meta["uid"]) == meta["uid"]
    )


class Node:
    def __init__(self, kube: Kube, name: str, state_dir: Path) -> None:
        self.kube = kube
        self.name = name
        self.volumes_dir = state_dir / "volumes"
        self.hostpath_root = state_dir / "hostpath"
        self._binding_supported = True
        self.ready_since = now()

    # -- node ------------------------------------------------------------------------
    async def register(self) -> None:
        node = await asyncio.to_thread(self.kube.get, NODES, None, self.name)
        if node is None:
            try:
                await asyncio.to_thread(self.kube.create, NODES, None, node_manifest(self.name))
                log.info("registered node %s", self.name)
            except KubeError as e:
                if e.status != 409:
                    raise
        await asyncio.to_thread(
            self.kube.patch,
            NODES,
            None,
            self.name,
            {"status": node_status(self.name, self.ready_since)},
            "status",
        )

    # -- scheduler -------------------------------------------------------------------
    async def bind(self, pods: list[Obj]) -> None:
        for pod in pods:
            meta, spec = pod["metadata"], pod.get("spec") or {}
            if spec.get("nodeName") or meta.get("deletionTimestamp"):
                continue
            try:
                await self._bind_one(meta["namespace"], meta["name"], meta.get("uid"))
                log.info("bound pod %s/%s to %s", meta["namespace"], meta["name"], self.name)
            except KubeError as e:
                if e.status not in (404, 409):
                    log.warning("binding %s/%s: %s", meta["namespace"], meta["name"], e)

    async def _bind_one(self, ns: str, name: str, uid: str | None) -> None:
        if self._binding_supported:
            try:
                await asyncio.to_thread(self.kube.bind, ns, name, self.name, uid)
                return
            except KubeError as e:
                if e.status not in (404, 405):
                    raise
                pod = await asyncio.to_thread(self.kube.get, PODS, ns, name)
                if pod is None:  # the pod is gone, not the subresource
                    raise
                log.warning("pods/binding unsupported (%s); patching spec.nodeName", e)
                self._binding_supported = False
        await asyncio.to_thread(self.kube.patch, PODS, ns, name, {"spec": {"nodeName": self.name}})

    # -- provisioner -----------------------------------------------------------------
    def host_dir(self, pv: Obj) -> Path | None:
        """The directory backing a PV. hostPath/local paths outside the state dir are
        placed under <state>/hostpath/<node>/<path>, <node> from the PV's nodeAffinity
        (kubernetes.io/hostname), so the sandbox never writes elsewhere and two "nodes"
        with the same local path keep apart."""
        raw = pv_path(pv)
        if not raw:
            return None
        path = Path(os.path.normpath(raw))
        if path.is_relative_to(self.volumes_dir) or path.is_relative_to(self.hostpath_root):
            return path
        node = pv_node(pv) or self.name
        if "/" in node or node in (".", ".."):
            raise ValueError(f"PV {pv['metadata']['name']}: node {node!r} is not a node name")
        # normpath of an absolute path has no `..` left: the result stays below the root
        return self.hostpath_root / node / str(path).lstrip("/")

    async def provision(self, pvcs: list[Obj], pvs: list[Obj]) -> None:
        by_name = {pv["metadata"]["name"]: pv for pv in pvs}
        claimed = {((pv.get("spec") or {}).get("claimRef") or {}).get("uid") for pv in pvs}
        for pvc in pvcs:
            if pvc["metadata"].get("deletionTimestamp"):
                continue
            try:
                if (pvc.get("status") or {}).get("phase") == "Bound":
                    await self._expand(pvc, by_name)
                    continue
                await self._bind_claim(pvc, by_name, claimed, pvs)
            except KubeError as e:
                if e.status != 409:
                    log.warning("provisioning %s: %s", pvc["metadata"]["name"], e)
            except Exception as e:  # one bad claim never stops the others
                log.warning("cannot provision %s: %r", pvc["metadata"]["name"], e)
        live = {c["metadata"]["uid"] for c in pvcs}
        await self._reclaim(pvs, live)

    async def _expand(self, pvc: Obj, by_name: dict[str, Obj]) -> None:
        """A bound claim asks for more than its capacity (the API server admitted it, so
        its StorageClass allows expansion): grow its PV and its capacity, as the external
        resizer and the kubelet's online filesystem resize do (a directory has no size)."""
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        want = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        have = ((pvc.get("status") or {}).get("capacity") or {}).get("storage")
        try:
            if want is None or have is None or _quantity_bytes(want) <= _quantity_bytes(have):
                return
        except ValueError:
            return
        pv = by_name.get(spec.get("volumeName") or "")
        if pv is not None:
            await asyncio.to_thread(
                self.kube.patch,
                PVS,
                None,
                pv["metadata"]["name"],
                {"spec": {"capacity": {"storage": want}}},
            )
        await asyncio.to_thread(
            self.kube.patch,
            PVCS,
            meta["namespace"],
            meta["name"],
            {"status": {"capacity": {"storage": want}}},
            "status",
        )
        log.info("expanded pvc %s/%s to %s", meta["namespace"], meta["name"], want)

    async def _bind_claim(
        self, pvc: Obj, by_name: dict[str, Obj], claimed: set[Any], pvs: list[Obj]
    ) -> None:
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        pv = by_name.get(spec.get("volumeName") or "")
        if pv is None and pvc["metadata"]["uid"] in claimed:
            pv = next(
                p
                for p in pvs
                if ((p.get("spec") or {}).get("claimRef") or {}).get("uid") == meta["uid"]
            )
        if pv is None:
            pv = next((p for p in pvs if _prebound_to(p, pvc)), None)
        if pv is None:
            pv = self._match_static(pvc, pvs, claimed)
        if pv is None:
            pv = await self._create_pv(pvc)
        claimed.add(meta["uid"])
        host = self.host_dir(pv)
        if host is not None:
            host.mkdir(parents=True, exist_ok=True)
        ref = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        }
        if (pv.get("spec") or {}).get("claimRef", {}).get("uid") != meta["uid"]:
            await asyncio.to_thread(
                self.kube.patch, PVS, None, pv["metadata"]["name"], {"spec": {"claimRef": ref}}
            )
        await asyncio.to_thread(
            self.kube.patch,
            PVS,
            None,
            pv["metadata"]["name"],
            {"status": {"phase": "Bound"}},
            "status",
        )
        if spec.get("volumeName") != pv["metadata"]["name"]:
            await asyncio.to_thread(
                self.kube.patch,
                PVCS,
                meta["namespace"],
                meta["name"],
                {
                    "metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
                    "spec": {"volumeName": pv["metadata"]["name"]},
                },
            )
        pv_spec = pv.get("spec") or {}
        await asyncio.to_thread(
            self.kube.patch,
            PVCS,
            meta["namespace"],
            meta["name"],
            {
                "status": {
                    "phase": "Bound",
                    "accessModes": pv_spec.get("accessModes") or spec.get("accessModes"),
                    "capacity": pv_spec.get("capacity") or {},
                }
            },
            "status",
        )
        log.info(
            "bound pvc %s/%s to pv %s (%s)",
            meta["namespace"],
            meta["name"],
            pv["metadata"]["name"],
            host,
        )

    def _match_static(self, pvc: Obj, pvs: list[Obj], claimed: set[Any]) -> Obj | None:
        spec = pvc.get("spec") or {}
        want = _quantity_bytes(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
        for pv in sorted(pvs, key=lambda p: p["metadata"]["name"]):
            ps = pv.get("spec") or {}
            if ps.get("claimRef") or (pv.get("status") or {}).get("phase") not in (
                None,
                "Available",
                "Pending",
            ):
                continue
            if ps.get("storageClassName", "") != (spec.get("storageClassName") or ""):
                continue
            try:
                if _quantity_bytes((ps.get("capacity") or {}).get("storage")) < want:
                    continue
            except ValueError:  # a PV with a malformed capacity matches nothing
                continue
            if pv_path(pv) is None:
                continue
            return pv
        return None

    async def _create_pv(self, pvc: Obj) -> Obj:
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        name = f"pvc-{meta['uid']}"
        path = self.volumes_dir / name
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        pv: Obj = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONER_ANNOTATION: PROVISIONER}},
            "spec": {
                "capacity": {"storage": storage},
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": spec.get("storageClassName") or "",
                "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta["uid"],
                },
            },
        }
        try:
            return await asyncio.to_thread(self.kube.create, PVS, None, pv)
        except KubeError as e:
            if e.status != 409:
                raise
            existing = await asyncio.to_thread(self.kube.get, PVS, None, name)
            if existing is None:
                raise
            return existing

    async def _reclaim(self, pvs: list[Obj], live_claims: set[str]) -> None:
        for pv in pvs:
            spec = pv.get("spec") or {}
            ref = spec.get("claimRef") or {}
            if not ref.get("uid") or ref["uid"] in live_claims:
                continue
            phase = (pv.get("status") or {}).get("phase")
            # A real PV controller marks the PV Released first, then waits for its
            # provisioner (us) to delete it: reclaim Bound and Released PVs alike.
            if phase not in ("Bound", "Released"):
                continue
            # The claim is gone: Released first (as the PV controller does; a real
            # pv-protection controller keeps a Bound PV's finalizer forever), then
            # Delete policy -> remove the PV and its directory; Retain -> stays Released.
            name = pv["metadata"]["name"]
            if phase == "Bound":
                await asyncio.to_thread(
                    self.kube.patch, PVS, None, name, {"status": {"phase": "Released"}}, "status"
                )
            if (
                spec.get("persistentVolumeReclaimPolicy") == "Delete"
                and (pv["metadata"].get("annotations") or {}).get(PROVISIONER_ANNOTATION)
                == PROVISIONER
            ):
                host = self.host_dir(pv)
                log.info("deleting pv %s (claim gone)", name)
                await asyncio.to_thread(self.kube.delete, PVS, None, name)
                if host is not None:
                    shutil.rmtree(host, ignore_errors=True)
