"""The HA polling loop of one ZenithCluster: read the caches, poll, decide, apply, wait.

The loop never calls the API to read: the cluster, its pods and its StatefulSet come
from watch-fed caches (reflector.py, cache.py), so an idle operator sends the API nothing but its
watches. The agents are polled every pollingInterval; a spec or annotation change wakes
the loop at once (`notify`). The loop never dies: every cycle catches everything and
reports it. A restarted operator resumes from the status (the `Memory` starts empty:
unknown lease grant time is taken as the restart time, see ha/plan.py).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import functools
import random
import ssl
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from zenith_operator import naming
from zenith_operator.api.cluster import ref_from_body
from zenith_operator.api.spec import SpecError, ZenithClusterSpec, parse_spec
from zenith_operator.api.status import ZenithClusterStatus
from zenith_operator.controller import metrics
from zenith_operator.controller.agent_client import STATUS_TIMEOUT, AgentClient
from zenith_operator.controller.agent_tls import pod_server_name, read_context
from zenith_operator.controller.api_health import ApiHealth
from zenith_operator.controller.cache import (
    Key,
    PodIndex,
    RevisionIndex,
    pods_of,
    update_revision_of,
)
from zenith_operator.controller.executor import MY_CONDITIONS, Executor
from zenith_operator.controller.fast_steps import FastSteps
from zenith_operator.controller.observe import ClusterView, Memory, PodInfo, poll, view_of
from zenith_operator.controller.reconcile_kube import Kube, KubeError, Ref
from zenith_operator.ha import SWITCHOVER_ANNOTATION
from zenith_operator.ha.decide import decide
from zenith_operator.ha.model import Decision, Observations, Settings
from zenith_operator.ha.states import State
from zenith_operator.ha.timing import lease_ttl
from zenith_operator.resources.workload import agent_token_secret, held_replicas, new_token

DEFAULT_INTERVAL = 10.0
FAST_POLL_DIVISOR = 4  # during an incident the loop polls this much more often ...
FAST_POLL_FLOOR = 0.25  # ... but never more often than this
STEP_POLL = 0.1  # while a failover, switchover or other step is under way
STEP_STATES = frozenset({State.FAILOVER, State.SWITCHOVER})
POD_EVENT_DELAY = 0.02  # a pod event wakes the loop after kopf has updated its index


def next_interval(
    polling_interval: float,
    decision: Decision,
    obs: Observations,
    now: float | None = None,
    poll_timeout: float = 0.0,
    floor: float = 0.0,
) -> float:
    """Seconds until the next cycle: pollingInterval, shorter while something is wrong.

    When the cluster is not Normal, or an agent does not answer, the next poll comes
    sooner, so a restarted agent (or a standby back in sync) is acted on within a fraction
    of the interval. While a failover or switchover (or any intent) is under way the
    steps follow each other every STEP_POLL, whatever the interval; an agent's command
    finishing wakes the loop at once (HaLoop). A silent agent is polled again so that
    its poll times out (`poll_timeout`) right when it would be counted down. Every timer
    of the state machine is in seconds. `floor` (fast_steps.py) bounds the fast cadence
    when many clusters poll fast at once; the poll timed to a down count is exempt.
    """
    calm = decision.state == State.NORMAL and all(o.answering for o in obs.instances)
    going = any(o.pod_deleting for o in obs.instances)  # its database stops any moment
    if calm and not going:
        return polling_interval
    wait = min(polling_interval, max(FAST_POLL_FLOOR, polling_interval / FAST_POLL_DIVISOR))
    if decision.state in STEP_STATES or decision.status.pending_action is not None or going:
        wait = min(wait, STEP_POLL)
    wait = max(wait, min(floor, polling_interval))
    if now is not None:
        timeout = obs.settings.unreachable_timeout
        for o in obs.instances:
            if o.pod_exists and o.agent is None:
                down_at = obs.silence_counted_from(o) + timeout
                if down_at > now:
                    wait = min(wait, max(0.05, down_at - now + 0.01 - poll_timeout))
    return wait


TLS_REREAD_AFTER = 10.0  # seconds: certificate errors re-read the TLS Secret at most this often


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


def settings_key(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What, when it changes, must wake the loop at once: spec, resume and switchover."""
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return (
        meta.get("generation"),
        annotations.get(naming.RESUME_ANNOTATION),
        annotations.get(SWITCHOVER_ANNOTATION),
        bool(meta.get("deletionTimestamp")),
    )


