"""kopf registration of the HA loop: one daemon per ZenithCluster, fed by watch caches.

Importing this module registers the daemon, the event handler that wakes a loop when
its cluster's settings change, and the clean-up of the shared agent session, API threads
and watches. The pod and StatefulSet caches are the operator's own (reflector.py), made
at start-up; the loop itself lives in `ha_loop.py`.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import kopf

from zenith_operator import naming
from zenith_operator.controller.api_health import ApiHealth
from zenith_operator.controller.cache import (
    POD_SELECTOR,
    STS_SELECTOR,
    Key,
    pod_entry,
    revision_entry,
)
from zenith_operator.controller.fast_steps import FastSteps
from zenith_operator.controller.ha_loop import HaLoop
from zenith_operator.controller.logs import cluster_logger
from zenith_operator.controller.observe import PodInfo
from zenith_operator.controller.reconcile_kube import Kube, collection_path
from zenith_operator.controller.reflector import Cache, Reflector

CR = (naming.GROUP, naming.VERSION, naming.PLURAL)
AGENT_POOL_LIMIT = 512  # connections in use at once, all agents together
AGENT_POOL_PER_AGENT = 4
AGENT_KEEPALIVE = 60.0  # idle keep-alive per agent; longer than common polling intervals
API_THREADS = 8  # the HA loops' API writes (status, labels, deletes), all clusters together
SYNC_CHECK = 0.1  # how often a new loop looks whether the caches hold their first list


def agent_session() -> aiohttp.ClientSession:
    """One session for every agent of every cluster: keep-alive, bounded pool."""
    connector = aiohttp.TCPConnector(
        limit=AGENT_POOL_LIMIT,
        limit_per_host=AGENT_POOL_PER_AGENT,
        keepalive_timeout=AGENT_KEEPALIVE,
    )
    return aiohttp.ClientSession(connector=connector)


@kopf.on.startup(id="ha-shared")
async def ha_shared(memo: kopf.Memo, **_: Any) -> None:
    """Make the per-process objects on the operator's memo, inside the event loop.

    kopf gives every object a shallow copy of this memo: what is set here is shared by
    all clusters; what a daemon sets on its own memo would be one more per cluster."""
    _shared(memo)


def _shared(memo: kopf.Memo) -> None:
    """Per-process objects every loop uses (no-op when the startup handler made them)."""
    if not hasattr(memo, "kube"):
        memo.kube = Kube.from_environment()
    if not hasattr(memo, "api_health"):
        memo.api_health = ApiHealth.for_kube(memo.kube)
    if not hasattr(memo, "agent_session"):
        memo.agent_session = agent_session()
    if not hasattr(memo, "ha_loops"):
        memo.ha_loops = {}
    if not hasattr(memo, "fast_steps"):
        memo.fast_steps = FastSteps()
    if not hasattr(memo, "ha_api_pool"):
        memo.ha_api_pool = ThreadPoolExecutor(API_THREADS, thread_name_prefix="ha-api")
    if not hasattr(memo, "watches"):
        memo.watches = watches(memo.kube, getattr(memo, "watch_namespace", None), memo.ha_loops)
        for reflector in memo.watches:
            reflector.start()


def watches(
    kube: Kube, namespace: str | None, loops: dict[Key, HaLoop]
) -> tuple[Reflector[PodInfo], Reflector[str]]:
    """The caches every HA loop reads: our pods (a change wakes the pod's cluster loop)
    and our StatefulSets' template revisions; `namespace` None watches all of them."""

    def pod_changed(key: Key, pod: PodInfo) -> None:
        loop = loops.get(key)
        if loop is not None:
            loop.pod_changed(pod)

    pod_path = collection_path("v1", "Pod", namespace, everywhere=True)
    sts_path = collection_path("apps/v1", "StatefulSet", namespace, everywhere=True)
    pods = Reflector(kube, pod_path, POD_SELECTOR, pod_entry, Cache(pod_changed))
    templates = Reflector(kube, sts_path, STS_SELECTOR, revision_entry, Cache[str]())
    return pods, templates


@kopf.daemon(*CR, id="ha-loop", cancellation_timeout=10.0)
async def ha_loop(
    body: kopf.Body,
    stopped: Any,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    _shared(memo)
    pods, templates = memo.watches
    while not (pods.synced.is_set() and templates.synced.is_set()):
        if stopped:
            return
        await asyncio.sleep(SYNC_CHECK)  # an empty cache would read as "no pods"
    loop = HaLoop(
        memo.kube,
        body,
        pods.cache,
        templates.cache,
        memo.api_health,
        memo.agent_session,
        memo.ha_api_pool,
        cluster_logger(body["metadata"].get("namespace"), body["metadata"]["name"], component="ha"),
        memo.fast_steps,
    )
    memo.ha_loops[loop.key] = loop
    loop.log.info("ha loop started")
    try:
        await loop.run(stopped)
    finally:
        if memo.ha_loops.get(loop.key) is loop:
            del memo.ha_loops[loop.key]
        loop.log.info("ha loop stopped")


@kopf.on.event(*CR, id="ha-wake")
async def ha_wake(namespace: str | None, name: str | None, memo: kopf.Memo, **_: Any) -> None:
    loop = (getattr(memo, "ha_loops", None) or {}).get((namespace or "", name or ""))
    if loop is not None:
        loop.notify()


@kopf.on.cleanup(id="close-agent-session")
async def close_agent_session(memo: kopf.Memo, **_: Any) -> None:
    session = getattr(memo, "agent_session", None)
    if session is not None:
        await session.close()
    pool = getattr(memo, "ha_api_pool", None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
    for reflector in getattr(memo, "watches", ()):
        reflector.stop()
