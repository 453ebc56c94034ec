"""kopf registration of the HA loop: one daemon per ZenithCluster, fed by watch caches.

Importing this module registers the daemon, the two indices it reads (pods and
StatefulSet templates, cache.py), the event handler that wakes a loop when its cluster's
settings change, and the clean-up of the shared agent session and API threads. The
loop itself lives in `ha_loop.py`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import kopf

from zenith_operator import naming
from zenith_operator.controller.api_health import ApiHealth
from zenith_operator.controller.cache import Key, pod_entry, revision_entry
from zenith_operator.controller.fast_steps import FastSteps
from zenith_operator.controller.ha_loop import HaLoop
from zenith_operator.controller.logs import cluster_logger
from zenith_operator.controller.observe import PodInfo
from zenith_operator.controller.reconcile_kube import Kube

CR = (naming.GROUP, naming.VERSION, naming.PLURAL)
AGENT_POOL_LIMIT = 512  # connections in use at once, all agents together
AGENT_POOL_PER_AGENT = 4
AGENT_KEEPALIVE = 60.0  # idle keep-alive per agent; longer than common polling intervals
API_THREADS = 8  # the HA loops' API writes (status, labels, deletes), all clusters together


@kopf.index("", "v1", "pods", id="zenith_pods")
async def zenith_pods(
    namespace: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any
) -> dict[Key, PodInfo]:
    """The pod's entry; a change the HA loop cares about wakes its cluster's loop."""
    entry = pod_entry(namespace, body)
    loops = getattr(memo, "ha_loops", None) or {}
    for key, pod in entry.items():
        loop = loops.get(key)
        if loop is not None:
            loop.pod_changed(pod)
    return entry


@kopf.index("apps", "v1", "statefulsets", id="zenith_templates")
async def zenith_templates(namespace: str | None, body: kopf.Body, **_: Any) -> dict[Key, str]:
    return revision_entry(namespace, body)


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


@kopf.daemon(*CR, id="ha-loop", cancellation_timeout=10.0)
async def ha_loop(
    body: kopf.Body,
    stopped: Any,
    memo: kopf.Memo,
    **kwargs: Any,  # the indices, by their ids
) -> None:
    _shared(memo)
    loop = HaLoop(
        memo.kube,
        body,
        kwargs["zenith_pods"],
        kwargs["zenith_templates"],
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