def write_budget(settings: Settings, status_timeout: float) -> float:
    """How long a cycle waits for its status write: up to one interval, but short enough
    that poll + renewal + write stay within half the lease (renewals keep their pace)."""
    half_lease = lease_ttl(settings.unreachable_timeout, settings.polling_interval) / 2
    return max(0.5, min(settings.polling_interval, half_lease - 2 * status_timeout))


class HaLoop:
    """One cluster's loop. Reads only caches: `body` is kopf's live view of the
    ZenithCluster, `pods`/`templates` the watch-fed caches of reflector.py."""

    def __init__(
        self,
        kube: Kube,
        body: Mapping[str, Any],
        pods: PodIndex,
        templates: RevisionIndex,
        api: ApiHealth,
        session: aiohttp.ClientSession,
        pool: concurrent.futures.Executor | None,
        log: Any,
        steps: FastSteps | None = None,
    ) -> None:
        meta = body["metadata"]
        self.key: Key = (meta.get("namespace") or "", meta["name"])
        self.kube = kube
        self.body = body
        self.pods = pods
        self.templates = templates
        self.api = api
        self.session = session
        self.pool = pool
        self.log = log
        self.steps = steps or FastSteps()
        self.memory = Memory()
        self.token: str | None = None
        self.last_said: tuple[str, str] | None = None  # (reason, state) last logged
        self.seen: tuple[Any, ...] | None = None
        self.wake = asyncio.Event()
        self.pod_keys: dict[str, tuple[Any, ...]] = {}  # pod name -> PodInfo.wake_key()
        self._spec: tuple[Any, ZenithClusterSpec] | None = None  # (raw spec, parsed)
        self._scaled_to: int | None = None  # the held scale-down last applied
        self._tls: dict[str, ssl.SSLContext] = {}  # agent TLS Secret -> client context
        self._tls_read_at = 0.0

    def notify(self) -> None:
        """The ZenithCluster changed (a watch event): run a cycle now if its settings did."""
        if self.seen is not None and settings_key(self.body) != self.seen:
            self.wake.set()

    def pod_changed(self, pod: PodInfo) -> None:
        """A pod of this cluster changed (a watch event): run a cycle now if what the HA
        loop reads of it did (deleted, restarted, readiness, address), not for a label."""
        key = pod.wake_key()
        if self.pod_keys.get(pod.name) == key:
            return
        known = pod.name in self.pod_keys
        self.pod_keys[pod.name] = key
        if known and self.seen is not None:
            asyncio.get_running_loop().call_later(POD_EVENT_DELAY, self.wake.set)

    def _parsed(self, body: Mapping[str, Any]) -> ZenithClusterSpec:
        """The spec, parsed once per version of the object (cheap cycles at scale)."""
        raw = body.get("spec")
        if self._spec is None or self._spec[0] is not raw:
            self._spec = (raw, parse_spec(raw))
        return self._spec[1]

    async def run(self, stopped: Any) -> None:
        client = AgentClient(self.session, None)
        client.on_status = functools.partial(metrics.CLUSTERS.polled, self.key)
        executor = Executor(self.kube, client, self.memory, self.log, self.api, pool=self.pool)
        executor.on_done = self.wake.set  # the next step follows a finished command at once
        metrics.CLUSTERS.track(self.key)
        first = True
        planned: float | None = None
        try:
            while not stopped:
                began = time.monotonic()
                if planned is not None:  # woken early (a spec change) is not late
                    metrics.HA_CYCLE_JITTER.observe(max(0.0, began - planned))
                interval = DEFAULT_INTERVAL
                try:
                    interval = await self.cycle(client, executor)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the loop never dies
                    self.log.exception("ha cycle failed", error=repr(exc))
                metrics.HA_CYCLE.observe(time.monotonic() - began)
                delay = max(0.05, interval - (time.monotonic() - began))
                if first:  # loops started together (operator start) must not poll together
                    delay *= random.random()
                    first = False
                planned = time.monotonic() + delay
                await self._sleep(stopped, delay)
        finally:
            self.steps.mark(self.key, False)
            metrics.CLUSTERS.forget(self.key)
            await executor.close()

    async def _sleep(self, stopped: Any, delay: float) -> None:
        """Wait `delay` seconds, less when the settings change or the daemon stops."""

        async def until_stopped() -> None:
            await stopped.wait()

        waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(until_stopped())]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        self.wake.clear()

    async def _agent_tls(self, client: AgentClient, view: ClusterView) -> None:
        """https to each pod whose agent mounts a TLS Secret (as its pod spec says, so a
        spec change reaches each pod with its restart), verified by agent_tls.py."""
        secrets = {p.agent_tls_secret for p in view.pods.values() if p.agent_tls_secret}
        for name in set(self._tls) - secrets:
            del self._tls[name]
        loop = asyncio.get_running_loop()
        for name in sorted(secrets - set(self._tls)):
            read = functools.partial(read_context, self.kube, self.key[0], name)
            self._tls[name] = await loop.run_in_executor(self.pool, read)
            self._tls_read_at = time.monotonic()
        ns, cluster = self.key
        client.tls = {
            p.ip: (pod_server_name(p.name, cluster, ns), self._tls[p.agent_tls_secret])
            for p in view.pods.values()
            if p.ip and p.agent_tls_secret
        }

    async def cycle(self, client: AgentClient, executor: Executor) -> float:
        # kopf replaces the live body's dict on every event and never mutates the old
        # one, so a shallow copy is a consistent snapshot (the executor copies to write).
        body = executor.freshest(dict(self.body))
        self.seen = settings_key(body)
        try:
            view = view_of(
                body,
                pods_of(self.pods, self.key),
                update_revision_of(self.templates, self.key),
                self._parsed(body),
            )
        except SpecError as exc:
            self.log.warning("invalid spec: HA paused", field=exc.path, error=exc.message)
            return DEFAULT_INTERVAL
        interval = view.settings.polling_interval
        client.status_timeout = max(0.2, min(STATUS_TIMEOUT, interval / 2))
        executor.write_budget = write_budget(view.settings, client.status_timeout)
        if self.token is None and any(p.ip for p in view.pods.values()):
            # only once there is an agent to talk to: the reconciler has made the Secret
            loop = asyncio.get_running_loop()
            self.token = await loop.run_in_executor(
                self.pool, functools.partial(ensure_agent_token, self.kube, body)
            )
            client.token = self.token
        await self._agent_tls(client, view)
        m = self.memory
        if m.status is None:
            m.status = ZenithClusterStatus.model_validate(body.get("status") or {})
            m.status.conditions = [c for c in m.status.conditions if c.type in MY_CONDITIONS]
            m.written = m.status.model_copy(deep=True)
        obs = await poll(view, client, m, time.time())
        if any(o.error and "HTTP 401" in o.error for o in obs.instances):
            self.token = None  # rotated Secret: read it again next cycle
        bad_cert = any(o.error and "CERTIFICATE" in o.error for o in obs.instances)
        if bad_cert and time.monotonic() - self._tls_read_at > TLS_REREAD_AFTER:
            self._tls.clear()  # a rotated CA: read the Secrets again next cycle
        # decided as of the end of the poll: a silent agent has been silent until then
        # (its poll timed out), and every time bound is checked against the later clock
        now = time.time()
        decision = decide(m.status, obs, now)
        said = (decision.reason, decision.state.value)
        if said != self.last_said:
            self.log.info(
                "ha decision",
                state=decision.state.value,
                reason=decision.reason,
                actions=[type(a).__name__ for a in decision.actions],
            )
            self.last_said = said
        if await executor.apply(view, decision):
            metrics.CLUSTERS.cycle(self.key, m.status, decision.status, obs, now)
            m.status = decision.status
            await self._scale_down(view, m.status.active_instance)
        wait = next_interval(
            interval, decision, obs, time.time(), client.status_timeout, self.steps.floor()
        )
        self.steps.mark(self.key, wait < interval)
        return wait

    async def _scale_down(self, view: ClusterView, active: str | None) -> None:
        """Apply a held scale-down once the active is within the spec's replicas (the
        reconciler does the same at its next pass; this does not wait for it). Acts when
        a pod beyond the held count still exists, once per target count."""
        z = view.spec.zenith_spec
        namespace, name = self.key
        held = held_replicas(name, z.replicas, active)
        beyond = [n for n in view.pods if _ordinal(n) >= held]
        if z.stopped or not beyond or self._scaled_to == held:
            return
        ref = Ref("apps/v1", "StatefulSet", naming.statefulset_name(name), namespace or None)
        try:
            await asyncio.to_thread(self.kube.patch, ref, {"spec": {"replicas": held}})
            self._scaled_to = held
            self.log.info("scaled down", replicas=held, active=active)
        except KubeError as exc:
            self.log.warning("scale down failed", error=str(exc))


def _ordinal(pod_name: str) -> int:
    tail = pod_name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1
