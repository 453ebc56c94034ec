"""The probe loops of one container run: startup, then liveness and readiness, feeding
the container's started/ready flags and its kill future (a failed liveness probe)."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from . import probes
from .containers import ContainerRun


class Probed(Protocol):
    """What the probe loops need of a pod worker (pod.PodWorker)."""

    ip: str
    dirty: asyncio.Event
    resumed: asyncio.Event

    @property
    def suspended(self) -> bool: ...
    def event(
        self, reason: str, message: str, container: str | None, etype: str = "Warning"
    ) -> None: ...
    async def exec(self, run: ContainerRun, argv: list[str], timeout: float) -> int | None: ...


async def probe_all(w: Probed, run: ContainerRun, began: float) -> None:
    spec = run.spec
    if "startupProbe" in spec:
        tracker = probes.ProbeTracker("startup", spec["startupProbe"])
        await _probe_loop(w, run, tracker, began)
        if run.kill is not None and run.kill.done():
            return
    run.started = True
    if "readinessProbe" not in spec:
        run.ready = True
    w.dirty.set()
    loops = [
        _probe_loop(w, run, probes.ProbeTracker(kind, spec[key]), began)
        for kind, key in (("liveness", "livenessProbe"), ("readiness", "readinessProbe"))
        if key in spec
    ]
    if loops:
        await asyncio.gather(*loops)


async def _probe_loop(
    w: Probed, run: ContainerRun, tracker: probes.ProbeTracker, began: float
) -> None:
    delay = tracker.initial_delay - (time.monotonic() - began)
    if delay > 0:
        await asyncio.sleep(delay)
    while run.kill is not None and not run.kill.done():
        await w.resumed.wait()
        t0 = time.monotonic()
        ok = await probes.check(
            tracker.spec, w.ip, run.spec, lambda argv, to: w.exec(run, argv, to)
        )
        if w.suspended:
            continue  # the node died while probing: nobody sees the result
        verdict = tracker.record(ok)
        if verdict is False:
            w.event("Unhealthy", f"{tracker.kind.capitalize()} probe failed", run.name)
        if tracker.kind == "readiness":
            if run.ready != tracker.result:
                run.ready = tracker.result
                w.dirty.set()
        elif tracker.kind == "startup" and verdict is True:
            return
        elif verdict is False:
            if not run.kill.done():
                run.kill.set_result(
                    f"Container {run.name} failed {tracker.kind} probe, will be restarted"
                )
            return
        await asyncio.sleep(max(0.0, tracker.period - (time.monotonic() - t0)))
