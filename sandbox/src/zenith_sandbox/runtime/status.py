"""Status reporting of a sandbox pod: the pod status computed from its containers, written
through pods/status when it changes, and the node controller's NotReady when its node is
down (fault)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from .containers import ContainerRun, now
from .kube import PODS, Kube, KubeError

Obj = dict[str, Any]
log = logging.getLogger("zenith.sandbox.kubelet")

OUR_CONDITIONS = ("PodScheduled", "Initialized", "ContainersReady", "Ready")


class Reported(Protocol):
    """What status reporting reads and writes of a pod worker (pod.PodWorker)."""

    kube: Kube
    pod: Obj
    ns: str
    name: str
    ip: str
    start_time: str
    inits: list[ContainerRun]
    containers: list[ContainerRun]
    initialized: bool
    failed_reason: str | None
    transitions: dict[str, tuple[str, str]]
    written: Obj | None
    dirty: asyncio.Event
    resumed: asyncio.Event


def compute(w: Reported) -> Obj:
    spec = w.pod.get("spec") or {}
    policy = spec.get("restartPolicy", "Always")
    ready = bool(w.containers) and all(c.ready for c in w.containers)
    if w.failed_reason:
        phase = "Failed"
    elif not w.initialized:
        phase = "Pending"
    elif all(c.done for c in w.containers) and policy != "Always":
        codes = [c.state.get("terminated", {}).get("exitCode", 1) for c in w.containers]
        phase = "Succeeded" if all(code == 0 for code in codes) else "Failed"
    elif any("running" in c.state or c.restart_count for c in w.containers):
        phase = "Running"
    else:
        phase = "Pending"
    conds = {
        "PodScheduled": True,
        "Initialized": w.initialized,
        "ContainersReady": ready,
        "Ready": ready,
    }
    conditions = [condition(w.transitions, t, v) for t, v in conds.items()]
    foreign = [
        c
        for c in (w.pod.get("status") or {}).get("conditions") or []
        if c.get("type") not in OUR_CONDITIONS
    ]
    status: Obj = {
        "phase": phase,
        "conditions": foreign + conditions,
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": w.ip,
        "podIPs": [{"ip": w.ip}],
        "startTime": w.start_time,
        "containerStatuses": [c.status() for c in w.containers],
        # No qosClass: the API server computes it at creation and refuses changes.
    }
    if w.inits:
        status["initContainerStatuses"] = [c.status() for c in w.inits]
    if w.failed_reason:
        status["reason"], status["message"] = "Failed", w.failed_reason
    return status


def condition(transitions: dict[str, tuple[str, str]], ctype: str, value: bool) -> Obj:
    text = "True" if value else "False"
    prev = transitions.get(ctype)
    if prev is None or prev[0] != text:
        transitions[ctype] = (text, now())
    return {
        "type": ctype,
        "status": text,
        "lastTransitionTime": transitions[ctype][1],
        "lastProbeTime": None,
    }


async def writer(w: Reported) -> None:
    while True:
        await w.dirty.wait()
        await w.resumed.wait()
        w.dirty.clear()
        status = compute(w)
        if status == w.written:
            continue
        try:
            await asyncio.to_thread(w.kube.patch, PODS, w.ns, w.name, {"status": status}, "status")
            w.written = status
        except KubeError as e:
            if e.not_found:
                return
            log.warning("pod %s/%s: status write failed: %s", w.ns, w.name, e)
            await asyncio.sleep(0.5)
            w.dirty.set()
        except Exception as e:  # the API may be restarting: retry, never die
            log.warning("pod %s/%s: status write failed: %r", w.ns, w.name, e)
            await asyncio.sleep(0.5)
            w.dirty.set()
        await asyncio.sleep(0.05)  # coalesce bursts


async def mark_not_ready(w: Reported, after: float) -> None:
    await asyncio.sleep(after)
    status = compute(w)
    for c in status["conditions"]:
        if c["type"] in ("Ready", "ContainersReady"):
            c.update(
                status="False",
                reason="NodeNotReady",
                message="the sandbox node of this pod is down (fault)",
            )
    for cs in status["containerStatuses"]:
        cs["ready"] = False
    with contextlib.suppress(Exception):
        await asyncio.to_thread(
            w.kube.patch,
            PODS,
            w.ns,
            w.name,
            {
                "status": {
                    "conditions": status["conditions"],
                    "containerStatuses": status["containerStatuses"],
                }
            },
            "status",
        )
    w.written = None  # rewrite the real status when the node is back
