"""kopf registration of the HA loop: one daemon per ZenithCluster.

Importing this module only registers the daemon (run.py imports it); the loop itself
lives in `ha_loop.py`.
"""

from __future__ import annotations

from typing import Any

import kopf

from zenith_operator import naming
from zenith_operator.controller.ha_loop import HaLoop
from zenith_operator.controller.logs import cluster_logger
from zenith_operator.controller.reconcile_kube import Kube


@kopf.daemon(
    naming.GROUP,
    naming.VERSION,
    naming.PLURAL,
    id="ha-loop",
    cancellation_timeout=10.0,
)
async def ha_loop(
    name: str | None, namespace: str | None, stopped: Any, memo: kopf.Memo, **_: Any
) -> None:
    if not hasattr(memo, "kube"):
        memo.kube = Kube.from_environment()
    log = cluster_logger(namespace, name, component="ha")
    log.info("ha loop started")
    loop = HaLoop(memo.kube, namespace or "default", name or "", log)
    memo.ha_poke = loop.poke  # per-object memo: the update handler wakes this loop
    try:
        await loop.run(stopped)
    finally:
        memo.ha_poke = None
    log.info("ha loop stopped")
