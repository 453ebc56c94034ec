"""The StatefulSet controller: ordinal pods and their PVCs from the spec.

`plan()` is pure: from one StatefulSet and the pods/PVCs the API holds it returns what
to create, delete and which status to write. `StatefulSetController.reconcile` applies
it. Behaviour follows kube-controller-manager: pods NAME-<ordinal>, PVCs
<template>-NAME-<ordinal> created before the pod and kept on scale-down unless
`persistentVolumeClaimRetentionPolicy` says Delete, OrderedReady waits for each pod to
be Running and Ready before the next, Parallel does not; RollingUpdate replaces pods
from the highest ordinal down (respecting partition), OnDelete only gives the new
template to pods that are deleted; failed pods are deleted and recreated.
ControllerRevision objects are not kept: the revision is NAME-<hash of the template>, so
an equal template (a revert) gets its old revision back, as with ControllerRevisions; each
pod is labelled with the revision it was created from and `status.updateRevision` is the
template's, written with `observedGeneration`.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from .kube import PODS, PVCS, STATEFULSETS, Kube, KubeError

Obj = dict[str, Any]
log = logging.getLogger("zenith.sandbox.statefulsets")

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"


def revision(sts: Obj) -> str:
    template = json.dumps(sts["spec"].get("template") or {}, sort_keys=True)
    return f"{sts['metadata']['name']}-{hashlib.sha256(template.encode()).hexdigest()[:10]}"


def is_ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def is_terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_failed(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")


def owned_by(obj: Obj, uid: str) -> bool:
    return any(
        r.get("uid") == uid and r.get("controller")
        for r in (obj.get("metadata") or {}).get("ownerReferences") or []
    )


def owner_ref(sts: Obj) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": sts["metadata"]["name"],
        "uid": sts["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def ordinal_of(pod_name: str, sts_name: str) -> int | None:
    prefix = sts_name + "-"
    rest = pod_name[len(prefix) :] if pod_name.startswith(prefix) else ""
    return int(rest) if rest.isdigit() else None


def claim_name(template: Obj, sts_name: str, ordinal: int) -> str:
    return f"{template['metadata']['name']}-{sts_name}-{ordinal}"


def build_pvcs(sts: Obj, ordinal: int) -> list[Obj]:
    name = sts["metadata"]["name"]
    selector = (sts["spec"].get("selector") or {}).get("matchLabels") or {}
    policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
    out = []
    for tmpl in sts["spec"].get("volumeClaimTemplates") or []:
        meta = tmpl.get("metadata") or {}
        pvc: Obj = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": claim_name(tmpl, name, ordinal),
                "namespace": sts["metadata"]["namespace"],
                "labels": {**selector, **(meta.get("labels") or {})},
            },
            "spec": copy.deepcopy(tmpl.get("spec") or {}),
        }
        if meta.get("annotations"):
            pvc["metadata"]["annotations"] = dict(meta["annotations"])
        if policy.get("whenDeleted") == "Delete":
            ref = owner_ref(sts)
            ref["controller"] = False  # the garbage collector deletes it with the set
            pvc["metadata"]["ownerReferences"] = [ref]
        out.append(pvc)
    return out


def build_pod(sts: Obj, ordinal: int, rev: str) -> Obj:
    name = sts["metadata"]["name"]
    template = copy.deepcopy(sts["spec"].get("template") or {})
    tmeta = template.get("metadata") or {}
    pod_name = f"{name}-{ordinal}"
    labels = {
        **(tmeta.get("labels") or {}),
        POD_NAME_LABEL: pod_name,
        POD_INDEX_LABEL: str(ordinal),
        REVISION_LABEL: rev,
    }
    spec = template.get("spec") or {}
    spec["hostname"] = pod_name
    if sts["spec"].get("serviceName"):
        spec["subdomain"] = sts["spec"]["serviceName"]
    claims = {
        t["metadata"]["name"]: claim_name(t, name, ordinal)
        for t in sts["spec"].get("volumeClaimTemplates") or []
    }
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    volumes += [{"name": n, "persistentVolumeClaim": {"claimName": c}} for n, c in claims.items()]
    if volumes:
        spec["volumes"] = volumes
    meta: Obj = {
        "name": pod_name,
        "namespace": sts["metadata"]["namespace"],
        "labels": labels,
        "ownerReferences": [owner_ref(sts)],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


@dataclass
class Plan:
    create_pvcs: list[Obj] = field(default_factory=list)
    create_pods: list[Obj] = field(default_factory=list)
    delete_pods: list[tuple[str, str, str]] = field(default_factory=list)  # name, uid, why
    delete_pvcs: list[str] = field(default_factory=list)
    status: Obj | None = None


def _wanted(sts: Obj) -> list[int]:
    spec = sts["spec"]
    replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    start = int((spec.get("ordinals") or {}).get("start", 0))
    return list(range(start, start + replicas))


def plan(sts: Obj, pods: list[Obj], pvcs: list[Obj]) -> Plan:
    """What the controller does next for one StatefulSet (pods: those it owns)."""
    p = Plan()
    name = sts["metadata"]["name"]
    spec = sts["spec"]
    wanted = _wanted(sts)
    update_rev = revision(sts)
    status = sts.get("status") or {}
    current_rev = status.get("currentRevision") or update_rev
    parallel = spec.get("podManagementPolicy") == "Parallel"
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
    partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
    by_ord: dict[int, Obj] = {}
    for pod in pods:
        o = ordinal_of(pod["metadata"]["name"], name)
        if o is not None:
            by_ord[o] = pod
    have_pvcs = {c["metadata"]["name"] for c in pvcs}

    for o in wanted:
        for pvc in build_pvcs(sts, o):
            if pvc["metadata"]["name"] not in have_pvcs:
                p.create_pvcs.append(pvc)

    # failed pods are replaced (deleted now, recreated on a later pass)
    for o in wanted:
        failed = by_ord.get(o)
        if failed is not None and is_failed(failed) and not is_terminating(failed):
            p.delete_pods.append((failed["metadata"]["name"], failed["metadata"]["uid"], "failed"))

    healthy_so_far = True
    for o in wanted:
        current = by_ord.get(o)
        if current is None:
            if parallel or healthy_so_far:
                rev = current_rev if rolling and o < partition else update_rev
                p.create_pods.append(build_pod(sts, o, rev))
            healthy_so_far = False
            if not parallel:
                break
        elif not is_ready(current) or is_terminating(current):
            healthy_so_far = False
            if not parallel:
                break

    condemned = sorted((o for o in by_ord if o not in wanted), reverse=True)
    live_condemned = [o for o in condemned if not is_terminating(by_ord[o])]
    if parallel:
        for o in live_condemned:
            pod = by_ord[o]
            p.delete_pods.append((pod["metadata"]["name"], pod["metadata"]["uid"], "scale down"))
    elif live_condemned and not p.create_pods and len(live_condemned) == len(condemned):
        all_ready = all(is_ready(by_ord[o]) for o in wanted if o in by_ord)
        if all_ready:
            pod = by_ord[live_condemned[0]]
            p.delete_pods.append((pod["metadata"]["name"], pod["metadata"]["uid"], "scale down"))

    all_present = all(o in by_ord for o in wanted) and not condemned
    if rolling and all_present and not p.delete_pods:
        stable = all(is_ready(by_ord[o]) and not is_terminating(by_ord[o]) for o in wanted)
        for o in sorted(wanted, reverse=True):
            pod = by_ord[o]
            if o < partition or not stable:
                break
            if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != update_rev:
                p.delete_pods.append(
                    (pod["metadata"]["name"], pod["metadata"]["uid"], "rolling update")
                )
                break

    policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    if policy.get("whenScaled") == "Delete":
        for c in pvcs:
            for tmpl in spec.get("volumeClaimTemplates") or []:
                prefix = f"{tmpl['metadata']['name']}-{name}-"
                rest = c["metadata"]["name"][len(prefix) :]
                if c["metadata"]["name"].startswith(prefix) and rest.isdigit():
                    o = int(rest)
                    if o not in wanted and o not in by_ord and o >= min(wanted, default=0):
                        p.delete_pvcs.append(c["metadata"]["name"])

    p.status = _status(sts, list(by_ord.values()), wanted, current_rev, update_rev)
    return p


def _status(
    sts: Obj, pods: list[Obj], wanted: list[int], current_rev: str, update_rev: str
) -> Obj | None:
    revs = [(pod["metadata"].get("labels") or {}).get(REVISION_LABEL) for pod in pods]
    updated = sum(1 for r in revs if r == update_rev)
    ready = sum(1 for pod in pods if is_ready(pod))
    rolling = (sts["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
    # as kube-controller-manager's completeRollingUpdate: with OnDelete the current
    # revision stays where it was; only updateRevision follows the template
    if rolling == "RollingUpdate" and updated == len(pods) == ready == len(wanted):
        current_rev = update_rev
    new = {
        "observedGeneration": sts["metadata"].get("generation", 1),
        "replicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": sum(1 for r in revs if r == current_rev),
        "updatedReplicas": updated,
        "currentRevision": current_rev,
        "updateRevision": update_rev,
        "collisionCount": 0,
    }
    old = sts.get("status") or {}
    if all(old.get(k, 0 if isinstance(v, int) else None) == v for k, v in new.items()):
        return None
    return new


class StatefulSetController:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    async def reconcile(self, sets: list[Obj], pods: list[Obj], pvcs: list[Obj]) -> None:
        for sts in sets:
            if is_terminating(sts):
                continue
            ns = sts["metadata"]["namespace"]
            uid = sts["metadata"]["uid"]
            mine = [p for p in pods if p["metadata"].get("namespace") == ns and owned_by(p, uid)]
            claims = [c for c in pvcs if c["metadata"].get("namespace") == ns]
            try:
                await self._apply(sts, plan(sts, mine, claims))
            except KubeError as e:
                if not e.conflict:  # conflicts resolve on the next pass
                    log.warning("statefulset %s/%s: %s", ns, sts["metadata"]["name"], e)
            except Exception as e:  # one bad StatefulSet never stops the others
                log.warning("statefulset %s/%s: %r", ns, sts["metadata"]["name"], e)

    async def _apply(self, sts: Obj, p: Plan) -> None:
        ns, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        for pvc in p.create_pvcs:
            log.info("statefulset %s/%s: create pvc %s", ns, name, pvc["metadata"]["name"])
            await self._create(PVCS, ns, pvc)
        for pod_name, uid, why in p.delete_pods:
            log.info("statefulset %s/%s: delete pod %s (%s)", ns, name, pod_name, why)
            await asyncio.to_thread(self.kube.delete, PODS, ns, pod_name, None, uid)
        for pod in p.create_pods:
            log.info("statefulset %s/%s: create pod %s", ns, name, pod["metadata"]["name"])
            await self._create(PODS, ns, pod)
        for claim in p.delete_pvcs:
            log.info("statefulset %s/%s: delete pvc %s (scaled down)", ns, name, claim)
            await asyncio.to_thread(self.kube.delete, PVCS, ns, claim)
        if p.status is not None:
            await asyncio.to_thread(
                self.kube.patch, STATEFULSETS, ns, name, {"status": p.status}, "status"
            )

    async def _create(self, kind: Any, ns: str, body: Obj) -> None:
        try:
            await asyncio.to_thread(self.kube.create, kind, ns, body)
        except KubeError as e:
            if e.status != 409:  # AlreadyExists: someone (or a previous pass) made it
                raise
