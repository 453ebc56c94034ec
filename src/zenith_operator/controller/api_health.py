"""Whether the Kubernetes API answers, as seen by the HA loops of one operator process.

The HA loops read from watch-fed caches, so at steady state they never call the API and
cannot notice it is away; a failed or slow write tells them (`failed`). While the API is
away, the loops renew the active's lease from their cached view and change nothing else;
one shared probe (`GET /version`, at most every `probe_every` seconds, in the background)
tells them when it is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from zenith_operator.controller.reconcile_kube import Kube, KubeError, is_unreachable

PROBE_EVERY = 1.0
PROBE_TIMEOUT = 2.0


class ApiHealth:
    def __init__(
        self,
        probe: Callable[[], object],
        clock: Callable[[], float] = time.monotonic,
        probe_every: float = PROBE_EVERY,
    ) -> None:
        self._probe_fn = probe
        self.clock = clock
        self.probe_every = probe_every
        self.away_since: float | None = None
        self.reason = ""
        self._probe: asyncio.Task[None] | None = None
        self._probed_at = float("-inf")

    @classmethod
    def for_kube(cls, kube: Kube) -> ApiHealth:
        short = kube.with_timeout(PROBE_TIMEOUT)
        return cls(lambda: short.request("GET", "/version"))

    @property
    def away(self) -> bool:
        """True from a failed write until the probe gets an answer again."""
        if self.away_since is not None:
            self._maybe_probe()
        return self.away_since is not None

    def failed(self, error: BaseException | str) -> None:
        """Record a failed call; only 'no answer'-kind errors mean the API is away."""
        if isinstance(error, BaseException) and not is_unreachable(error):
            return
        if self.away_since is None:
            self.away_since = self.clock()
            self.reason = str(error)

    def ok(self) -> None:
        self.away_since = None
        self.reason = ""

    def _maybe_probe(self) -> None:
        if self._probe is not None and not self._probe.done():
            return
        now = self.clock()
        if now - self._probed_at < self.probe_every:
            return
        self._probed_at = now
        self._probe = asyncio.get_running_loop().create_task(self._run_probe())

    async def _run_probe(self) -> None:
        try:
            await asyncio.to_thread(self._probe_fn)
        except KubeError as exc:
            if is_unreachable(exc):
                return
        except Exception:  # anything else: still away, try again later
            return
        self.ok()
