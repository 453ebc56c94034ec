"""The HA polling loop of one ZenithCluster: read, poll, decide, apply, wait.

The loop never dies: every cycle catches everything and reports it. A restarted
operator resumes from the status (the `Memory` starts empty: unknown lease grant time is
taken as the restart time, see ha/plan.py).
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import aiohttp

from zenith_operator import naming
from zenith_operator.api.cluster import ref_from_body
from zenith_operator.api.spec import SpecError
from zenith_operator.api.status import ZenithClusterStatus
from zenith_operator.controller.agent_client import STATUS_TIMEOUT, AgentClient
from zenith_operator.controller.executor import MY_CONDITIONS, Executor
from zenith_operator.controller.observe import ClusterView, Memory, poll, read_cluster
from zenith_operator.controller.reconcile_kube import Kube, KubeError, Ref
from zenith_operator.ha.decide import decide
from zenith_operator.ha.model import Decision, Observations
from zenith_operator.ha.states import State
from zenith_operator.resources.workload import agent_token_secret, held_replicas, new_token

DEFAULT_INTERVAL = 10.0
FAST_POLL_DIVISOR = 4  # during an incident the loop polls this much more often ...
FAST_POLL_FLOOR = 0.25  # ... but never more often than this


def next_interval(polling_interval: float, decision: Decision, obs: Observations) -> float:
    """Seconds until the next cycle: pollingInterval, shorter while something is wrong.

    When the cluster is not Normal, or an agent does not answer, the next poll comes
    sooner, so a restarted agent (or a standby back in sync) is acted on within a fraction
    of the interval. Every timer of the state machine is in seconds, not in polls.
    """
    calm = decision.state == State.NORMAL and all(o.answering for o in obs.instances)
    if calm:
        return polling_interval
    return min(polling_interval, max(FAST_POLL_FLOOR, polling_interval / FAST_POLL_DIVISOR))


def ensure_agent_token(kube: Kube, body: dict[str, Any]) -> str:
    """Blocking: the agent token from the cluster's Secret, created here if missing.

    The reconciler normally creates it; creating it here too (idempotently, with the
    reconciler's own builder) only matters when the HA loop runs first.
    """
    meta = body["metadata"]
    ns, cluster = meta.get("namespace"), meta["name"]
    ref = Ref("v1", "Secret", naming.agent_secret_name(cluster), ns)
    secret = kube.get(ref)
    if secret is None:
        obj = agent_token_secret(ref_from_body(body), new_token())
        try:
            secret = kube.create(obj)
        except KubeError as exc:
            if exc.status != 409:
                raise
            secret = kube.get(ref) or obj
    raw = (secret.get("data") or {}).get(naming.AGENT_TOKEN_KEY, "")
    return base64.b64decode(raw).decode().strip()


class HaLoop:
    def __init__(self, kube: Kube, namespace: str, name: str, log: Any) -> None:
        self.kube = kube
        self.ref = Ref(f"{naming.GROUP}/{naming.VERSION}", naming.KIND, name, namespace)
        self.log = log
        self.memory = Memory()
        self.token: str | None = None
        self.last_reason: str | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def poke(self) -> None:
        """Start the next cycle now (thread-safe): the spec changed, so a long
        pollingInterval set by mistake is not waited out."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _sleep(self, stopped: Any, delay: float) -> None:
        """Until `delay` passes, the daemon is stopped, or `poke()`."""
        tasks = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(stopped.wait(delay)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            self._wake.clear()

    async def run(self, stopped: Any) -> None:
        self._loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession() as session:
            client = AgentClient(session, None)
            executor = Executor(self.kube, client, self.memory, self.log)
            try:
                while not stopped:
                    began = time.monotonic()
                    interval = DEFAULT_INTERVAL
                    try:
                        interval = await self.cycle(client, executor)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # the loop never dies
                        self.log.exception("ha cycle failed", error=repr(exc))
                    delay = max(0.05, interval - (time.monotonic() - began))
                    await self._sleep(stopped, delay)
            finally:
                await executor.close()

    async def cycle(self, client: AgentClient, executor: Executor) -> float:
        body = await asyncio.to_thread(self.kube.get, self.ref)
        if body is None:
            return DEFAULT_INTERVAL
        try:
            view = await asyncio.to_thread(read_cluster, self.kube, body)
        except SpecError as exc:
            self.log.warning("invalid spec: HA paused", field=exc.path, error=exc.message)
            return DEFAULT_INTERVAL
        interval = view.settings.polling_interval
        client.status_timeout = max(0.2, min(STATUS_TIMEOUT, interval / 2))
        if self.token is None and any(p.ip for p in view.pods.values()):
            # only once there is an agent to talk to: the reconciler has made the Secret
            self.token = await asyncio.to_thread(ensure_agent_token, self.kube, body)
            client.token = self.token
        m = self.memory
        if m.status is None:
            m.status = ZenithClusterStatus.model_validate(body.get("status") or {})
            m.status.conditions = [c for c in m.status.conditions if c.type in MY_CONDITIONS]
            m.written = m.status.model_copy(deep=True)
        now = time.time()
        obs = await poll(view, client, m, now)
        if any(o.error and "HTTP 401" in o.error for o in obs.instances):
            self.token = None  # rotated Secret: read it again next cycle
        decision = decide(m.status, obs, now)
        if decision.reason != self.last_reason or decision.state.value != m.status.state:
            self.log.info(
                "ha decision",
                state=decision.state.value,
                reason=decision.reason,
                actions=[type(a).__name__ for a in decision.actions],
            )
            self.last_reason = decision.reason
        if await executor.apply(view, decision):
            m.status = decision.status
            await self._scale_down(view, m.status.active_instance)
        return next_interval(interval, decision, obs)

    async def _scale_down(self, view: ClusterView, active: str | None) -> None:
        """Apply a held scale-down once the active is within the spec's replicas (the
        reconciler does the same at its next pass; this does not wait for it)."""
        z = view.spec.zenith_spec
        current = view.statefulset_replicas
        held = held_replicas(self.ref.name, z.replicas, active)
        if z.stopped or current is None or held >= current:
            return
        ref = Ref(
            "apps/v1", "StatefulSet", naming.statefulset_name(self.ref.name), self.ref.namespace
        )
        try:
            await asyncio.to_thread(self.kube.patch, ref, {"spec": {"replicas": held}})
            self.log.info("scaled down", replicas=held, active=active)
        except KubeError as exc:
            self.log.warning("scale down failed", error=str(exc))
